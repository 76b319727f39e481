/**
 * The oracle role. Every oracle follows every task of its models through the
 * session queue state machine; the current leader (the hub's round-robin
 * over live oracles) acts on the effects: draws the miners from the pool
 * with the chain's seed, reassigns miners that time out, validates the
 * reveals (structure, redundancy by CID, sampled and disputed replay,
 * embedding distance) and settles verdicts in batches. Followers check the
 * leader's selections and take over any effect the leader leaves overdue,
 * which the queue's retries turn into a hand-over when the leader dies.
 */
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex, concatBytes, hexToBytes, numberToBytes } from 'viem'
import { readContract } from 'viem/actions'
import {
  cortensorHubAbi, getLeader, getTask, heartbeat as chainHeartbeat, reassignMiner
} from '../../contracts/index.ts'
import { ContradictsRecordError, defaultValidators, installGossip, publishMessage } from '../../protocols/gossip/index.ts'
import { MinerVerdict, TaskQueued, addressToBytes } from '../../protocols/messages/index.ts'
import { Verdict as V } from '../../protocols/policy/verdicts.ts'
import { createTask, isTerminal, tick, transition } from '../../protocols/queue/machine.ts'
import { assignedEvent, ackEvent, precommitEvent, revealEvent, taskInitFrom, verdictEvent } from '../../protocols/queue/wire.ts'
import { poolFromRecords, selectMiners, selectionSeed, verifySelection } from '../../protocols/selection/index.ts'
import { AssignmentWrites } from './assignment-writes.ts'
import { SubmittedIndex, assignedMiners, settledTaskIds, watchHub } from './chain.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from './miner.ts'
import { PoolView } from './pool.ts'
import { cidDigest, precommitHash, RecordStore } from './records.ts'
import { ReplayQuorum } from './replay-quorum.ts'
import { SettlementBatcher, minerVerdict } from './settlement.ts'
import { outcomeVerdict, validateOutputs } from './validation.ts'
import type { ChainContext, HubLog, HubWatcher } from './chain.ts'
import type { TaskVerdicts } from '../../contracts/index.ts'
import type { Assignment, Precommit, Reveal, Verdict } from '../../protocols/messages/index.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskState } from '../../protocols/queue/types.ts'
import type { Embedder, LlamaInferenceEngine } from '../inference/index.ts'
import type { CortensorNode } from '../node.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:oracle')

export interface OracleRoleInit {
  node: CortensorNode
  chain: ChainContext
  /** models whose tasks this oracle validates */
  modelIds: string[]
  /** the model, for the replay check (without one, only structure and redundancy are checked) */
  engine?: LlamaInferenceEngine
  /** for the embedding-distance check between disagreeing outputs */
  embedder?: Embedder
  topicPrefix?: string
  /** miners' heartbeat interval (pool health) */
  heartbeatIntervalMs?: number
  /** on-chain liveness heartbeat; must be well under the hub's heartbeat timeout; default 1 s */
  chainHeartbeatMs?: number
  timeouts?: Partial<QueueTimeouts>
  /** fraction of agreeing outputs replayed anyway; default policy DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  similarityThreshold?: number
  /** gather verdicts this long before one settlement transaction; default 250 ms */
  settleBatchMs?: number
  /** gather the leader's round-0 assignments this long before one hub transaction; default 250 ms */
  assignBatchMs?: number
  maxBatch?: number
  onLine?(line: string): void
}

interface OracleRecord {
  queued: Hex
  seed: Hex
  /** the block of the task's TaskSubmitted log (decimal): chain reads about the task start there */
  submitBlock?: string
  /** the round-0 miners as gossiped by the leader, which the hub must hold before anyone is paid */
  assigned?: string[]
  /** the hub holds an assignment for the task */
  assignedOnChain?: boolean
  state: TaskState
  precommits: Record<string, { commitment: Hex, signature: Hex }>
  reveals: Record<string, { outputCid: string, salt: Hex }>
  outcomes?: Record<string, MinerVerdict.Outcome>
  tokens?: Record<string, number>
}

export interface OracleTask {
  queued: TaskQueued
  record: OracleRecord
  chain: Promise<void>
  /** the write of the assignment to the hub, while one runs */
  assignWrite?: Promise<boolean>
  /** the submitter's peer (holds the prompt) */
  from?: PeerId
  /** reveals that overtook the last precommit on gossip: applied when the window opens */
  early?: Reveal[]
  /** acks and precommits that overtook the assignment (whose validation reads the chain): applied after it */
  unassigned?: Array<() => void>
}

