/**
 * Session-queue throughput (`npm run bench -- queue`): how many tasks per
 * second the whole lifecycle sustains when inference costs nothing, and the
 * submit → settled latency: anvil, a bootstrap, 3 oracles and one client
 * keeping CONCURRENCY tasks in flight in this process, 20 miners serving the
 * zero-cost engine (bench/zero-engine.ts) split over MINER_PROCESSES
 * processes of their own (bench/miners-process.ts; 0: in this process too).
 *
 * Baseline, measured first in the same run: the chain alone. The same hub
 * on a fresh anvil, the same transactions per task as the mesh sends (the
 * client's submissions, the leader's assignTasks and its heartbeat every
 * second, miners' precommit signatures, settleBatch every SETTLE_BATCH_MS),
 * driven directly without the mesh, in two ways: one submit and one
 * assignment transaction per task, and batched as the mesh sends them (the
 * SDK's group commit of submissions, `client/submit-batch.ts`, and the
 * leader's assignments of tasks submitted together in one transaction),
 * each at the mesh's number of tasks in flight and at CHAIN_CONCURRENCY
 * (what the chain can take). It is what the chain allows; the ratio says what the mesh (gossip,
 * streams, storage, validation) costs on top.
 */
import { parseEther, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { SubmitBatcher } from '../client/submit-batch.ts'
import {
  ANVIL_KEYS, ROLE_MINER, VERDICT_HONEST, addOracle, assignTasks, createSession, deployHub, heartbeat, registerNode, settleBatch, signPrecommit, startAnvil, submitTask
} from '../contracts/index.ts'
import { LOCAL_HUB_CONFIG, localSession, startNetwork } from '../node/network.ts'
import { Gatherer } from '../node/roles/oracle/gatherer.ts'
import { createChainContext } from '../node/roles/shared/chain.ts'
import { startMinersProcess } from './miners-process.ts'
import { percentile, printFigures } from './report.ts'
import { ZERO_COST_MODEL_ID, ZeroCostEngine } from './zero-engine.ts'
import type { MinersProcess } from './miners-process.ts'
import type { BenchFigure } from './report.ts'
import type { TaskVerdicts } from '../contracts/index.ts'
import type { ChainContext } from '../node/roles/shared/chain.ts'
import type { Address, Hex } from 'viem'

const MINERS = 20
const ORACLES = 3
const REDUNDANCY = 3
/** processes the miners are split over (0: the benchmark's own process, with everything else) */
const MINER_PROCESSES = Number(process.env.QUEUE_MINER_PROCESSES ?? 2)
const TASKS = Number(process.env.QUEUE_TASKS ?? 120)
const CONCURRENCY = Number(process.env.QUEUE_CONCURRENCY ?? 6)
/** tasks in flight for the chain's capacity: enough to fill the batches (the mesh's goal, 10 tasks/s at p50 ≤ 2 s, means 20 or more in flight) */
const CHAIN_CONCURRENCY = Number(process.env.QUEUE_CHAIN_CONCURRENCY ?? 48)
/** tasks per chain run at CHAIN_CONCURRENCY: a few rounds of the in-flight tasks, so the sustained rate is measured past the first */
const CHAIN_TASKS = Number(process.env.QUEUE_CHAIN_TASKS ?? 8 * CHAIN_CONCURRENCY)
/** 0: the chain runs only (the mesh is skipped) */
const MESH = process.env.QUEUE_MESH !== '0'
/** no task is started after this long, so the run stays within a few minutes however slow the mesh is */
const RUN_MS = Number(process.env.QUEUE_RUN_MS ?? 90_000)
/** a task not settled by then counts as failed */
const TASK_TIMEOUT_MS = 60_000
const MAX_TOKENS = 16
/** the oracle's default settlement batching window */
const SETTLE_BATCH_MS = 250
/** the oracle's cap on tasks in one assignTasks or settleBatch transaction (node/roles/oracle/index.ts) */
const ORACLE_MAX_BATCH = 50
/**
 * Miners' heartbeat interval. Every gossip message costs each of the 25 nodes
 * in this one process a signature check (pure-JS secp256k1, a few ms), so
 * 20 miners at the default 2 s would spend the process's CPU on heartbeats
 * alone; 10 s keeps the pool alive and leaves the CPU to the tasks.
 */
const HEARTBEAT_MS = Number(process.env.QUEUE_HEARTBEAT_MS ?? 10_000)
/**
 * Generous liveness settings for both runs: a loaded process answers late,
 * and this figure is about throughput, not about how timeouts cascade (the
 * lifecycle tests cover those). The hub's oracle heartbeat timeout (leader
 * hand-over) and the queue's ack timeout.
 */
const HUB_CONFIG = { ...LOCAL_HUB_CONFIG, heartbeatTimeoutS: 30 }
const TIMEOUTS = { ackMs: 20_000 }

interface Run {
  /** submit → settled per settled task, ms */
  latencies: number[]
  /** settlement times (performance.now()) in order */
  done: number[]
  started: number
  failed: number
  /** submit and assignment transactions sent */
  submitTxs?: number
  assignTxs?: number
}

/**
 * Keep `concurrency` tasks in flight until `total` have run or RUN_MS has
 * passed; `one` runs a task to settlement and says whether it settled.
 */
async function closedLoop (total: number, concurrency: number, one: (i: number) => Promise<boolean>): Promise<Run> {
  const run: Run = { latencies: [], done: [], started: 0, failed: 0 }
  const stopAt = performance.now() + RUN_MS
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (run.started < total && performance.now() < stopAt) {
      const i = run.started++
      const t0 = performance.now()
      if (await one(i)) {
        const t1 = performance.now()
        run.latencies.push(t1 - t0)
        run.done.push(t1)
      } else {
        run.failed++
      }
    }
  }))
  run.done.sort((a, b) => a - b)
  return run
}

