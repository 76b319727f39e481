import { expect } from 'aegir/chai'
import { keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  abandonTasks, assignTasks, expireTask, getNode, getSession, getTask, hubDomain, reassignMiner, recoverPrecommitSigner, requestUnstake, settleBatch,
  signPrecommit, signReplayVerdict, heartbeat, signReveal, slashEquivocation, slashReplayFailure, submitTask, withdrawEarnings, addOracle,
  VERDICT_FAULTY, VERDICT_HONEST, VERDICT_MISSED, getLeader, DEFAULT_HEARTBEAT_TIMEOUT_S
} from '../../contracts/index.ts'
import { expectRule, openSession, PARAMS, PROMPT, registerMiners, SESSION, startFixture } from './fixture.ts'
import type { Fixture, Wallet } from './fixture.ts'
import type { MinerVerdict } from '../../contracts/index.ts'
import type { Address, Hex } from 'viem'

const PRICE = SESSION.pricePerTokenWei
const MAX_TOKENS = 100

describe('contracts: task queue, settlement and fraud proofs', function () {
  let f: Fixture
  let snap: Hex

  before(async function () {
    f = await startFixture({ precommitWindowS: 120, settleTimeoutS: 1800, queueTimeoutS: 300 })
    await registerMiners(f, 4)
  })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  async function advance (seconds: number): Promise<void> {
    await f.increaseTime(seconds)
    await heartbeat(f.oracle, { hub: f.hub })
  }

  const addrs = (ws: Wallet[]): Address[] => ws.map(w => w.account.address)

  async function queued (sessionId?: bigint): Promise<{ sessionId: bigint, taskId: bigint }> {
    sessionId ??= await openSession(f)
    const { taskId } = await submitTask(f.user, { hub: f.hub, sessionId, promptDigest: PROMPT, maxTokens: MAX_TOKENS, paramsDigest: PARAMS })
    return { sessionId, taskId }
  }

  async function assigned (miners = f.miners.slice(0, 3)): Promise<{ sessionId: bigint, taskId: bigint }> {
    const t = await queued()
    await assignTasks(f.oracle, { hub: f.hub, assignments: [{ taskId: t.taskId, miners: addrs(miners) }] })
    return t
  }

  async function honest (w: Wallet, taskId: bigint, tokens = 40, output = keccak256(toHex('out'))): Promise<MinerVerdict> {
    const salt = keccak256(toHex(`salt-${w.account.address}`))
    const precommitSignature = await signPrecommit(w.account, f.domain, { taskId, outputDigest: output, salt })
    return { miner: w.account.address, verdict: VERDICT_HONEST, tokens, onTime: true, outputDigest: output, salt, precommitSignature }
  }

  it('runs a full lifecycle: submit, assign, settle; pays honest miners and refunds the rest to the session', async function () {
    const { sessionId, taskId } = await assigned()
    expect((await getTask(f.user, { hub: f.hub, taskId })).status).to.equal('assigned')
    const [m0, m1, m2] = f.miners
    const faultySalt = keccak256(toHex('s2'))
    const faultyOut = keccak256(toHex('garbage'))
    const res = await settleBatch(f.oracle, {
      hub: f.hub,
      tasks: [{
        taskId,
        miners: [
          await honest(m0, taskId, 40),
          await honest(m1, taskId, 40),
          { miner: m2.account.address, verdict: VERDICT_FAULTY, outputDigest: faultyOut, salt: faultySalt, precommitSignature: await signPrecommit(m2.account, f.domain, { taskId, outputDigest: faultyOut, salt: faultySalt }) }
        ]
      }]
    })
    expect(res.settled).to.have.length(1)
    expect(res.settled[0].paidWei).to.equal(80n * PRICE)
    expect(res.settled[0].outputDigest).to.equal(keccak256(toHex('out')))
    expect((await getTask(f.user, { hub: f.hub, taskId })).status).to.equal('settled')
    const s = await getSession(f.user, { hub: f.hub, sessionId })
    expect(s.reservedWei).to.equal(0n)
    expect(s.availableWei).to.equal(10n ** 17n - 80n * PRICE)
    const n0 = await getNode(f.user, { hub: f.hub, node: m0.account.address })
    expect(n0).to.include({ earningsWei: 40n * PRICE, tasksDone: 1, onTime: 1, tasksFailed: 0 })
    expect(await getNode(f.user, { hub: f.hub, node: m2.account.address })).to.include({ earningsWei: 0n, tasksFailed: 1 })
    const before = await f.user.getBalance({ address: m0.account.address })
    const w = await withdrawEarnings(m0, { hub: f.hub })
    const after = await f.user.getBalance({ address: m0.account.address })
    expect(after - before + w.gasUsed * w.receipt.effectiveGasPrice).to.equal(40n * PRICE)
    // settled at most once
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [await honest(m0, taskId), await honest(m1, taskId), await honest(m2, taskId)] }] }), 'TaskAlreadySettled')
  })

  it('precommits signed with the node key verify off chain and on chain; forged and replayed ones are refused', async function () {
    const { taskId } = await assigned()
    const [m0, m1, m2] = f.miners
    const v0 = await honest(m0, taskId)
    expect(await recoverPrecommitSigner(f.domain, { taskId, outputDigest: v0.outputDigest!, salt: v0.salt! }, v0.precommitSignature!)).to.equal(m0.account.address)
    const rest = [await honest(m1, taskId), await honest(m2, taskId)]
    // forged: m0's report signed by another key
    const forger = privateKeyToAccount(`0x${'ab'.repeat(32)}`)
    const forged = { ...v0, precommitSignature: await signPrecommit(forger, f.domain, { taskId, outputDigest: v0.outputDigest!, salt: v0.salt! }) }
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [forged, ...rest] }] }), 'InvalidPrecommitSignature')
    // reveal does not match the signed precommit
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [{ ...v0, outputDigest: keccak256(toHex('other')) }, ...rest] }] }), 'InvalidPrecommitSignature')
    // replayed: a valid signature for another task, or for another deployment (domain)
    const { taskId: other } = await assigned()
    const replayed = await honest(m0, other)
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [replayed, ...rest] }] }), 'InvalidPrecommitSignature')
    const foreign = { ...v0, precommitSignature: await signPrecommit(m0.account, hubDomain(f.anvil.chainId + 1, f.hub), { taskId, outputDigest: v0.outputDigest!, salt: v0.salt! }) }
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [foreign, ...rest] }] }), 'InvalidPrecommitSignature')
    // the oracle cannot pay a miner that was not assigned, even with its signature
    const outsider = await honest(f.miners[3], taskId)
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [outsider, ...rest] }] }), 'AssignmentMismatch')
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: rest }] }), 'MalformedBatch')
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [{ ...v0, tokens: MAX_TOKENS + 1 }, ...rest] }] }), 'TokensExceedMax')
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [{ ...v0, verdict: 3 }, ...rest] }] }), 'InvalidVerdict')
    await expectRule(settleBatch(f.miners[0], { hub: f.hub, tasks: [{ taskId, miners: [v0, ...rest] }] }), 'NotLeader')
    // the untouched reports still settle
    await settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [v0, ...rest] }] })
  })

  it('settles many tasks in one transaction and refuses unassigned ones', async function () {
    const sessionId = await openSession(f)
    const ids: bigint[] = []
    for (let i = 0; i < 5; i++) { ids.push((await queued(sessionId)).taskId) }
    const miners = addrs(f.miners.slice(0, 3))
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId: ids[0], miners: [] }] }), 'TaskNotAssigned')
    await assignTasks(f.oracle, { hub: f.hub, assignments: ids.map(taskId => ({ taskId, miners })) })
    const tasks = await Promise.all(ids.map(async taskId => ({ taskId, miners: await Promise.all(f.miners.slice(0, 3).map(async m => honest(m, taskId, 10))) })))
    const res = await settleBatch(f.oracle, { hub: f.hub, tasks })
    expect(res.settled.map(s => s.taskId)).to.deep.equal(ids)
    expect((await getNode(f.user, { hub: f.hub, node: miners[0] })).tasksDone).to.equal(5)
    expect((await getSession(f.user, { hub: f.hub, sessionId })).availableWei).to.equal(10n ** 17n - 5n * 30n * PRICE)
  })

  it('settles a task once even within one batch; a batch across sessions conserves each deposit; a settled task stays slashable', async function () {
    const a = await openSession(f)
    const b = await openSession(f)
    const ids = [(await queued(a)).taskId, (await queued(b)).taskId, (await queued(a)).taskId]
    const miners = addrs(f.miners.slice(0, 3))
    await assignTasks(f.oracle, { hub: f.hub, assignments: ids.map(taskId => ({ taskId, miners })) })
    const tasks = await Promise.all(ids.map(async taskId => ({ taskId, miners: await Promise.all(f.miners.slice(0, 3).map(async m => honest(m, taskId, 10))) })))
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [tasks[0], tasks[1], tasks[0]] }), 'TaskAlreadySettled')
    const res = await settleBatch(f.oracle, { hub: f.hub, tasks })
    expect(res.settled.map(s => [s.taskId, s.paidWei])).to.deep.equal(ids.map(id => [id, 30n * PRICE]))
    expect(await getSession(f.user, { hub: f.hub, sessionId: a })).to.include({ reservedWei: 0n, availableWei: 10n ** 17n - 60n * PRICE })
    expect(await getSession(f.user, { hub: f.hub, sessionId: b })).to.include({ reservedWei: 0n, availableWei: 10n ** 17n - 30n * PRICE })
    for (const taskId of ids) { expect((await getTask(f.user, { hub: f.hub, taskId })).status).to.equal('settled') }
    await expectRule(settleBatch(f.oracle, { hub: f.hub, tasks: [tasks[1]] }), 'TaskAlreadySettled')
    await expectRule(expireTask(f.outsider, { hub: f.hub, taskId: ids[0] }), 'TaskNotOpen')
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId: ids[0], current: miners, index: 0, replacement: f.miners[3].account.address }), 'TaskNotAssigned')
    // fraud proofs outlive settlement: the task's slot is gone but the task is still known
    const [m0] = f.miners
    const v = tasks[0].miners[0]
    const other = keccak256(toHex('other'))
    const reveal = { outputDigest: other, salt: v.salt!, signature: await signReveal(m0.account, f.domain, { taskId: ids[0], outputDigest: other, salt: v.salt! }) }
    await slashEquivocation(f.oracle, { hub: f.hub, taskId: ids[0], miner: m0.account.address, precommit: { outputDigest: v.outputDigest!, salt: v.salt!, signature: v.precommitSignature! }, reveal })
    expect((await getNode(f.user, { hub: f.hub, node: m0.account.address })).stakeWei).to.equal(9n * 10n ** 15n)
  })

  it('assigns only eligible, distinct miners of the right count, only from the leader', async function () {
    const { taskId } = await queued()
    const [m0, m1, m2, m3] = addrs(f.miners)
    const a = (miners: Address[]): { hub: Address, assignments: Array<{ taskId: bigint, miners: Address[] }> } => ({ hub: f.hub, assignments: [{ taskId, miners }] })
    await expectRule(assignTasks(f.user, a([m0, m1, m2])), 'NotLeader')
    await expectRule(assignTasks(f.oracle, a([m0, m1])), 'WrongMinerCount')
    await expectRule(assignTasks(f.oracle, a([m0, m1, m1])), 'DuplicateMiner')
    await expectRule(assignTasks(f.oracle, a([m0, m1, f.outsider.account.address])), 'MinerNotEligible')
    await requestUnstake(f.miners[3], { hub: f.hub })
    await expectRule(assignTasks(f.oracle, a([m0, m1, m3])), 'MinerNotEligible')
    await assignTasks(f.oracle, a([m0, m1, m2]))
    await expectRule(assignTasks(f.oracle, a([m0, m1, m2])), 'TaskNotQueued')
  })

  it('reassigns a miner who missed the precommit window', async function () {
    const { taskId } = await assigned()
    const current = addrs(f.miners.slice(0, 3))
    const replacement = f.miners[3].account.address
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId, current, index: 2, replacement }), 'DeadlineNotPassed')
    await advance(121)
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId, current: [current[1], current[0], current[2]], index: 2, replacement }), 'AssignmentMismatch')
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId, current, index: 3, replacement }), 'InvalidMinerIndex')
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId, current, index: 2, replacement: current[0] }), 'DuplicateMiner')
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId, current, index: 2, replacement: f.outsider.account.address }), 'MinerNotEligible')
    await expectRule(reassignMiner(f.oracle, { hub: f.hub, taskId: 999n, current, index: 2, replacement }), 'TaskNotAssigned')
    await reassignMiner(f.oracle, { hub: f.hub, taskId, current, index: 2, replacement })
    expect((await getNode(f.user, { hub: f.hub, node: current[2] })).missed).to.equal(1)
    const [m0, m1, , m3] = f.miners
    const missed: MinerVerdict = { miner: m3.account.address, verdict: VERDICT_MISSED }
    const res = await settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId, miners: [await honest(m0, taskId), await honest(m1, taskId), missed] }] })
    expect(res.settled[0].paidWei).to.equal(80n * PRICE)
    expect((await getNode(f.user, { hub: f.hub, node: m3.account.address })).tasksFailed).to.equal(1)
  })

  it('expires queued and assigned tasks after their deadlines and frees the deposit', async function () {
    const { sessionId, taskId } = await queued()
    await expectRule(expireTask(f.outsider, { hub: f.hub, taskId }), 'DeadlineNotPassed')
    await advance(301)
    const res = await expireTask(f.outsider, { hub: f.hub, taskId })
    expect(res.releasedWei).to.equal(BigInt(MAX_TOKENS) * PRICE * 3n)
    await expectRule(expireTask(f.outsider, { hub: f.hub, taskId }), 'TaskNotOpen')
    expect(await getSession(f.user, { hub: f.hub, sessionId })).to.include({ reservedWei: 0n, availableWei: 10n ** 17n })
    const t2 = await assigned()
    await advance(301)
    await expectRule(expireTask(f.outsider, { hub: f.hub, taskId: t2.taskId }), 'DeadlineNotPassed')
    await advance(1500)
    await expireTask(f.outsider, { hub: f.hub, taskId: t2.taskId })
    expect((await getTask(f.user, { hub: f.hub, taskId: t2.taskId })).status).to.equal('expired')
    await expectRule(getTask(f.user, { hub: f.hub, taskId: 999n }), 'UnknownTask')
  })

  it('the leader gives open tasks up at once with a reason, skipping settled ones; nobody else may', async function () {
    const q = await queued()
    const a = await assigned()
    const s = await assigned()
    await settleBatch(f.oracle, { hub: f.hub, tasks: [{ taskId: s.taskId, miners: await Promise.all(f.miners.slice(0, 3).map(async m => honest(m, s.taskId))) }] })
    await expectRule(abandonTasks(f.outsider, { hub: f.hub, tasks: [{ taskId: q.taskId, reason: 3 }] }), 'NotLeader')
    const res = await abandonTasks(f.oracle, { hub: f.hub, tasks: [{ taskId: q.taskId, reason: 3 }, { taskId: s.taskId, reason: 2 }, { taskId: a.taskId, reason: 7 }] })
    const cost = BigInt(MAX_TOKENS) * PRICE * 3n
    // before any deadline; the settled task is left as it was
    expect(res.abandoned).to.deep.equal([{ taskId: q.taskId, reason: 3, releasedWei: cost }, { taskId: a.taskId, reason: 7, releasedWei: cost }])
    for (const t of [q, a]) {
      expect((await getTask(f.user, { hub: f.hub, taskId: t.taskId })).status).to.equal('expired')
      expect(await getSession(f.user, { hub: f.hub, sessionId: t.sessionId })).to.include({ reservedWei: 0n, availableWei: 10n ** 17n })
    }
    expect((await getTask(f.user, { hub: f.hub, taskId: s.taskId })).status).to.equal('settled')
    // given up once: a second call changes nothing
    expect((await abandonTasks(f.oracle, { hub: f.hub, tasks: [{ taskId: q.taskId, reason: 3 }] })).abandoned).to.deep.equal([])
  })

  it('slashes a miner whose signed reveal contradicts its signed precommit, once', async function () {
    const { taskId } = await assigned()
    const [m0] = f.miners
    const out = keccak256(toHex('a'))
    const salt = keccak256(toHex('salt'))
    const precommit = { outputDigest: out, salt, signature: await signPrecommit(m0.account, f.domain, { taskId, outputDigest: out, salt }) }
    const sameReveal = { outputDigest: out, salt, signature: await signReveal(m0.account, f.domain, { taskId, outputDigest: out, salt }) }
    const other = keccak256(toHex('b'))
    const badReveal = { outputDigest: other, salt, signature: await signReveal(m0.account, f.domain, { taskId, outputDigest: other, salt }) }
    const miner = m0.account.address
    await expectRule(slashEquivocation(f.oracle, { hub: f.hub, taskId, miner, precommit, reveal: sameReveal }), 'NotContradictory')
    await expectRule(slashEquivocation(f.oracle, { hub: f.hub, taskId, miner, precommit: { ...precommit, outputDigest: other }, reveal: badReveal }), 'InvalidPrecommitSignature')
    // a precommit signature cannot pass as a reveal (distinct EIP-712 types)
    await expectRule(slashEquivocation(f.oracle, { hub: f.hub, taskId, miner, precommit, reveal: { ...badReveal, signature: await signPrecommit(m0.account, f.domain, { taskId, outputDigest: other, salt }) } }), 'InvalidRevealSignature')
    await expectRule(slashEquivocation(f.oracle, { hub: f.hub, taskId: 999n, miner, precommit, reveal: badReveal }), 'UnknownTask')
    await expectRule(slashEquivocation(f.user, { hub: f.hub, taskId, miner, precommit, reveal: badReveal }), 'NotLeader')
    await slashEquivocation(f.oracle, { hub: f.hub, taskId, miner, precommit, reveal: badReveal })
    expect((await getNode(f.user, { hub: f.hub, node: miner })).stakeWei).to.equal(9n * 10n ** 15n)
    await expectRule(slashEquivocation(f.oracle, { hub: f.hub, taskId, miner, precommit, reveal: badReveal }), 'AlreadySlashed')
  })

  it('slashes on a failed replay verdict signed by a quorum of oracles', async function () {
    const { taskId } = await assigned()
    await addOracle(f.owner, { hub: f.hub, oracle: f.oracle2.account.address })
    // oracle 2 only signs verdicts: let its first heartbeat lapse so f.oracle leads whatever the window
    // (with both live, the leader may rotate between the simulation and the mined transaction)
    await advance(DEFAULT_HEARTBEAT_TIMEOUT_S + 1)
    const [m0] = f.miners
    const miner = m0.account.address
    const out = keccak256(toHex('fabricated'))
    const salt = keccak256(toHex('salt'))
    const precommit = { outputDigest: out, salt, signature: await signPrecommit(m0.account, f.domain, { taskId, outputDigest: out, salt }) }
    const verdict = { taskId, miner, outputDigest: out, passed: false }
    const sigA = { oracle: f.oracle.account.address, signature: await signReplayVerdict(f.oracle.account, f.domain, verdict) }
    const sigB = { oracle: f.oracle2.account.address, signature: await signReplayVerdict(f.oracle2.account, f.domain, verdict) }
    const lw = f.oracle
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(lw.account.address)
    const p = { hub: f.hub, taskId, miner, precommit }
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: [sigA] }), 'QuorumNotReached')
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: [sigA, sigA] }), 'OracleSignersNotSorted')
    const passed = { oracle: f.oracle2.account.address, signature: await signReplayVerdict(f.oracle2.account, f.domain, { ...verdict, passed: true }) }
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: [sigA, passed] }), 'NotOracle')
    const notOracle = { oracle: f.outsider.account.address, signature: await signReplayVerdict(f.outsider.account, f.domain, verdict) }
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: [sigA, notOracle] }), 'NotOracle')
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: Array(17).fill(sigA) }), 'TooManySignatures')
    await expectRule(slashReplayFailure(lw, { ...p, precommit: { ...precommit, salt: out }, oracleSignatures: [sigA, sigB] }), 'InvalidPrecommitSignature')
    await expectRule(slashReplayFailure(lw, { ...p, taskId: 999n, oracleSignatures: [sigA, sigB] }), 'UnknownTask')
    await slashReplayFailure(lw, { ...p, oracleSignatures: [sigA, sigB] })
    expect((await getNode(f.user, { hub: f.hub, node: miner })).stakeWei).to.equal(9n * 10n ** 15n)
    // slashed below the minimum? still 9e15 ≥ 1e15: assignable; an unregistered address has nothing to slash
    await expectRule(slashReplayFailure(lw, { ...p, oracleSignatures: [sigA, sigB] }), 'AlreadySlashed')
    const stranger = privateKeyToAccount(`0x${'cd'.repeat(32)}`)
    const sp = { outputDigest: out, salt, signature: await signPrecommit(stranger, f.domain, { taskId, outputDigest: out, salt }) }
    const v2 = { ...verdict, miner: stranger.address }
    await expectRule(slashReplayFailure(lw, {
      hub: f.hub,
      taskId,
      miner: stranger.address,
      precommit: sp,
      oracleSignatures: [
        { oracle: f.oracle.account.address, signature: await signReplayVerdict(f.oracle.account, f.domain, v2) },
        { oracle: f.oracle2.account.address, signature: await signReplayVerdict(f.oracle2.account, f.domain, v2) }
      ]
    }), 'NothingToSlash')
  })
})