export interface OracleStats {
  assigned: number
  reassigned: number
  validated: number
  settled: number
  settleTransactions: number
  /** hub transactions this oracle sent with round-0 assignments (several tasks' each, under load) */
  assignTransactions: number
  selectionMismatches: number
  replays: number
  slashed: number
}

const TICK_MS = 100
/** a leader read this recent is trusted when it names the oracle an assignment comes from */
const LEADER_CACHE_MS = 2000
/**
 * A round-0 assignment trusts a leader read this recent (the chain heartbeat
 * reads it every second). A stale "I lead" costs at most a refused chain
 * write, which the write's retries and the next leader's takeover absorb.
 */
const ASSIGN_LEADER_MAX_AGE_MS = 1500
/** acks and precommits kept per task while its assignment has not arrived */
const MAX_UNASSIGNED_EVENTS = 64

export class OracleRole {
  readonly init: OracleRoleInit
  readonly pool: PoolView
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  readonly stats: OracleStats = { assigned: 0, reassigned: 0, validated: 0, settled: 0, settleTransactions: 0, assignTransactions: 0, selectionMismatches: 0, replays: 0, slashed: 0 }
  private readonly tasks = new Map<string, OracleTask>()
  private readonly records: RecordStore<OracleRecord>
  private readonly submitted: SubmittedIndex
  private leaderSeen?: { address: string, atMs: number }
  private uninstall?: () => void
  private watcher?: HubWatcher
  private timer?: ReturnType<typeof setInterval>
  private heartbeatTimer?: ReturnType<typeof setInterval>
  private stopped = false
  private replayQuorum = 2
  /** failed-replay attestations and the slashes they allow */
  private readonly replay: ReplayQuorum
  private readonly settlement: SettlementBatcher
  /** the hub's copies of round-0 assignments */
  private readonly assignments: AssignmentWrites

