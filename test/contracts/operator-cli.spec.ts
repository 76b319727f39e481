/**
 * The operator's money commands of the CLI against a real anvil chain: each
 * command runs as a child process (bin/cortensor.js) and the test reads the
 * chain afterwards (balances, the hub's node and session records).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { keccak256, toHex } from 'viem'
import { ANVIL_KEYS } from '../../contracts/anvil.ts'
import {
  assignTasks, getNode, getSession, settleBatch, signPrecommit, signReveal, slashEquivocation, submitTask, writeDeployment, VERDICT_FAULTY, VERDICT_HONEST
} from '../../contracts/index.ts'
import { runCli } from '../fixtures/cli.ts'
import { openSession, PARAMS, PROMPT, registerMiners, SESSION, startFixture } from './fixture.ts'
import type { Fixture, Wallet } from './fixture.ts'
import type { CliResult } from '../fixtures/cli.ts'
import type { Hash, Hex } from 'viem'

const PRICE = SESSION.pricePerTokenWei
const STAKE = 10n ** 16n
const HONEST_TOKENS = 40

describe('cli: operator commands (withdraw, stake add, status, session top-up) on a real chain', function () {
  this.timeout(120_000)
  let f: Fixture
  let dir: string
  let dep: string
  const keyFile: Record<string, string> = {}
  let slashedTask: bigint

  /** Run the CLI against the fixture's chain and deployment. */
  async function cli (...args: string[]): Promise<CliResult> {
    return runCli([...args, '--rpc', f.anvil.url, '--deployment', dep])
  }

  async function ok (...args: string[]): Promise<any> {
    const res = await cli(...args, '--json')
    expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(0)
    return JSON.parse(res.stdout)
  }

  function expectUsageError (res: CliResult, flag: string): void {
    expect(res.code, res.stderr).to.equal(2)
    expect(res.stderr.trim().split('\n').at(-1)).to.match(new RegExp(`^cortensor: ${flag.replace(/[<>-]/g, c => `\\${c}`)}: `))
    expect(res.stderr).to.not.include('    at ')
  }

  /** What a transaction cost its sender in gas. */
  async function gasCost (hash: Hash): Promise<bigint> {
    const receipt = await f.user.getTransactionReceipt({ hash })
    return receipt.gasUsed * receipt.effectiveGasPrice
  }

  before(async function () {
    f = await startFixture()
    await registerMiners(f, 3, STAKE)
    dir = await mkdtemp(join(tmpdir(), 'cortensor-operator-'))
    dep = join(dir, 'deployment.json')
    await writeDeployment(dep, { chainId: f.anvil.chainId, hub: f.hub, deployer: f.owner.account.address, blockNumber: 0, transactionHash: `0x${'00'.repeat(32)}`, config: f.config })
    for (const [name, i] of [['user', 3], ['m0', 4], ['m1', 5], ['m2', 6], ['outsider', 8]] as const) {
      keyFile[name] = join(dir, `${name}.key`)
      await writeFile(keyFile[name], `${ANVIL_KEYS[i]}\n`)
    }

    // one settled task: m0 and m1 honest (paid HONEST_TOKENS × price each), m2 faulty and then slashed for equivocation
    const sessionId = await openSession(f)
    const { taskId } = await submitTask(f.user, { hub: f.hub, sessionId, promptDigest: PROMPT, maxTokens: 100, paramsDigest: PARAMS })
    const [m0, m1, m2] = f.miners
    await assignTasks(f.oracle, { hub: f.hub, assignments: [{ taskId, miners: [m0, m1, m2].map(m => m.account.address) }] })
    const out = keccak256(toHex('out'))
    const report = async (w: Wallet, verdict: number, output: Hex, tokens = HONEST_TOKENS): Promise<any> => {
      const salt = keccak256(toHex(`salt-${w.account.address}`))
      const precommitSignature = await signPrecommit(w.account, f.domain, { taskId, outputDigest: output, salt })
      return { miner: w.account.address, verdict, tokens, onTime: true, outputDigest: output, salt, precommitSignature }
    }
    const faulty = await report(m2, VERDICT_FAULTY, keccak256(toHex('garbage')))
    await settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [await report(m0, VERDICT_HONEST, out), await report(m1, VERDICT_HONEST, out), faulty] }] })
    const other = keccak256(toHex('other'))
    await slashEquivocation(f.oracle, {
      hub: f.hub,
      taskId,
      miner: m2.account.address,
      precommit: { outputDigest: faulty.outputDigest, salt: faulty.salt, signature: faulty.precommitSignature },
      reveal: { outputDigest: other, salt: faulty.salt, signature: await signReveal(m2.account, f.domain, { taskId, outputDigest: other, salt: faulty.salt }) }
    })
    slashedTask = taskId
  })

  after(async function () {
    await f?.stop()
    if (dir != null) { await rm(dir, { recursive: true, force: true }) }
  })

  it('node status reads the node from the chain: stake, earnings, level, tasks by verdict, slashes', async function () {
    const m0 = await ok('node', 'status', '--key', keyFile.m0)
    expect(m0).to.include({
      node: f.miners[0].account.address,
      registered: true,
      stakeWei: String(STAKE),
      minStakeWei: String(f.config.minStakeWei),
      earningsWei: String(BigInt(HONEST_TOKENS) * PRICE),
      earningsWithdrawnWei: '0',
      level: 0,
      unstakeReadyAt: null,
      stakeWithdrawable: false
    })
    expect(m0.roles).to.deep.equal(['miner'])
    expect(m0.tasks).to.deep.equal({ honest: 1, faulty: 0, missed: 0, onTime: 1 })
    expect(m0.slashes).to.deep.equal([])
    expect(BigInt(m0.balanceWei)).to.equal(await f.user.getBalance({ address: f.miners[0].account.address }))

    // by address, no key needed: the faulty, slashed miner
    const m2 = await ok('node', 'status', '--address', f.miners[2].account.address)
    expect(m2.tasks).to.deep.equal({ honest: 0, faulty: 1, missed: 0, onTime: 0 })
    expect(m2.earningsWei).to.equal('0')
    expect(m2.stakeWei).to.equal(String(STAKE - STAKE / 10n))
    expect(m2.slashes).to.have.length(1)
    expect(m2.slashes[0]).to.include({ taskId: String(slashedTask), amountWei: String(STAKE / 10n), reason: 'equivocation' })

    // an address the hub has never seen
    const nobody = await ok('node', 'status', '--key', keyFile.outsider)
    expect(nobody).to.include({ registered: false, stakeWei: '0', earningsWei: '0' })
    expect(nobody.roles).to.deep.equal([])

    // the human form says the same
    const text = await cli('node', 'status', '--key', keyFile.m0)
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.include('registered: yes, as miner')
    expect(text.stdout).to.include('tasks:      1 honest, 0 faulty, 0 missed (1 on time)')
  })

  it('node withdraw pays the earnings out: balance up by them, earnings 0 on chain; a second withdraw has nothing to do', async function () {
    const address = f.miners[0].account.address
    const earned = BigInt(HONEST_TOKENS) * PRICE
    const before = await f.user.getBalance({ address })
    const res = await ok('node', 'withdraw', '--key', keyFile.m0)
    expect(res).to.include({ node: address, earningsWei: String(earned), stakeWei: '0', unregistered: false })
    expect(res.transactions).to.have.length(1)
    const after = await f.user.getBalance({ address })
    expect(after - before + await gasCost(res.transactions[0])).to.equal(earned)
    expect(BigInt(res.balanceWei)).to.equal(after)
    const node = await getNode(f.user, { hub: f.hub, node: address })
    expect(node.earningsWei).to.equal(0n)
    expect(node).to.include({ registered: true, stakeWei: STAKE })

    const again = await cli('node', 'withdraw', '--key', keyFile.m0)
    expect(again.code, again.stderr).to.equal(1)
    expect(again.stderr).to.match(/^cortensor: nothing to withdraw for 0x[0-9a-fA-F]{40}: no earnings\n$/)
    expect(await f.user.getBalance({ address })).to.equal(after)

    expect((await ok('node', 'status', '--key', keyFile.m0)).earningsWithdrawnWei).to.equal(String(earned))
  })

  it('node stake add raises the stake on chain by the amount', async function () {
    const address = f.miners[1].account.address
    const res = await ok('node', 'stake', 'add', '0.005eth', '--key', keyFile.m1)
    expect(res).to.include({ node: address, addedWei: String(5n * 10n ** 15n), stakeWei: String(STAKE + 5n * 10n ** 15n) })
    expect((await getNode(f.user, { hub: f.hub, node: address })).stakeWei).to.equal(STAKE + 5n * 10n ** 15n)
    const wei = await ok('node', 'stake', 'add', '1000', '--key', keyFile.m1)
    expect(wei.stakeWei).to.equal(String(STAKE + 5n * 10n ** 15n + 1000n))
    expect((await getNode(f.user, { hub: f.hub, node: address })).stakeWei).to.equal(STAKE + 5n * 10n ** 15n + 1000n)

    // an unregistered key: the hub's rule, exit code 1
    const outsider = await cli('node', 'stake', 'add', '1000', '--key', keyFile.outsider)
    expect(outsider.code).to.equal(1)
    expect(outsider.stderr).to.include('is not registered (NotRegistered)')
  })

  it('session top-up raises the session\'s deposit on chain by the amount, from the owner or anyone', async function () {
    const sessionId = await openSession(f)
    const before = (await getSession(f.user, { hub: f.hub, sessionId })).availableWei
    const res = await ok('session', 'top-up', String(sessionId), '0.02eth', '--key', keyFile.user)
    expect(res).to.include({ sessionId: String(sessionId), addedWei: String(2n * 10n ** 16n), availableWei: String(before + 2n * 10n ** 16n) })
    expect((await getSession(f.user, { hub: f.hub, sessionId })).availableWei).to.equal(before + 2n * 10n ** 16n)
    await ok('session', 'top-up', String(sessionId), '7', '--key', keyFile.outsider)
    expect((await getSession(f.user, { hub: f.hub, sessionId })).availableWei).to.equal(before + 2n * 10n ** 16n + 7n)

    const unknown = await cli('session', 'top-up', '999', '1', '--key', keyFile.user)
    expect(unknown.code).to.equal(1)
    expect(unknown.stderr).to.include('session 999 does not exist (UnknownSession)')
  })

  it('node withdraw takes the stake too once an unstake request has passed its cooldown, and unregisters the node', async function () {
    const address = f.miners[1].account.address
    const stake = (await getNode(f.user, { hub: f.hub, node: address })).stakeWei
    const earned = BigInt(HONEST_TOKENS) * PRICE
    const unregister = await cli('node', 'unregister', '--key', keyFile.m1)
    expect(unregister.code, unregister.stderr).to.equal(0)
    // cooldown running: the earnings come out, the stake stays
    const early = await ok('node', 'withdraw', '--key', keyFile.m1)
    expect(early).to.include({ earningsWei: String(earned), stakeWei: '0', unregistered: false })
    expect(await getNode(f.user, { hub: f.hub, node: address })).to.include({ registered: true, stakeWei: stake, earningsWei: 0n })
    const waiting = await cli('node', 'withdraw', '--key', keyFile.m1)
    expect(waiting.code).to.equal(1)
    expect(waiting.stderr).to.match(/nothing to withdraw for .*: no earnings; the stake unlocks at \d{4}-\d\d-\d\dT/)
    expect((await ok('node', 'status', '--key', keyFile.m1)).stakeWithdrawable).to.equal(false)

    await f.increaseTime(f.config.unstakeCooldownS + 1)
    expect((await ok('node', 'status', '--key', keyFile.m1)).stakeWithdrawable).to.equal(true)
    const before = await f.user.getBalance({ address })
    const res = await ok('node', 'withdraw', '--key', keyFile.m1)
    expect(res).to.include({ earningsWei: '0', stakeWei: String(stake), unregistered: true })
    expect(res.transactions).to.have.length(1)
    expect(await f.user.getBalance({ address }) - before + await gasCost(res.transactions[0])).to.equal(stake)
    expect(await getNode(f.user, { hub: f.hub, node: address })).to.include({ registered: false, stakeWei: 0n })
  })

  it('answers bad input with exit code 2 and a message naming the flag or argument', async function () {
    // the refusals are independent (none reaches the chain's state): their processes run at once
    const cases: Array<[Promise<CliResult>, string]> = [
      [cli('node', 'stake', 'add', 'lots', '--key', keyFile.m0), '<amount>'],
      [cli('node', 'stake', 'add', '0', '--key', keyFile.m0), '<amount>'],
      [runCli(['node', 'stake', 'add', '--rpc', f.anvil.url, '--deployment', dep, '--key', keyFile.m0, '--', '-1eth']), '<amount>'],
      [cli('node', 'stake', 'add', '1'), '--key'],
      [cli('session', 'top-up', 'abc', '1', '--key', keyFile.user), '<id>'],
      [cli('session', 'top-up', '1', '0.1 ether', '--key', keyFile.user), '<amount>'],
      [cli('node', 'status', '--address', '0x1234'), '--address'],
      [cli('node', 'status', '--address', f.miners[0].account.address, '--key', keyFile.m0), '--address'],
      [cli('node', 'status'), '--key'],
      [cli('node', 'withdraw', '--key', join(dir, 'missing.key')), '--key'],
      [runCli(['node', 'withdraw', '--rpc', 'not a url', '--key', keyFile.m0, '--deployment', dep]), '--rpc'],
      [runCli(['node', 'status', '--rpc', f.anvil.url, '--key', keyFile.m0, '--deployment', join(dir, 'none.json')]), '--deployment']
    ]
    for (const [result, flag] of cases) {
      expectUsageError(await result, flag)
    }
    // commander's own: a missing argument
    const missing = await cli('session', 'top-up', '1', '--key', keyFile.user)
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.include('missing required argument \'amount\'')
  })
})