/** Settled tasks per second once the pipeline is full (after the first tenth of the settlements). */
function sustained (run: Run): number {
  const warmup = Math.max(1, Math.ceil(run.done.length / 10))
  if (run.done.length <= warmup) {
    return 0
  }
  const from = run.done[warmup - 1]
  const to = run.done[run.done.length - 1]
  return (run.done.length - warmup) / ((to - from) / 1000)
}

type ChainMode = 'single' | 'batched'

/**
 * The chain alone: the mesh's transactions per task, driven directly.
 * `single`: one submitTask and one assignTasks transaction per task (the
 * submission signed in turn, its receipt awaited beside the others', as the
 * SDK did before it batched). `batched`: submissions through the SDK's group
 * commit; the leader's assignments of the tasks that arrive together in one
 * transaction. The leader gathers its hub copies of assignments for a window
 * (250 ms), but a settlement that needs one writes what waits at once
 * (node/roles/oracle/assignment-writes.ts); with no inference here the settlement
 * needs it at once, so the window never runs out.
 */
async function chainBaseline (mode: ChainMode, total: number, concurrency: number): Promise<Run> {
  const anvil = await startAnvil()
  try {
    const deployer = await createChainContext({ rpcUrl: anvil.url, hub: '0x0000000000000000000000000000000000000000', privateKey: ANVIL_KEYS[0] })
    const { hub } = await deployHub(deployer.wallet, { config: HUB_CONFIG })
    const on = async (key: Hex): Promise<ChainContext> => createChainContext({ rpcUrl: anvil.url, hub, privateKey: key })
    const owner = await on(ANVIL_KEYS[0])
    const oracle = await on(ANVIL_KEYS[1])
    const client = await on(ANVIL_KEYS[2])
    await addOracle(owner.wallet, { hub, oracle: oracle.address })
    const miners: Array<ReturnType<typeof privateKeyToAccount>> = []
    for (let i = 0; i < MINERS; i++) {
      const key = keccak256(toHex(`queue-bench-miner-${i}`))
      const miner = await on(key)
      const hash = await (owner.wallet as any).sendTransaction({ to: miner.address, value: parseEther('1') })
      await (owner.wallet as any).waitForTransactionReceipt({ hash, pollingInterval: 20 })
      await registerNode(miner.wallet, { hub, roles: ROLE_MINER, hardwareClass: 0, models: [ZERO_COST_MODEL_ID], stakeWei: parseEther('0.1') })
      miners.push(privateKeyToAccount(key))
    }
    const { sessionId } = await createSession(client.wallet, localSession({ hub, modelId: ZERO_COST_MODEL_ID, redundancy: REDUNDANCY }))
    // the leader: one assignTasks per task as it arrives, verdicts gathered for SETTLE_BATCH_MS, one settleBatch
    const pending: Array<{ verdicts: TaskVerdicts, settled(err?: Error): void }> = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const flush = (): void => {
      timer = undefined
      const batch = pending.splice(0, 50)
      void oracle.serial(async () => settleBatch(oracle.wallet, { hub, tasks: batch.map(b => b.verdicts) })).then(() => undefined, (err: Error) => err).then((err) => {
        for (const b of batch) {
          b.settled(err)
        }
      })
    }
    // the leader stays live on chain as the mesh's oracles do (the hub's heartbeat timeout is a few seconds)
    const beat = setInterval(() => { void oracle.serial(async () => heartbeat(oracle.wallet, { hub })).catch(() => {}) }, 1000)
    const submissions = new SubmitBatcher({ chain: client })
    let assignTxs = 0
    let singleSubmitTxs = 0
    interface Waiting { taskId: bigint, miners: Address[], written(err?: Error): void }
    // the leader's hub copies of its assignments: what arrived together goes in one transaction
    const assignments = new Gatherer<Waiting>({
      batchMs: 0,
      maxBatch: ORACLE_MAX_BATCH,
      flush: async (batch) => {
        const err = await oracle.serial(async () => assignTasks(oracle.wallet, { hub, assignments: batch.map(w => ({ taskId: w.taskId, miners: w.miners })) })).then(() => undefined, (err: Error) => err)
        assignTxs++
        for (const w of batch) {
          w.written(err)
        }
      }
    })
    let rotation = 0
    const run = await closedLoop(total, concurrency, async (i) => {
      const task = { promptDigest: keccak256(toHex(`prompt-${i}`)), maxTokens: MAX_TOKENS, paramsDigest: keccak256(toHex('params')) }
      const chosen = Array.from({ length: REDUNDANCY }, () => miners[rotation++ % MINERS])
      let submitted: { taskId: bigint }
      if (mode === 'single') {
        submitted = await submitTask(client.wallet, { hub, sessionId, ...task, serialize: client.serial })
        singleSubmitTxs++
        await oracle.serial(async () => assignTasks(oracle.wallet, { hub, assignments: [{ taskId: submitted.taskId, miners: chosen.map(m => m.address) as Address[] }] }))
        assignTxs++
      } else {
        submitted = await submissions.submit(sessionId, task)
        await new Promise<void>((resolve, reject) => {
          assignments.add(submitted.taskId.toString(), { taskId: submitted.taskId, miners: chosen.map(m => m.address) as Address[], written: (err) => { if (err != null) { reject(err) } else { resolve() } } })
        })
      }
      const outputDigest = keccak256(toHex(`output-${i}`))
      const verdicts: TaskVerdicts = {
        taskId: submitted.taskId,
        miners: await Promise.all(chosen.map(async (m, j) => {
          const salt = keccak256(toHex(`salt-${i}-${j}`))
          return { miner: m.address, verdict: VERDICT_HONEST, tokens: MAX_TOKENS, onTime: true, outputDigest, salt, precommitSignature: await signPrecommit(m, oracle.domain, { taskId: submitted.taskId, outputDigest, salt }) }
        }))
      }
      await new Promise<void>((resolve, reject) => {
        pending.push({ verdicts, settled: (err) => { if (err != null) { reject(err) } else { resolve() } } })
        if (pending.length >= 50) {
          clearTimeout(timer)
          flush()
        } else {
          timer ??= setTimeout(flush, SETTLE_BATCH_MS)
        }
      })
      return true
    })
    clearInterval(beat)
    await assignments.stop()
    submissions.stop(new Error('the run is over'))
    return { ...run, submitTxs: mode === 'single' ? singleSubmitTxs : submissions.stats.transactions, assignTxs }
  } finally {
    await anvil.stop()
  }
}

