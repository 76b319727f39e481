import { expect } from 'aegir/chai'
import { closeSession, createSession, getSession, submitTask, topUpSession } from '../../contracts/index.ts'
import { expectRule, openSession, PARAMS, PROMPT, SESSION, startFixture } from './fixture.ts'
import type { Fixture } from './fixture.ts'
import type { Hex } from 'viem'

describe('contracts: sessions and deposits', function () {
  let f: Fixture
  let snap: Hex

  before(async function () { f = await startFixture() })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  it('creates a session with Cortensor parameters and a deposit', async function () {
    const id = await openSession(f, 1000n)
    const s = await getSession(f.user, { hub: f.hub, sessionId: id })
    expect(s).to.include({ owner: f.user.account.address, availableWei: 1000n, reservedWei: 0n, redundancy: 3, minMiners: 1, maxMiners: 5, slaClass: 1, maxTasks: 1000, closed: false })
    expect(s.pricePerTokenWei).to.equal(SESSION.pricePerTokenWei)
  })

  it('refuses invalid parameters by rule', async function () {
    const p = { hub: f.hub, ...SESSION, depositWei: 0n }
    await expectRule(createSession(f.user, { ...p, modelId: `0x${'0'.repeat(64)}` }), 'InvalidModel')
    await expectRule(createSession(f.user, { ...p, redundancy: 6 }), 'InvalidRedundancy')
    await expectRule(createSession(f.user, { ...p, minMiners: 0 }), 'InvalidRedundancy')
    await expectRule(createSession(f.user, { ...p, maxMiners: 17, redundancy: 3 }), 'InvalidRedundancy')
    await expectRule(createSession(f.user, { ...p, validationMode: 3 }), 'InvalidValidationMode')
    await expectRule(createSession(f.user, { ...p, slaClass: 4 }), 'InvalidSlaClass')
    await expectRule(createSession(f.user, { ...p, reservePeriodS: 0 }), 'InvalidReservePeriod')
    await expectRule(createSession(f.user, { ...p, maxTasks: 0 }), 'InvalidMaxTasks')
    await expectRule(createSession(f.user, { ...p, pricePerTokenWei: 0n }), 'InvalidPrice')
  })

  it('tops up from anyone; refuses zero, unknown and closed sessions', async function () {
    const id = await openSession(f, 1000n)
    await topUpSession(f.outsider, { hub: f.hub, sessionId: id, amountWei: 500n })
    expect((await getSession(f.user, { hub: f.hub, sessionId: id })).availableWei).to.equal(1500n)
    await expectRule(topUpSession(f.user, { hub: f.hub, sessionId: id, amountWei: 0n }), 'ZeroValue')
    await expectRule(topUpSession(f.user, { hub: f.hub, sessionId: 99n, amountWei: 1n }), 'UnknownSession')
    await closeSession(f.user, { hub: f.hub, sessionId: id })
    await expectRule(topUpSession(f.user, { hub: f.hub, sessionId: id, amountWei: 1n }), 'SessionIsClosed')
    await expectRule(getSession(f.user, { hub: f.hub, sessionId: 99n }), 'UnknownSession')
  })

  it('closes and refunds the unspent deposit to the owner only', async function () {
    const id = await openSession(f, 10n ** 15n)
    await expectRule(closeSession(f.outsider, { hub: f.hub, sessionId: id }), 'NotSessionOwner')
    const before = await f.user.getBalance({ address: f.user.account.address })
    const res = await closeSession(f.user, { hub: f.hub, sessionId: id })
    const after = await f.user.getBalance({ address: f.user.account.address })
    expect(res.refundWei).to.equal(10n ** 15n)
    expect(after - before + res.gasUsed * res.receipt.effectiveGasPrice).to.equal(10n ** 15n)
    await expectRule(closeSession(f.user, { hub: f.hub, sessionId: id }), 'SessionIsClosed')
  })

  it('a session with too little deposit cannot take a task; open tasks block closing', async function () {
    // 100 tokens × 1 gwei × 3 miners = 3e11 wei per task
    const id = await openSession(f, 3n * 10n ** 11n + 1n)
    const task = { hub: f.hub, sessionId: id, promptDigest: PROMPT, maxTokens: 100, paramsDigest: PARAMS }
    const { reservedWei } = await submitTask(f.user, task)
    expect(reservedWei).to.equal(3n * 10n ** 11n)
    const err = await expectRule(submitTask(f.user, task), 'InsufficientDeposit')
    expect(err.message).to.include('needs 300000000000 wei')
    await expectRule(closeSession(f.user, { hub: f.hub, sessionId: id }), 'SessionHasOpenTasks')
  })

  it('enforces owner, reserve period, task limit and task inputs at submit', async function () {
    const id = await openSession(f, 10n ** 17n, { maxTasks: 1, reservePeriodS: 600 })
    const task = { hub: f.hub, sessionId: id, promptDigest: PROMPT, maxTokens: 10, paramsDigest: PARAMS }
    await expectRule(submitTask(f.outsider, task), 'NotSessionOwner')
    await expectRule(submitTask(f.user, { ...task, maxTokens: 0 }), 'InvalidMaxTokens')
    await expectRule(submitTask(f.user, { ...task, promptDigest: `0x${'0'.repeat(64)}` }), 'InvalidPromptDigest')
    await expectRule(submitTask(f.user, { ...task, sessionId: 42n }), 'UnknownSession')
    const { taskId, seed } = await submitTask(f.user, task)
    expect(taskId).to.equal(1n)
    expect(seed > 0n).to.equal(true)
    await expectRule(submitTask(f.user, task), 'SessionTaskLimit')
    const id2 = await openSession(f, 10n ** 17n, { reservePeriodS: 600 })
    await f.increaseTime(601)
    await expectRule(submitTask(f.user, { ...task, sessionId: id2 }), 'SessionExpired')
  })
})
