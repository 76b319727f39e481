import { expect } from 'aegir/chai'
import { encodeAbiParameters, keccak256, toFunctionSelector, toHex } from 'viem'
import { readContract } from 'viem/actions'
import { SubmitBatcher } from '../../client/submit-batch.ts'
import { sendHub } from '../../contracts/actions/send.ts'
import { ANVIL_KEYS, createChainContext, cortensorHubAbi, getSession, getTask, MAX_SUBMIT_BATCH, submitTask, submitTasks } from '../../contracts/index.ts'
import { expectRule, openSession, PARAMS, PROMPT, startFixture } from './fixture.ts'
import type { Fixture } from './fixture.ts'
import type { ChainContext, SubmitTasksReturnType, TaskSubmission } from '../../contracts/index.ts'
import type { Hex } from 'viem'

const digest = (s: string): Hex => keccak256(toHex(s))
const tasksOf = (n: number, maxTokens = 10, tag = 'p'): TaskSubmission[] =>
  Array.from({ length: n }, (_, i) => ({ promptDigest: digest(`${tag}-${i}`), maxTokens: maxTokens + i, paramsDigest: digest(`params-${i}`) }))
/** 10 tokens × 1 gwei × redundancy 3, the fixture session's price of a 10-token task */
const TASK_WEI = 3n * 10n ** 10n