/** The whole mesh with the zero-cost engine. */
async function meshRun (): Promise<Run> {
  const say = process.env.CORTENSOR_BENCH_VERBOSE != null ? (l: string) => { process.stderr.write(`${(performance.now() / 1000).toFixed(2)} ${l}\n`) } : undefined
  const net = await startNetwork({
    miners: MINER_PROCESSES > 0 ? 0 : MINERS,
    oracles: ORACLES,
    modelPath: '',
    minerEngine: async () => new ZeroCostEngine(),
    redundancy: REDUNDANCY,
    heartbeatIntervalMs: HEARTBEAT_MS,
    hubConfig: HUB_CONFIG,
    timeouts: TIMEOUTS,
    say
  })
  const processes: MinersProcess[] = []
  try {
    for (let p = 0; p < MINER_PROCESSES; p++) {
      const count = Math.floor(MINERS / MINER_PROCESSES) + (p < MINERS % MINER_PROCESSES ? 1 : 0)
      processes.push(await startMinersProcess(net, count, { heartbeatIntervalMs: HEARTBEAT_MS, timeouts: TIMEOUTS, onLine: say }))
    }
    // every node sees the whole pool before the first task (heartbeats every HEARTBEAT_MS)
    const deadline = Date.now() + 3 * HEARTBEAT_MS + 30_000
    while (net.client.pool.serving(net.modelId).length < MINERS || net.oracles.some(o => o.role.pool.serving(net.modelId).length < MINERS)) {
      if (Date.now() > deadline) {
        throw new Error(`the pool did not fill: the client sees ${net.client.pool.serving(net.modelId).length} of ${MINERS} miners`)
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    process.stderr.write(`mesh up: ${MINERS} miners (${MINER_PROCESSES > 0 ? `in ${MINER_PROCESSES} processes` : 'in this process'}), ${ORACLES} oracles\n`)
    return await closedLoop(TASKS, CONCURRENCY, async (i) => {
      try {
        const task = await net.client.submit(`queue benchmark task ${i}`, { maxTokens: MAX_TOKENS, timeoutMs: TASK_TIMEOUT_MS })
        await task.result
        return true
      } catch (err: any) {
        process.stderr.write(`task ${i}: ${err.shortMessage ?? err.message}\n`)
        return false
      }
    }).then(run => ({ ...run, submitTxs: net.client.submitStats.transactions }))
  } finally {
    await Promise.allSettled(processes.map(async p => p.stop()))
    await net.stop()
  }
}

/** Both ways at one number of tasks in flight. */
async function chainRuns (total: number, concurrency: number): Promise<Record<ChainMode, Run>> {
  const out: Partial<Record<ChainMode, Run>> = {}
  for (const mode of ['single', 'batched'] as const) {
    const t0 = performance.now()
    const run = await chainBaseline(mode, total, concurrency)
    process.stderr.write(`chain alone, ${mode}, ${concurrency} in flight: ${run.done.length} tasks settled in ${((performance.now() - t0) / 1000).toFixed(1)} s (${run.submitTxs} submit, ${run.assignTxs} assign transactions)\n`)
    out[mode] = run
  }
  return out as Record<ChainMode, Run>
}

const atMesh = await chainRuns(TASKS, CONCURRENCY)
const atCapacity = await chainRuns(Math.max(TASKS, CHAIN_TASKS), CHAIN_CONCURRENCY)

function chainFigures (c: number, r: Record<ChainMode, Run>): BenchFigure[] {
  const single = (name: string, value: number): { name: string, value: number } => ({ name: `one tx per task: ${name}`, value })
  return [
    { name: `${c} in flight: sustained settled tasks/s, batched (${r.batched.done.length} tasks; ${r.batched.submitTxs} submit, ${r.batched.assignTxs} assign tx)`, value: sustained(r.batched), unit: 'tasks/s', baseline: single(`tasks/s (${r.single.done.length} tasks)`, sustained(r.single)) },
    { name: `${c} in flight: submit → settled p50, batched`, value: percentile(r.batched.latencies, 50), unit: 'ms', baseline: single('p50', percentile(r.single.latencies, 50)) },
    { name: `${c} in flight: submit → settled p99, batched`, value: percentile(r.batched.latencies, 99), unit: 'ms', baseline: single('p99', percentile(r.single.latencies, 99)) }
  ]
}
printFigures(`session queue, the chain alone: batched submissions and assignments against one transaction of each per task (redundancy ${REDUNDANCY}, settlement batched every ${SETTLE_BATCH_MS} ms)`, [
  ...chainFigures(CONCURRENCY, atMesh),
  ...chainFigures(CHAIN_CONCURRENCY, atCapacity)
])

if (MESH) {
  const t1 = performance.now()
  const mesh = await meshRun()
  process.stderr.write(`mesh: ${mesh.done.length} of ${mesh.started} tasks settled in ${((performance.now() - t1) / 1000).toFixed(1)} s (with start and stop; ${mesh.submitTxs} submit transactions)\n`)
  const base = atMesh.batched
  const baseline = (name: string, value: number): { name: string, value: number } => ({ name: `chain alone, batched: ${name}`, value })
  printFigures(`session queue: ${MINERS} miners (${MINER_PROCESSES > 0 ? `${MINER_PROCESSES} processes of their own` : 'in the benchmark\'s process'}), ${ORACLES} oracles, 1 client, zero-cost engine, ${CONCURRENCY} tasks in flight, redundancy ${REDUNDANCY}`, [
    { name: `sustained settled tasks/s (${mesh.done.length} of ${mesh.started} settled; ${mesh.submitTxs} submit tx)`, value: sustained(mesh), unit: 'tasks/s', baseline: baseline('tasks/s', sustained(base)) },
    { name: 'sustained settled tasks/s, against the chain alone with one tx per task', value: sustained(mesh), unit: 'tasks/s', baseline: { name: 'chain alone, one tx per task: tasks/s', value: sustained(atMesh.single) } },
    { name: 'sustained settled tasks/s, against the chain\'s capacity (batched)', value: sustained(mesh), unit: 'tasks/s', baseline: { name: `chain alone, batched, ${CHAIN_CONCURRENCY} in flight: tasks/s`, value: sustained(atCapacity.batched) } },
    { name: 'submit → settled p50', value: percentile(mesh.latencies, 50), unit: 'ms', baseline: baseline('p50', percentile(base.latencies, 50)) },
    { name: 'submit → settled p99', value: percentile(mesh.latencies, 99), unit: 'ms', baseline: baseline('p99', percentile(base.latencies, 99)) }
  ])
}
process.exit(0)
