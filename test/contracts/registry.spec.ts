import { expect } from 'aegir/chai'
import {
  addStake, getNode, registerNode, requestUnstake, withdrawEarnings, withdrawStake, ROLE_MINER, ROLE_ROUTER
} from '../../contracts/index.ts'
import { expectRule, MODEL, startFixture } from './fixture.ts'
import type { Fixture } from './fixture.ts'
import type { Hex } from 'viem'

describe('contracts: node registry', function () {
  let f: Fixture
  let snap: Hex

  before(async function () { f = await startFixture({ unstakeCooldownS: 3600 }) })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  it('registers a miner with stake, roles, hardware class and models', async function () {
    const [m] = f.miners
    await registerNode(m, { hub: f.hub, roles: ROLE_MINER | ROLE_ROUTER, hardwareClass: 2, models: [MODEL], stakeWei: 10n ** 16n })
    const n = await getNode(f.user, { hub: f.hub, node: m.account.address })
    expect(n).to.include({ registered: true, stakeWei: 10n ** 16n, roles: 5, hardwareClass: 2, level: 0, tasksDone: 0 })
    expect(n.models).to.deep.equal([MODEL])
  })

  it('refuses bad registrations by rule', async function () {
    const [m] = f.miners
    const base = { hub: f.hub, roles: ROLE_MINER, hardwareClass: 1, models: [MODEL], stakeWei: 10n ** 16n }
    await expectRule(registerNode(m, { ...base, roles: 0 }), 'InvalidRoles')
    await expectRule(registerNode(m, { ...base, roles: 16 }), 'InvalidRoles')
    await expectRule(registerNode(m, { ...base, models: [] }), 'NoModels')
    await expectRule(registerNode(m, { ...base, models: Array.from({ length: 9 }, (_, i) => `0x${(i + 1).toString(16).padStart(64, '0')}` as Hex) }), 'TooManyModels')
    await expectRule(registerNode(m, { ...base, models: [`0x${'0'.repeat(64)}`] }), 'InvalidModel')
    const err = await expectRule(registerNode(m, { ...base, stakeWei: 1n }), 'StakeTooLow')
    expect(err.message).to.include('below the minimum')
    await registerNode(m, base)
    await expectRule(registerNode(m, base), 'AlreadyRegistered')
  })

  it('adds stake; refuses zero and unregistered', async function () {
    const [m, m2] = f.miners
    await registerNode(m, { hub: f.hub, roles: ROLE_MINER, hardwareClass: 1, models: [MODEL], stakeWei: 10n ** 16n })
    await addStake(m, { hub: f.hub, amountWei: 5n })
    expect((await getNode(f.user, { hub: f.hub, node: m.account.address })).stakeWei).to.equal(10n ** 16n + 5n)
    await expectRule(addStake(m, { hub: f.hub, amountWei: 0n }), 'ZeroValue')
    await expectRule(addStake(m2, { hub: f.hub, amountWei: 5n }), 'NotRegistered')
  })

  it('unstakes only after the cooldown and returns the stake', async function () {
    const [m] = f.miners
    await expectRule(requestUnstake(m, { hub: f.hub }), 'NotRegistered')
    await expectRule(withdrawStake(m, { hub: f.hub }), 'NotRegistered')
    await registerNode(m, { hub: f.hub, roles: ROLE_MINER, hardwareClass: 1, models: [MODEL], stakeWei: 10n ** 16n })
    await expectRule(withdrawStake(m, { hub: f.hub }), 'UnstakeNotRequested')
    const { readyAt } = await requestUnstake(m, { hub: f.hub })
    await expectRule(requestUnstake(m, { hub: f.hub }), 'UnstakePending')
    await expectRule(addStake(m, { hub: f.hub, amountWei: 1n }), 'UnstakePending')
    await expectRule(withdrawStake(m, { hub: f.hub }), 'CooldownNotOver')
    await f.increaseTime(3601)
    const before = await f.user.getBalance({ address: m.account.address })
    const res = await withdrawStake(m, { hub: f.hub })
    expect(res.amountWei).to.equal(10n ** 16n)
    const after = await f.user.getBalance({ address: m.account.address })
    expect(after - before + res.gasUsed * res.receipt.effectiveGasPrice).to.equal(10n ** 16n)
    expect(readyAt > 0n).to.equal(true)
    const n = await getNode(f.user, { hub: f.hub, node: m.account.address })
    expect(n.registered).to.equal(false)
    expect(n.models).to.deep.equal([])
    // can register again afterwards
    await registerNode(m, { hub: f.hub, roles: ROLE_MINER, hardwareClass: 1, models: [MODEL], stakeWei: 10n ** 16n })
  })

  it('refuses to withdraw earnings when there are none', async function () {
    await expectRule(withdrawEarnings(f.miners[0], { hub: f.hub }), 'NothingToWithdraw')
  })
})