describe('contracts: submitTasks, many tasks of a session in one transaction', function () {
  let f: Fixture
  let snap: Hex

  before(async function () { f = await startFixture() })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  it('gives each task its own consecutive id, event, reservation and seed (prevrandao mixed with its id)', async function () {
    const id = await openSession(f)
    const first = await submitTask(f.user, { hub: f.hub, sessionId: id, promptDigest: PROMPT, maxTokens: 10, paramsDigest: PARAMS })
    const tasks = tasksOf(5)
    const res: SubmitTasksReturnType = await submitTasks(f.user, { hub: f.hub, sessionId: id, tasks })
    expect(res.tasks.map(t => t.taskId)).to.deep.equal([2n, 3n, 4n, 5n, 6n])
    expect(first.taskId).to.equal(1n)
    const events = res.logs.filter(l => l.eventName === 'TaskSubmitted')
    expect(events).to.have.length(5)
    const block = await f.user.getBlock({ blockNumber: res.receipt.blockNumber })
    for (const [i, t] of res.tasks.entries()) {
      const ev = events[i]
      if (ev.eventName !== 'TaskSubmitted') { throw new Error('not a TaskSubmitted event') }
      expect(ev.args).to.deep.include({ taskId: t.taskId, sessionId: id, promptDigest: tasks[i].promptDigest, paramsDigest: tasks[i].paramsDigest, maxTokens: tasks[i].maxTokens, seed: t.seed, reserved: t.reservedWei })
      expect(t.reservedWei).to.equal(BigInt(tasks[i].maxTokens) * 3n * 10n ** 9n)
      expect(t.seed).to.equal(BigInt(keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [BigInt(block.mixHash), t.taskId]))))
      const onChain = await getTask(f.user, { hub: f.hub, taskId: t.taskId })
      expect(onChain).to.include({ status: 'queued', maxTokens: tasks[i].maxTokens, sessionId: id })
    }
    expect(new Set(res.tasks.map(t => t.seed)).size).to.equal(5)
    const s = await getSession(f.user, { hub: f.hub, sessionId: id })
    const reserved = res.tasks.reduce((n, t) => n + t.reservedWei, first.reservedWei)
    expect(s.taskCount).to.equal(6)
    expect(s.reservedWei).to.equal(reserved)
    expect(s.availableWei).to.equal(10n ** 17n - reserved)
  })

  it('checks every task as submitTask does: one refused task refuses the batch and reserves nothing', async function () {
    const id = await openSession(f, 2n * TASK_WEI, { maxTasks: 3, reservePeriodS: 600 })
    const three = (overrides: Partial<TaskSubmission> = {}): TaskSubmission[] => [...tasksOf(1), { ...tasksOf(1)[0], ...overrides }, ...tasksOf(1)]
    const batch = { hub: f.hub, sessionId: id }
    await expectRule(submitTasks(f.user, { ...batch, tasks: three({ maxTokens: 0 }) }), 'InvalidMaxTokens')
    await expectRule(submitTasks(f.user, { ...batch, tasks: three({ promptDigest: `0x${'0'.repeat(64)}` }) }), 'InvalidPromptDigest')
    await expectRule(submitTasks(f.outsider, { ...batch, tasks: tasksOf(2) }), 'NotSessionOwner')
    await expectRule(submitTasks(f.user, { ...batch, sessionId: 42n, tasks: tasksOf(2) }), 'UnknownSession')
    // the deposit holds two 10-token tasks: the third is refused, and with it the first two
    const err = await expectRule(submitTasks(f.user, { ...batch, tasks: tasksOf(3, 10).map(t => ({ ...t, maxTokens: 10 })) }), 'InsufficientDeposit')
    expect(err.message).to.include(`needs ${TASK_WEI} wei for this task but has 0 wei available`)
    const s = await getSession(f.user, { hub: f.hub, sessionId: id })
    expect(s).to.include({ taskCount: 0, reservedWei: 0n, availableWei: 2n * TASK_WEI })
    expect(await readContract(f.user, { address: f.hub, abi: cortensorHubAbi, functionName: 'taskCount' })).to.equal(0n)
    // maxTasks 3: four tasks break the limit at the fourth
    const big = await openSession(f, 10n ** 17n, { maxTasks: 3 })
    await expectRule(submitTasks(f.user, { ...batch, sessionId: big, tasks: tasksOf(4) }), 'SessionTaskLimit')
    await f.increaseTime(601)
    await expectRule(submitTasks(f.user, { ...batch, tasks: tasksOf(1) }), 'SessionExpired')
  })

  it('refuses an empty batch, arrays of different lengths and more than MAX_SUBMIT_BATCH tasks; 100 tasks fit in an eighth of a 30M-gas block', async function () {
    this.timeout(60_000)
    expect(await readContract(f.user, { address: f.hub, abi: cortensorHubAbi, functionName: 'MAX_SUBMIT_BATCH' })).to.equal(BigInt(MAX_SUBMIT_BATCH))
    const id = await openSession(f, 10n ** 18n)
    await expectRule(submitTasks(f.user, { hub: f.hub, sessionId: id, tasks: [] }), 'EmptySubmitBatch')
    const err = await expectRule(sendHub(f.user, f.hub, 'submitTasks', [id, [PROMPT, PROMPT], [{ maxTokens: 10, paramsDigest: PARAMS }]]), 'SubmitBatchLengthMismatch')
    expect(err.message).to.include('2 prompt digests but 1 parameter sets')
    await expectRule(submitTasks(f.user, { hub: f.hub, sessionId: id, tasks: tasksOf(MAX_SUBMIT_BATCH + 1, 1) }), 'SubmitBatchTooLarge')
    const single = await submitTask(f.user, { hub: f.hub, sessionId: id, promptDigest: PROMPT, maxTokens: 10, paramsDigest: PARAMS })
    const full = await submitTasks(f.user, { hub: f.hub, sessionId: id, tasks: tasksOf(MAX_SUBMIT_BATCH, 1) })
    expect(full.tasks).to.have.length(MAX_SUBMIT_BATCH)
    expect(full.tasks[MAX_SUBMIT_BATCH - 1].taskId).to.equal(single.taskId + BigInt(MAX_SUBMIT_BATCH))
    // the cap's reason: a full batch (about 3.2M gas) stays within an eighth of a 30M-gas block
    expect(full.gasUsed < 30_000_000n / 8n, `${full.gasUsed} gas`).to.equal(true)
    // and a task in a batch costs less than one submitted alone
    expect(full.gasUsed / BigInt(MAX_SUBMIT_BATCH) < single.gasUsed, `${full.gasUsed / BigInt(MAX_SUBMIT_BATCH)} vs ${single.gasUsed}`).to.equal(true)
  })
})