  constructor (init: OracleRoleInit) {
    this.init = init
    this.address = init.node.peerIdentity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${init.node.config.network}`
    this.pool = new PoolView(init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.records = new RecordStore(init.node.datastore, '/cortensor/oracle/tasks')
    this.submitted = new SubmittedIndex(init.chain)
    this.replay = new ReplayQuorum({
      node: init.node,
      chain: init.chain,
      engine: init.engine,
      embedder: init.embedder,
      address: this.address,
      prefix: this.prefix,
      quorum: () => this.replayQuorum,
      peerOf: (miner) => this.pool.get(miner)?.peerId,
      stats: this.stats,
      say: (line) => { this.say(line) }
    })
    this.assignments = new AssignmentWrites({
      chain: init.chain,
      maxBatch: init.maxBatch ?? 50,
      batchMs: init.assignBatchMs ?? 250,
      isLeader: async () => this.isLeader(),
      stopped: () => this.stopped,
      persist: (task) => { this.enqueue(task, async () => { await this.persist(task) }) },
      stats: this.stats,
      say: (line) => { this.say(line) }
    })
    this.settlement = new SettlementBatcher({
      chain: init.chain,
      maxBatch: init.maxBatch ?? 50,
      batchMs: init.settleBatchMs ?? 250,
      isLeader: async () => this.isLeader(),
      stopped: () => this.stopped,
      entryFor: async (task) => this.settlementEntry(task),
      onSettled: (tasks, txHash) => {
        this.stats.settleTransactions++
        for (const task of tasks) {
          this.enqueue(task, async () => {
            this.apply(task, { type: 'settled', txHash })
            this.stats.settled++
            await this.replay.slash(task)
          })
        }
      },
      say: (line) => { this.say(line) }
    })
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  get taskCount (): number {
    return this.tasks.size
  }

  taskState (taskId: bigint): TaskState | undefined {
    return this.tasks.get(taskId.toString())?.record.state
  }

  async start (): Promise<void> {
    const { node, chain } = this.init
    this.replayQuorum = Number(await readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'replayQuorum' }))
    for await (const { value } of this.records.all()) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      this.tasks.set(queued.taskId.toString(), { queued, record: value, chain: Promise.resolve() })
      if (!isTerminal(value.state)) {
        this.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
      }
    }
    // an assignment counts only from the hub's current leader, whose assignTasks call alone the hub accepts
    const base = defaultValidators({ isLeader: async (oracle) => this.leads(oracle) })
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.init.modelIds,
      onContradiction: (author) => { node.contradictions.add(author.toString()) },
      validators: {
        ...base,
        task: async (m, ctx) => {
          await base.task(m, ctx)
          await this.checkOnChain(m)
        },
        precommit: async (m, ctx) => {
          await base.precommit(m, ctx)
          this.checkNotCopied(m)
        }
      },
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => { this.onEvent(m.taskId, async (t) => { this.onAssignment(t, m) }) },
        ack: (m) => { this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.apply(t, ackEvent(m)) }) }) },
        precommit: (m) => { this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.onPrecommit(t, m) }) }) },
        reveal: (m) => { this.onEvent(m.taskId, async (t) => { this.onReveal(t, m) }) },
        verdict: (m) => { this.onEvent(m.taskId, async (t) => { await this.onVerdict(t, m) }) },
        heartbeat: (m, meta) => {
          if (meta.from != null) {
            this.pool.onHeartbeat(m, meta.from)
          }
        }
      }
    })
    this.watcher = watchHub(chain, async (l) => {
      this.submitted.onLog(l)
      await this.onChainLog(l)
    }, { onError: (err) => { log('chain poll: %s', err.message) } })
    this.submitted.follow(this.watcher)
    this.timer = setInterval(() => { this.onTick() }, TICK_MS)
    let beating = false
    const beat = async (): Promise<void> => {
      if (this.stopped) {
        return
      }
      // keeps the assignment validator's leader fresh, so it seldom waits for a read
      const read = this.leader().catch(() => {})
      // one heartbeat at a time: on a slow chain, queued heartbeats would hold up assignments and settlements behind them
      if (!beating) {
        beating = true
        await chain.serial(async () => chainHeartbeat(chain.wallet, { hub: chain.hub })).catch((err) => { log('chain heartbeat: %s', err.message) })
        beating = false
      }
      await read
    }
    this.heartbeatTimer = setInterval(() => { void beat() }, this.init.chainHeartbeatMs ?? 1000)
    await beat()
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    clearInterval(this.timer)
    clearInterval(this.heartbeatTimer)
    this.watcher?.stop()
    this.uninstall?.()
    await this.assignments.stop()
    await Promise.allSettled([...this.tasks.values()].flatMap(t => [t.chain, t.assignWrite ?? Promise.resolve()]))
    await this.settlement.stop()
  }

  // ------------------------------------------------------------ checks on gossip

  /**
   * The announcement agrees with the chain: its submission log (indexed by
   * the log poller, or one short query, and kept for the seed) or, for a task
   * submitted before this oracle's poller started, the task's record.
   */
  private async checkOnChain (m: TaskQueued): Promise<void> {
    const { chain } = this.init
    let t
    try {
      t = await this.submitted.recent(m.taskId) ?? await getTask(chain.wallet, { hub: chain.hub, taskId: m.taskId })
    } catch {
      throw new ContradictsRecordError('taskId', `task ${m.taskId} is not on chain`)
    }
    if (t.sessionId !== m.sessionId) {
      throw new ContradictsRecordError('sessionId', `task ${m.taskId} belongs to session ${t.sessionId} on chain`)
    }
    // a false seed would have miners start (and waste) work on tasks they will not be given
    if (m.seed != null && 'seed' in t && bytesToHex(m.seed) !== t.seed.toLowerCase()) {
      throw new ContradictsRecordError('seed', `chain says ${t.seed}`)
    }
    if (m.promptCid.length > 0 && t.maxTokens !== (m.params?.maxTokens ?? 0)) {
      throw new ContradictsRecordError('params.maxTokens', `chain says ${t.maxTokens}`)
    }
  }

  /** Two miners cannot commit to the same hash: salts are random, so the second one copied the first. */
  private checkNotCopied (m: Precommit): void {
    const task = this.tasks.get(m.taskId.toString())
    if (task == null) {
      return
    }
    const commitment = bytesToHex(m.commitment)
    const miner = bytesToHex(m.miner).toLowerCase()
    for (const [other, p] of Object.entries(task.record.precommits)) {
      if (other !== miner && p.commitment === commitment) {
        throw new ContradictsRecordError('commitment', `already committed by ${other}: a copied commitment`)
      }
    }
  }

  // ------------------------------------------------------------ bookkeeping

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const id = m.taskId.toString()
    if (this.tasks.has(id)) {
      return
    }
    log('task %s: announced', m.taskId)
    const { state, effects } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: OracleTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), seed: '0x', state, precommits: {}, reveals: {} }, chain: Promise.resolve() }
    this.tasks.set(id, task)
    this.enqueue(task, async () => {
      const submitted = await this.submitted.lookup(m.taskId)
      this.submitted.delete(m.taskId)
      task.record.seed = submitted.seed
      task.record.submitBlock = submitted.blockNumber.toString()
      // the record is written while the leader assigns (the first token waits on the assignment); a later
      // write of the task is issued after this one, so the store ends with the latest state
      this.persist(task).catch((err) => { this.say(`task ${m.taskId}: ${err?.message ?? err}`) })
      this.onEffects(task, effects)
    })
  }

  private onEvent (taskId: bigint, fn: (t: OracleTask) => Promise<void>): void {
    const task = this.tasks.get(taskId.toString())
    if (task != null) {
      this.enqueue(task, fn)
    }
  }

  private enqueue (task: OracleTask, fn: (t: OracleTask) => Promise<void>): void {
    task.chain = task.chain.then(async () => { await fn(task) }).catch((err) => { this.say(`task ${task.queued.taskId}: ${err?.message ?? err}`) })
  }

  private apply (task: OracleTask, event: QueueEvent): boolean {
    try {
      const res = transition(task.record.state, event, Date.now())
      task.record.state = res.state
      this.enqueue(task, async () => { await this.persist(task) })
      this.onEffects(task, res.effects)
      return true
    } catch (err: any) {
      log('task %s: %s ignored: %s', task.queued.taskId, event.type, err?.message)
      return false
    }
  }

  private async persist (task: OracleTask): Promise<void> {
    if (!this.stopped) {
      await this.records.put(task.queued.taskId.toString(), task.record)
    }
  }

  private onTick (): void {
    const now = Date.now()
    for (const task of this.tasks.values()) {
      if (isTerminal(task.record.state) || task.record.seed === '0x') {
        continue
      }
      const res = tick(task.record.state, now)
      if (res.state !== task.record.state) {
        task.record.state = res.state
        this.enqueue(task, async () => { await this.persist(task) })
        this.onEffects(task, res.effects)
      }
    }
  }

  private onEffects (task: OracleTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'select-miners':
        case 'assignment-overdue':
          this.enqueue(task, async () => { await this.assign(task) })
          break
        case 'reassign':
          this.enqueue(task, async () => { await this.reassign(task, e.round) })
          break
        case 'penalise':
          this.pool.applyVerdict(e.miner, V.TIMEOUT)
          this.say(`task ${task.queued.taskId}: miner ${e.miner} ${e.reason}`)
          break
        case 'slash':
          this.pool.applyVerdict(e.miner, V.COMMIT_MISMATCH)
          this.say(`task ${task.queued.taskId}: miner ${e.miner} revealed something other than it committed to`)
          break
        case 'validate':
          this.enqueue(task, async () => { await this.validate(task) })
          break
        case 'reveal-window-open': {
          const early = task.early ?? []
          task.early = undefined
          for (const r of early) {
            this.enqueue(task, async () => { this.onReveal(task, r) })
          }
          break
        }
        case 'settle':
          this.settlement.add(task)
          break
        case 'expired':
          this.say(`task ${task.queued.taskId}: expired (${e.reason})`)
          break
        default:
          break
      }
    }
  }

  // ------------------------------------------------------------ leadership

  private async leader (): Promise<Address> {
    const address = await getLeader(this.init.chain.wallet, { hub: this.init.chain.hub })
    this.leaderSeen = { address: address.toLowerCase(), atMs: Date.now() }
    return address
  }

  /**
   * Whether this oracle leads now. With `maxAgeMs`, a leader read that recent
   * naming this oracle answers without another read (the chain heartbeat
   * refreshes it every second): assignments, on the first token's path, use it.
   */
  async isLeader (maxAgeMs?: number): Promise<boolean> {
    const seen = this.leaderSeen
    if (maxAgeMs != null && seen?.address === this.address && Date.now() - seen.atMs < maxAgeMs) {
      return true
    }
    try {
      return (await this.leader()).toLowerCase() === this.address
    } catch {
      return false
    }
  }

  /**
   * Whether `oracle` leads now (the assignment validator): a recent read
   * naming it suffices, anything else is read again. If the chain cannot be
   * read the assignment is let through: the hub still refuses a non-leader's
   * assignment, and so its settlement.
   */
  private async leads (oracle: string): Promise<boolean> {
    const o = oracle.toLowerCase()
    const seen = this.leaderSeen
    if (seen?.address === o && Date.now() - seen.atMs < LEADER_CACHE_MS) {
      return true
    }
    try {
      return (await this.leader()).toLowerCase() === o
    } catch (err: any) {
      log('leader read failed, assignment from %s accepted: %s', o, err?.message)
      return true
    }
  }

  /** The task's miners in assignment order, as the hub knows them, read from the submit block on. */
  private async chainMiners (task: OracleTask): Promise<Address[]> {
    return assignedMiners(this.init.chain, task.queued.taskId, BigInt(task.record.submitBlock ?? 0))
  }

  private roundSeed (task: OracleTask, round: number): Uint8Array {
    const chainValue = round === 0 ? hexToBytes(task.record.seed) : concatBytes([hexToBytes(task.record.seed), numberToBytes(round, { size: 4 })])
    return selectionSeed(chainValue, task.queued.taskId)
  }

  /** Draw `count` miners for a round, excluding every miner the task already had. */
  private draw (task: OracleTask, count: number, round: number): string[] {
    const model = task.queued.params?.modelId ?? ''
    const snapshot = poolFromRecords(this.pool.records(task.queued.sessionId), { model })
    for (const slot of task.record.state.slots) {
      const i = snapshot.ids.indexOf(slot.miner)
      if (i >= 0 && snapshot.pool.effectiveWeight(i) > 0) {
        snapshot.pool.reserve(i)
      }
    }
    const picks = selectMiners(snapshot.pool, this.roundSeed(task, round), count)
    return Array.from(picks, i => snapshot.ids[i])
  }

  private async assign (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'queued' || !(await this.isLeader(ASSIGN_LEADER_MAX_AGE_MS))) {
      return
    }
    let miners: string[]
    try {
      miners = this.draw(task, s.redundancy, 0)
    } catch (err: any) {
      this.say(`task ${task.queued.taskId}: cannot assign yet: ${err.message}`)
      return
    }
    const msg: Assignment = {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: miners.map(m => addressToBytes(m as Hex)),
      selectionSeed: Uint8Array.from(this.roundSeed(task, 0)),
      leader: addressToBytes(this.address as Hex),
      round: 0,
      signature: new Uint8Array(0)
    }
    // gossip first, so miners start at once; the hub's copy follows (node/roles/assignment-writes.ts)
    await publishMessage(this.init.node.libp2p.services.pubsub, 'assignment', msg, { prefix: this.prefix })
    task.record.assigned = miners
    this.apply(task, assignedEvent(msg))
    this.onAssigned(task)
    this.stats.assigned++
    this.say(`task ${task.queued.taskId}: assigned to ${miners.join(', ')}`)
    this.assignments.add(task)
  }

  private async reassign (task: OracleTask, round: number): Promise<void> {
    const s = task.record.state
    if (s.vacancies === 0 || !(await this.isLeader())) {
      return
    }
    // the hub replaces a miner only in the assignment it holds
    if (!(await this.assignments.onChain(task))) {
      this.say(`task ${task.queued.taskId}: no replacement: the assignment is not on chain`)
      return
    }
    const current = await this.chainMiners(task)
    // the task may have moved on while the chain was read (the tick expires tasks)
    const now = task.record.state
    if (isTerminal(now) || now.vacancies === 0) {
      return
    }
    const gone = now.slots.filter(x => x.status === 'reassigned').map(x => x.miner)
    const index = current.findIndex(m => gone.includes(m.toLowerCase()))
    if (index < 0) {
      return
    }
    let replacement: string
    try {
      [replacement] = this.draw(task, 1, round)
    } catch (err: any) {
      this.say(`task ${task.queued.taskId}: no replacement for ${current[index]}: ${err.message}`)
      return
    }
    const { chain } = this.init
    const send = async (): Promise<unknown> => chain.serial(async () => reassignMiner(chain.wallet, { hub: chain.hub, taskId: task.queued.taskId, current, index, replacement: replacement as Address }))
    try {
      await send()
    } catch (err: any) {
      if (err?.rule !== 'DeadlineNotPassed') {
        throw err
      }
      // the hub's precommit window is measured in block seconds: wait it out once
      const deadlineS = Number(err.args?.[1] ?? 0)
      await new Promise(resolve => setTimeout(resolve, Math.max(0, deadlineS * 1000 - Date.now()) + 1100))
      await send()
    }
    const msg: Assignment = {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: [addressToBytes(replacement as Hex)],
      selectionSeed: Uint8Array.from(this.roundSeed(task, round)),
      leader: addressToBytes(this.address as Hex),
      round,
      signature: new Uint8Array(0)
    }
    await publishMessage(this.init.node.libp2p.services.pubsub, 'assignment', msg, { prefix: this.prefix })
    this.apply(task, assignedEvent(msg))
    this.stats.reassigned++
    this.say(`task ${task.queued.taskId}: ${current[index]} replaced by ${replacement} (round ${round})`)
  }

  private onAssignment (task: OracleTask, m: Assignment): void {
    if (m.round === 0 && task.record.state.phase === 'queued') {
      // followers recompute the draw from the same seed and pool
      try {
        const model = task.queued.params?.modelId ?? ''
        const snapshot = poolFromRecords(this.pool.records(task.queued.sessionId), { model })
        const claimed = m.miners.map(b => snapshot.ids.indexOf(bytesToHex(b).toLowerCase()))
        const ok = !claimed.includes(-1) && verifySelection(snapshot.pool, this.roundSeed(task, 0), task.record.state.redundancy, claimed).ok
        if (!ok) {
          this.stats.selectionMismatches++
          this.say(`task ${m.taskId}: the leader's selection differs from this oracle's view of the pool`)
        }
      } catch (err: any) {
        log('selection check: %s', err.message)
      }
    }
    if (this.apply(task, assignedEvent(m)) && m.round === 0) {
      // what the hub must hold before settlement, whoever leads then
      task.record.assigned ??= m.miners.map(b => bytesToHex(b).toLowerCase())
      this.onAssigned(task)
    }
  }

  /** Run `fn` now, or once the assignment arrives if an ack or precommit overtook it. */
  private afterAssignment (task: OracleTask, fn: () => void): void {
    if (task.record.state.phase !== 'queued') {
      fn()
    } else if ((task.unassigned ??= []).length < MAX_UNASSIGNED_EVENTS) {
      task.unassigned.push(fn)
    }
  }

  private onAssigned (task: OracleTask): void {
    const waiting = task.unassigned ?? []
    task.unassigned = undefined
    for (const fn of waiting) {
      fn()
    }
  }

  private onPrecommit (task: OracleTask, m: Precommit): void {
    const miner = bytesToHex(m.miner).toLowerCase()
    if (this.apply(task, precommitEvent(m))) {
      task.record.precommits[miner] = { commitment: bytesToHex(m.commitment), signature: bytesToHex(m.signature) }
    }
  }

  private onReveal (task: OracleTask, m: Reveal): void {
    const phase = task.record.state.phase
    if (phase === 'queued' || phase === 'assigned' || phase === 'acked') {
      (task.early ??= []).push(m)
      return
    }
    const miner = bytesToHex(m.miner).toLowerCase()
    const p = task.record.precommits[miner]
    let matches = false
    let outputCid: CID | undefined
    try {
      outputCid = CID.decode(m.outputCid)
      matches = p != null && precommitHash(this.init.chain.domain, m.taskId, cidDigest(outputCid), bytesToHex(m.salt)) === p.commitment
    } catch {
      // an output CID that does not decode matches no commitment
    }
    if (this.apply(task, revealEvent(m, matches)) && outputCid != null) {
      task.record.reveals[miner] = { outputCid: outputCid.toString(), salt: bytesToHex(m.salt) }
    }
  }

  private async onVerdict (task: OracleTask, m: Verdict): Promise<void> {
    const sender = bytesToHex(m.oracle).toLowerCase()
    await this.replay.collect(task, m)
    // a follower's attestation is not the task's verdict; only the leader's is
    if (m.miners.some(v => v.replaySignature != null) && !(await this.leads(sender))) {
      await this.trySlash(task)
      return
    }
    const outcomes: Record<string, MinerVerdict.Outcome> = {}
    for (const v of m.miners) {
      outcomes[bytesToHex(v.miner).toLowerCase()] = v.outcome
    }
    if (this.apply(task, verdictEvent(m))) {
      task.record.outcomes = outcomes
    }
    if (sender !== this.address && this.replayQuorum > 1) {
      await this.replay.attest(task, m)
    }
  }

  /** Slash once the task is settled and enough attestations are in (the leader only). */
  private async trySlash (task: OracleTask): Promise<void> {
    if (task.record.state.phase === 'settled' && await this.isLeader()) {
      await this.replay.slash(task)
    }
  }

  // ------------------------------------------------------------ validation

  private async validate (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'committed' || !(await this.isLeader())) {
      return
    }
    const { node, engine, embedder, sampleRate, similarityThreshold } = this.init
    const q = task.queued
    const { outcomes, similarity, tokens } = await validateOutputs({
      node,
      engine,
      embedder,
      sampleRate,
      similarityThreshold,
      peerOf: (miner) => this.pool.get(miner)?.peerId,
      onReplay: () => { this.stats.replays++ },
      say: (line) => { this.say(line) }
    }, { queued: q, state: s, seed: task.record.seed, reveals: task.record.reveals, promptHolder: task.from })
    // the leader's own failed-replay signatures travel with its verdict (the first of the hub's replay quorum)
    const replaySigs: Record<string, Hex | undefined> = {}
    for (const [miner, outcome] of Object.entries(outcomes)) {
      if (outcome === MinerVerdict.Outcome.REJECTED_REPLAY) {
        replaySigs[miner] = await this.replay.sign(task, miner)
      }
    }
    const msg: Verdict = {
      taskId: q.taskId,
      oracle: addressToBytes(this.address as Hex),
      miners: Object.entries(outcomes).map(([miner, outcome]) => {
        const sig = replaySigs[miner]
        return { miner: addressToBytes(miner as Hex), outcome, similarityPpm: Math.round(Math.max(0, similarity[miner] ?? 0) * 1e6), ...(sig != null ? { replaySignature: new Uint8Array(hexToBytes(sig)) } : {}) }
      }),
      round: s.round,
      signature: new Uint8Array(0)
    }
    task.record.tokens = tokens
    await publishMessage(this.init.node.libp2p.services.pubsub, 'verdict', msg, { prefix: this.prefix })
    if (this.apply(task, verdictEvent(msg))) {
      task.record.outcomes = outcomes
      this.stats.validated++
      for (const [miner, outcome] of Object.entries(outcomes)) {
        this.pool.applyVerdict(miner, outcomeVerdict(outcome))
      }
      this.say(`task ${q.taskId}: verdict ${Object.entries(outcomes).map(([m, o]) => `${m.slice(0, 10)}… ${o}`).join(', ')}`)
    }
  }

  // ------------------------------------------------------------ settlement

  /**
   * A validated task's line in the batch, or nothing if the hub cannot settle
   * it: one such task would revert the whole batch. The hub settles only
   * assignments it holds, so a task whose assignment cannot be written stays
   * unsettled (the queue retries its settlement, then expires it).
   */
  private async settlementEntry (task: OracleTask): Promise<TaskVerdicts | undefined> {
    const { chain } = this.init
    const taskId = task.queued.taskId
    if (task.record.state.phase !== 'validated') {
      return undefined
    }
    if (!(await this.assignments.onChain(task))) {
      this.say(`task ${taskId}: not settled: its assignment is not on chain`)
      return undefined
    }
    const onChain = await getTask(chain.wallet, { hub: chain.hub, taskId })
    if (onChain.status !== 'assigned') {
      return undefined
    }
    const miners = await this.chainMiners(task)
    return { taskId, miners: miners.map(m => minerVerdict(task, m)) }
  }

  private async onChainLog (l: HubLog): Promise<void> {
    if (l.eventName !== 'TasksSettled') {
      return
    }
    for (const id of settledTaskIds(l.args.settled)) {
      const task = this.tasks.get(id.toString())
      if (task == null || isTerminal(task.record.state)) {
        continue
      }
      this.enqueue(task, async () => {
        if (isTerminal(task.record.state)) {
          return
        }
        if (!this.apply(task, { type: 'settled', txHash: l.transactionHash })) {
          // settled by another oracle before this one saw the verdict
          task.record.state = { ...task.record.state, phase: 'settled', txHash: l.transactionHash, phaseDeadlineMs: null }
          await this.persist(task)
        }
      })
    }
  }
}