describe('client: submissions made together share a transaction (real chain)', function () {
  let f: Fixture
  let snap: Hex

  before(async function () { f = await startFixture() })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  /** the SDK's chain context on the fixture user's key (ANVIL_KEYS[3]): one nonce queue */
  const chainOf = async (f: Fixture): Promise<ChainContext> => createChainContext({ rpcUrl: f.anvil.url, hub: f.hub, privateKey: ANVIL_KEYS[3], pollingIntervalMs: 50 })

  it('sends 12 concurrent submissions in fewer transactions than tasks, each task with its own id and seed', async function () {
    const id = await openSession(f)
    const batcher = new SubmitBatcher({ chain: await chainOf(f) })
    const tasks = tasksOf(12)
    const submitted = await Promise.all(tasks.map(async t => batcher.submit(id, t)))
    const hashes = new Set(submitted.map(s => s.hash))
    expect(hashes.size).to.be.lessThan(12)
    expect(batcher.stats).to.deep.equal({ transactions: hashes.size, tasks: 12 })
    expect(submitted.map(s => s.taskId).sort((a, b) => Number(a - b))).to.deep.equal(Array.from({ length: 12 }, (_, i) => BigInt(i + 1)))
    expect(new Set(submitted.map(s => s.seed)).size).to.equal(12)
    for (const [i, s] of submitted.entries()) {
      const onChain = await getTask(f.user, { hub: f.hub, taskId: s.taskId })
      expect(onChain.maxTokens).to.equal(tasks[i].maxTokens)
      expect(s.batchSize).to.equal(submitted.filter(o => o.hash === s.hash).length)
    }
  })

  it('gives a task the deposit cannot pay its own InsufficientDeposit; the others of its batch are submitted', async function () {
    // the deposit pays for exactly five 10-token tasks
    const id = await openSession(f, 5n * TASK_WEI)
    const batcher = new SubmitBatcher({ chain: await chainOf(f), batchMs: 50 })
    const tasks = tasksOf(8).map(t => ({ ...t, maxTokens: 10 }))
    const outcomes = await Promise.allSettled(tasks.map(async t => batcher.submit(id, t)))
    const ok = outcomes.flatMap(o => o.status === 'fulfilled' ? [o.value] : [])
    const failed = outcomes.flatMap(o => o.status === 'rejected' ? [o.reason] : [])
    // submitted in order: the first five are paid for, the last three refused one by one
    expect(outcomes.map(o => o.status)).to.deep.equal([...Array(5).fill('fulfilled'), ...Array(3).fill('rejected')])
    expect(ok.map(s => s.taskId)).to.deep.equal([1n, 2n, 3n, 4n, 5n])
    expect(failed.map(e => [e.name, e.rule])).to.deep.equal(Array(3).fill(['ContractRuleError', 'InsufficientDeposit']))
    expect(new Set(ok.map(s => s.hash)).size).to.be.lessThan(5)
    const s = await getSession(f.user, { hub: f.hub, sessionId: id })
    expect(s).to.include({ taskCount: 5, availableWei: 0n, reservedWei: 5n * TASK_WEI })
  })

  it('a lone submission goes out as a plain submitTask; a stopped batcher refuses what has not been sent', async function () {
    const id = await openSession(f)
    const batcher = new SubmitBatcher({ chain: await chainOf(f) })
    const one = await batcher.submit(id, tasksOf(1)[0])
    expect(one.batchSize).to.equal(1)
    const tx = await f.user.getTransaction({ hash: one.hash })
    expect(tx.input.slice(0, 10)).to.equal(toFunctionSelector('submitTask(uint256,bytes32,(uint24,bytes32))'))
    const pending = batcher.submit(id, tasksOf(1, 10, 'late')[0])
    batcher.stop(new Error('closed'))
    await expect(pending).to.eventually.be.rejectedWith('closed')
    await expect(batcher.submit(id, tasksOf(1)[0])).to.eventually.be.rejectedWith('closed')
    expect(batcher.stats).to.deep.equal({ transactions: 1, tasks: 1 })
  })
})
