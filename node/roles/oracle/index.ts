/**
 * The oracle role. Every oracle follows every task of its models through the
 * session queue state machine; the current leader (the hub's round-robin
 * over live oracles) acts on the effects: draws the miners from the pool
 * with the chain's seed, reassigns miners that time out, validates the
 * reveals (structure, redundancy by CID, sampled and disputed replay,
 * embedding distance) and settles verdicts in batches. Followers check the
 * leader's selections and take over any effect the leader leaves overdue,
 * which the queue's retries turn into a hand-over when the leader dies.
 *
 * This file wires gossip, the chain and the queue's effects together; the
 * parts live beside it: the task records (oracle-tasks.ts), leadership and
 * the chain heartbeat (leadership.ts), the draws and assignments (draws.ts,
 * assigner.ts, assignment-writes.ts), the gossip checks (gossip-checks.ts),
 * the verdict (leader-verdict.ts, validation.ts, replay-quorum.ts) and the
 * settlement (settlement.ts).
 */
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { getBlock, readContract } from 'viem/actions'
import { cortensorHubAbi, getTask } from '../../../contracts/index.ts'
import { defaultValidators, installGossip } from '../../../protocols/gossip/index.ts'
import { MinerVerdict, TaskQueued } from '../../../protocols/messages/index.ts'
import { Verdict as V } from '../../../protocols/policy/verdicts.ts'
import { createTask, isTerminal, queueLifetimeMs } from '../../../protocols/queue/machine.ts'
import { assignedEvent, ackEvent, declineEvent, precommitEvent, revealEvent, taskInitFrom, verdictEvent } from '../../../protocols/queue/wire.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../miner/index.ts'
import { SessionOwners, SubmittedIndex, settledTaskIds, watchHub } from '../shared/chain.ts'
import { oracleValidators } from '../shared/gossip-checks.ts'
import { roleMetrics } from '../shared/metrics.ts'
import { PoolView, chainRegistrations, followRegistry } from '../shared/pool.ts'
import { chainNamespace, cidDigest, precommitHash } from '../shared/records.ts'
import { Ticker } from '../shared/ticker.ts'
import { outcomeVerdict } from '../shared/validation.ts'
import { Abandons } from './abandons.ts'
import { Assigner } from './assigner.ts'
import { AssignmentWrites } from './assignment-writes.ts'
import { Auditor } from './audit.ts'
import { awaitSettledBefore } from './draws.ts'
import { Equivocations } from './equivocation.ts'
import { LeaderVerdict } from './leader-verdict.ts'
import { Leadership, chainHeartbeatMs } from './leadership.ts'
import { ReplayQuorum } from './replay-quorum.ts'
import { SettlementBatcher, settlementEntry } from './settlement.ts'
import { EarlyEvents, OracleTasks } from './tasks.ts'
import type { AuditRecord, OracleTask } from './tasks.ts'
import type { Assignment, Precommit, Reveal, Verdict } from '../../../protocols/messages/index.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskState } from '../../../protocols/queue/types.ts'
import type { Embedder, LlamaInferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { ChainContext, HubLog, HubWatcher } from '../shared/chain.ts'
import type { RoleMetrics } from '../shared/metrics.ts'
import type { MinerRegistrations } from '../shared/pool.ts'
import type { PeerId } from '@libp2p/interface'

export type { OracleTask } from './tasks.ts'

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
  /** on-chain liveness heartbeat; must be well under the hub's heartbeat timeout; default a third of it (leadership.ts) */
  chainHeartbeatMs?: number
  timeouts?: Partial<QueueTimeouts>
  /** fraction of settled tasks whose agreeing outputs are audited (replayed) anyway; default policy DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  similarityThreshold?: number
  /** follow the mesh this long before joining the hub's leader round-robin while another oracle leads; default the queue's task lifetime */
  warmUpMs?: number
  /** gather verdicts this long before one settlement transaction; default 250 ms */
  settleBatchMs?: number
  /** gather the leader's round-0 assignments this long before one hub transaction; default 250 ms */
  assignBatchMs?: number
  maxBatch?: number
  onLine?(line: string): void
}

export interface OracleStats {
  assigned: number
  reassigned: number
  validated: number
  settled: number
  /** tasks this oracle gave up on chain (as leader) */
  abandoned: number
  settleTransactions: number
  /** hub transactions this oracle sent with round-0 assignments (several tasks' each, under load) */
  assignTransactions: number
  /** the leader's round-0 draws this oracle recomputed as a follower; `selectionMismatches` of them differed */
  selectionChecks: number
  selectionMismatches: number
  /** of those, draws the pool at the announcement could not fill, checked as allowed by the pool now (not reproduced) */
  selectionRedraws: number
  replays: number
  slashed: number
  /** settled tasks this oracle audited (replayed after settlement because the draw sampled them) */
  audits: number
  /** accepted outputs that failed this oracle's audit */
  auditFailures: number
  /** gossip that contradicted the chain or this oracle's records, by the field at fault (its author scored down) */
  contradictions: Record<string, number>
}

const TICK_MS = 100
/** ended tasks (the latest) compared with the chain at start */
const RECONCILE_RECENT_TASKS = 256
/** with no task in flight nothing has a deadline: the clock slows down */
const IDLE_TICK_MS = 1000
/** acks and precommits kept per task while its assignment has not arrived */
const MAX_UNASSIGNED_EVENTS = 64

export class OracleRole {
  readonly init: OracleRoleInit
  readonly pool: PoolView
  /** which heartbeat authors are eligible miners on chain: only they enter the pool */
  readonly registrations: MinerRegistrations
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  readonly stats: OracleStats = { assigned: 0, reassigned: 0, validated: 0, settled: 0, abandoned: 0, settleTransactions: 0, assignTransactions: 0, selectionMismatches: 0, selectionChecks: 0, selectionRedraws: 0, replays: 0, slashed: 0, audits: 0, auditFailures: 0, contradictions: {} }
  private readonly tasks: OracleTasks
  private readonly submitted: SubmittedIndex
  private readonly owners: SessionOwners
  private readonly leadership: Leadership
  private uninstall?: () => void
  private watcher?: HubWatcher
  private readonly ticker: Ticker
  private stopped = false
  private replayQuorum = 2
  /** failed-replay attestations and the slashes they allow */
  private readonly replay: ReplayQuorum
  private readonly settlement: SettlementBatcher
  /** the hub's copies of round-0 assignments */
  private readonly assignments: AssignmentWrites
  private readonly assigner: Assigner
  private readonly verdict: LeaderVerdict
  /** the post-settlement audit draw and replays */
  private readonly auditor: Auditor
  /** events of tasks whose announcement has not passed its chain check here yet */
  private readonly unannounced = new EarlyEvents<(t: OracleTask) => Promise<void>>()
  /** miners that signed two different outputs, and their slashes */
  private readonly equivocations: Equivocations
  /** tasks the queue expired (or nobody can verify), given up on chain by the leader */
  private readonly abandons: Abandons
  /** the stats on the node's `/metrics` */
  private metrics?: RoleMetrics

  constructor (init: OracleRoleInit) {
    this.init = init
    this.address = init.node.peerIdentity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${init.node.config.network}`
    this.pool = new PoolView(init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    const say = (line: string): void => { this.say(line) }
    const apply = (task: OracleTask, event: QueueEvent): boolean => this.tasks.apply(task, event)
    this.tasks = new OracleTasks({
      datastore: init.node.datastore,
      stopped: () => this.stopped,
      onEffects: (task, effects) => { this.onEffects(task, effects) },
      say
    })
    this.submitted = new SubmittedIndex(init.chain)
    this.owners = new SessionOwners(init.chain)
    this.registrations = chainRegistrations(init.chain)
    this.leadership = new Leadership({ chain: init.chain, address: this.address, busy: () => this.tasks.active > 0 })
    this.ticker = new Ticker({ tick: (now) => { this.tasks.tick(now) }, busy: () => this.tasks.active > 0, busyMs: TICK_MS, idleMs: IDLE_TICK_MS })
    this.replay = new ReplayQuorum({
      node: init.node,
      chain: init.chain,
      engine: init.engine,
      embedder: init.embedder,
      address: this.address,
      prefix: this.prefix,
      quorum: () => this.replayQuorum,
      peerOf: (miner) => this.pool.get(miner)?.peerId,
      stopped: () => this.stopped,
      stats: this.stats,
      onReplayFailed: (_task, miner) => { this.pool.applyVerdict(miner, V.REPLAY_FAIL) },
      say
    })
    this.auditor = new Auditor({
      sampleRate: init.sampleRate,
      canReplay: init.engine != null,
      replay: this.replay,
      isLeader: async () => this.isLeader(),
      persist: async (task) => { await this.tasks.persist(task) },
      stats: this.stats,
      say
    })
    this.assignments = new AssignmentWrites({
      chain: init.chain,
      maxBatch: init.maxBatch ?? 50,
      batchMs: init.assignBatchMs ?? 250,
      isLeader: async () => this.isLeader(),
      stopped: () => this.stopped,
      persist: (task) => { this.tasks.enqueue(task, async () => { await this.tasks.persist(task) }) },
      replaceRefused: async (task, miner) => this.assigner.replaceRefused(task, miner),
      stats: this.stats,
      say
    })
    this.assigner = new Assigner({
      node: init.node,
      chain: init.chain,
      address: this.address,
      prefix: this.prefix,
      pool: this.pool,
      registrations: this.registrations,
      assignments: this.assignments,
      isLeader: async (maxAgeMs) => this.isLeader(maxAgeMs),
      apply,
      onAssigned: (task) => { this.onAssigned(task) },
      stats: this.stats,
      say
    })
    this.verdict = new LeaderVerdict({
      node: init.node,
      engine: init.engine,
      embedder: init.embedder,
      similarityThreshold: init.similarityThreshold,
      address: this.address,
      prefix: this.prefix,
      pool: this.pool,
      replay: this.replay,
      isLeader: async () => this.isLeader(),
      apply,
      stats: this.stats,
      say
    })
    this.equivocations = new Equivocations({
      chain: init.chain,
      isLeader: async () => this.isLeader(),
      stopped: () => this.stopped,
      persist: (task) => { this.tasks.enqueue(task, async () => { await this.tasks.persist(task) }) },
      onEquivocation: (_task, miner) => { this.pool.applyVerdict(miner, V.COMMIT_MISMATCH) },
      stats: this.stats,
      say
    })
    this.abandons = new Abandons({ chain: init.chain, isLeader: async () => this.isLeader(), onAbandoned: (tasks) => { this.stats.abandoned += tasks.length }, say })
    this.settlement = new SettlementBatcher({
      chain: init.chain,
      maxBatch: init.maxBatch ?? 50,
      batchMs: init.settleBatchMs ?? 250,
      isLeader: async () => this.isLeader(),
      stopped: () => this.stopped,
      entryFor: async (task) => settlementEntry({ chain: init.chain, assignments: this.assignments, abandon: (id, reason) => { this.abandons.add(id, reason) }, say }, task),
      onSettled: (tasks, txHash) => {
        this.stats.settleTransactions++
        for (const task of tasks) {
          this.tasks.enqueue(task, async () => {
            this.tasks.apply(task, { type: 'settled', txHash })
            this.stats.settled++
            await this.replay.slash(task)
            await this.equivocations.slash(task)
          })
        }
      },
      say
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
    return this.tasks.get(taskId)?.record.state
  }

  /** The post-settlement audit draw of a task, once this oracle has seen its settlement. */
  auditOf (taskId: bigint): AuditRecord | undefined {
    return this.tasks.get(taskId)?.record.audit
  }

  /** Whether this oracle leads now; with `maxAgeMs`, a leader read that recent naming it suffices (node/roles/oracle/leadership.ts). */
  async isLeader (maxAgeMs?: number): Promise<boolean> {
    return this.leadership.isLeader(maxAgeMs)
  }

  async start (): Promise<void> {
    const { node, chain } = this.init
    this.metrics = roleMetrics(node.registry, { oracle: this })
    const [replayQuorum, heartbeatTimeoutS] = await Promise.all([
      readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'replayQuorum' }),
      readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'heartbeatTimeoutS' })
    ])
    this.replayQuorum = Number(replayQuorum)
    const heartbeatMs = this.init.chainHeartbeatMs ?? chainHeartbeatMs(Number(heartbeatTimeoutS))
    // only this chain's records: a restarted local chain numbers its tasks from 1 again
    await this.tasks.load(
      await chainNamespace(chain.domain, { getBlock: async (args) => getBlock(chain.wallet, args) }),
      await readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'taskCount' })
    )
    // an assignment counts only from the hub's current leader, whose assignTasks call alone the hub accepts
    const base = defaultValidators({ isLeader: async (oracle) => this.leadership.leads(oracle) })
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.init.modelIds,
      onContradiction: (author, err) => {
        node.contradictions.add(author.toString())
        const field = (err as { field?: string }).field ?? 'unknown'
        this.stats.contradictions[field] = (this.stats.contradictions[field] ?? 0) + 1
      },
      validators: oracleValidators(base, {
        domain: chain.domain,
        submitted: this.submitted,
        owners: this.owners,
        registrations: this.registrations,
        record: (taskId) => this.tasks.get(taskId)?.record
      }),
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => { this.onEvent(m.taskId, async (t) => { this.onAssignment(t, m) }) },
        ack: (m) => { this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, ackEvent(m)) }) }) },
        // a majority of assigned miners declining (the task cannot run on the model) expires it at once
        decline: (m) => { this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, declineEvent(m)) }) }) },
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
    // polled four times a second while tasks are in flight, every few seconds while none is
    this.watcher = watchHub(chain, async (l) => {
      this.submitted.onLog(l)
      followRegistry(l, this.registrations, this.pool)
      await this.onChainLog(l)
    }, { busy: () => this.tasks.active > 0, onError: (err) => { log('chain poll: %s', err.message) } })
    this.submitted.follow(this.watcher)
    this.ticker.start()
    // a warm-up when another oracle leads: the longest a task lives in the queue, so this one leads only tasks it saw
    await this.leadership.start(heartbeatMs, this.init.warmUpMs ?? queueLifetimeMs(this.init.timeouts))
    this.reconcile().catch((err) => { this.say(`comparing records with the chain: ${err?.message ?? err}`) })
  }

  /**
   * Tasks this oracle's records call ended that the chain still holds open:
   * a local chain killed between two of its state writes lost their
   * settlement (or giving up). They are given up again, so no deposit stays
   * reserved for them. The latest records only: what a crash can lose.
   */
  private async reconcile (): Promise<void> {
    const ended = [...this.tasks.values()]
      .filter(t => isTerminal(t.record.state))
      .sort((a, b) => a.queued.taskId < b.queued.taskId ? 1 : -1)
      .slice(0, RECONCILE_RECENT_TASKS)
    for (const task of ended) {
      const onChain = await getTask(this.init.chain.wallet, { hub: this.init.chain.hub, taskId: task.queued.taskId }).catch(() => undefined)
      if (!this.stopped && (onChain?.status === 'queued' || onChain?.status === 'assigned')) {
        this.say(`task ${task.queued.taskId}: ${task.record.state.phase} here but open on chain (the chain lost its last blocks): given up`)
        this.abandons.add(task.queued.taskId, 'settlement-timeout')
      }
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    this.metrics?.unregister()
    this.ticker.stop()
    this.leadership.stop()
    this.watcher?.stop()
    this.uninstall?.()
    await this.assignments.stop()
    await Promise.allSettled([...this.tasks.values()].flatMap(t => [t.chain, t.assignWrite ?? Promise.resolve()]))
    await this.settlement.stop()
    await this.abandons.stop()
  }

  // ------------------------------------------------------------ bookkeeping

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    if (this.tasks.has(m.taskId)) {
      return
    }
    log('task %s: announced', m.taskId)
    const { state, effects } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: OracleTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), seed: '0x', state, precommits: {}, reveals: {}, announcedAtMs: Date.now() }, chain: Promise.resolve() }
    // the pool now, before the task's own assignment moves reservations and load: what its draw is made from
    task.view = this.pool.records(m.sessionId, Date.now(), { claimed: true })
    this.tasks.add(task)
    // the clock, the chain poller and the leader read pick up pace with the first task after a quiet spell
    this.ticker.wake()
    this.watcher?.wake()
    void this.leadership.refresh()
    this.tasks.enqueue(task, async () => {
      const submitted = await this.submitted.lookup(m.taskId)
      this.submitted.delete(m.taskId)
      task.record.seed = submitted.seed
      task.record.submitBlock = submitted.blockNumber.toString()
      // the draw honours the session's SLA (an unreadable session: the standard one)
      task.record.slaClass = await this.owners.slaClass(m.sessionId).catch(() => undefined)
      // and counts the delivered speeds of tasks settled before this one was submitted: the poller must have seen them
      await awaitSettledBefore(this.pool, this.watcher, submitted.blockNumber, () => this.stopped)
      // the record is written while the leader assigns (the first token waits on the assignment); a later
      // write of the task is issued after this one, so the store ends with the latest state
      this.tasks.persist(task).catch((err) => { this.say(`task ${m.taskId}: ${err?.message ?? err}`) })
      this.onEffects(task, effects)
    })
    // what overtook the announcement (an assignment, acks) comes after it
    for (const fn of this.unannounced.take(m.taskId.toString())) {
      this.tasks.enqueue(task, fn)
    }
  }

  /** Run `fn` on the task in arrival order; for a task whose announcement is still being checked, once it is in. */
  private onEvent (taskId: bigint, fn: (t: OracleTask) => Promise<void>): void {
    const task = this.tasks.get(taskId)
    if (task != null) {
      this.tasks.enqueue(task, fn)
    } else {
      this.unannounced.add(taskId.toString(), fn)
    }
  }

  private onEffects (task: OracleTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'select-miners':
        case 'assignment-overdue':
          this.tasks.enqueue(task, async () => { await this.assigner.assign(task) })
          break
        case 'reassign':
          this.tasks.enqueue(task, async () => { await this.assigner.reassign(task, e.round) })
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
          this.tasks.enqueue(task, async () => { await this.verdict.validate(task) })
          break
        case 'reveal-window-open': {
          const early = task.early ?? []
          task.early = undefined
          for (const r of early) {
            this.tasks.enqueue(task, async () => { this.onReveal(task, r) })
          }
          break
        }
        case 'settle':
          this.settlement.add(task)
          break
        case 'expired':
          this.say(`task ${task.queued.taskId}: expired (${e.reason})`)
          this.abandons.add(task.queued.taskId, e.reason)
          break
        default:
          break
      }
    }
  }

  // ------------------------------------------------------------ task events

  private onAssignment (task: OracleTask, m: Assignment): void {
    // followers recompute the draw from the same seed and pool
    this.assigner.checkDraw(task, m)
    if (this.tasks.apply(task, assignedEvent(m))) {
      if (m.round === 0) {
        // what the hub must hold before settlement, whoever leads then
        task.record.assigned ??= m.miners.map(b => bytesToHex(b).toLowerCase())
        this.onAssigned(task)
      } else if (m.replaced.length > 0 && task.record.assigned != null) {
        // miners the hub refused, replaced before it held the assignment: it is asked to hold the new one
        const replaced = m.replaced.map(b => bytesToHex(b).toLowerCase())
        const by = m.miners.map(b => bytesToHex(b).toLowerCase())
        task.record.assigned = task.record.assigned.map(a => replaced.includes(a) ? by[replaced.indexOf(a)] ?? a : a)
      }
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
    if (this.tasks.apply(task, precommitEvent(m))) {
      task.record.precommits[miner] = { commitment: bytesToHex(m.commitment), signature: bytesToHex(m.signature) }
      task.record.precommitAtMs = { ...task.record.precommitAtMs, [miner]: Date.now() }
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
    if (this.tasks.apply(task, revealEvent(m, matches)) && outputCid != null) {
      task.record.reveals[miner] = { outputCid: outputCid.toString(), salt: bytesToHex(m.salt) }
    }
    // a second, different signed reveal is refused by the queue but may prove equivocation
    this.tasks.enqueue(task, async () => { await this.equivocations.onReveal(task, m) })
  }

  private async onVerdict (task: OracleTask, m: Verdict): Promise<void> {
    const sender = bytesToHex(m.oracle).toLowerCase()
    await this.replay.collect(task, m)
    const signed = m.miners.some(v => v.replaySignature != null)
    // a follower's attestation is not the task's verdict; only the leader's is
    if (!signed || await this.leadership.leads(sender)) {
      const outcomes: Record<string, MinerVerdict.Outcome> = {}
      for (const v of m.miners) {
        outcomes[bytesToHex(v.miner).toLowerCase()] = v.outcome
      }
      if (this.tasks.apply(task, verdictEvent(m))) {
        task.record.outcomes = outcomes
        // the leader's scores and measurements, so this oracle's draws match the leader's (node/roles/oracle/draws.ts)
        for (const [miner, outcome] of Object.entries(outcomes)) {
          this.pool.applyVerdict(miner, outcomeVerdict(outcome))
        }
        this.pool.delivery.addVerdict(m)
      }
    }
    // whichever oracle this one takes for the leader (a read may lag a takeover), a failed replay it has
    // not signed yet is replayed here, and signatures that may complete the quorum are tried at once
    if (sender !== this.address && this.replayQuorum > 1) {
      await this.replay.attest(task, m)
    }
    if (signed) {
      await this.trySlash(task)
    }
  }

  /** Slash once the task is settled and enough attestations are in (the leader only). */
  private async trySlash (task: OracleTask): Promise<void> {
    if (task.record.state.phase === 'settled' && await this.isLeader()) {
      await this.replay.slash(task)
    }
  }

  // ------------------------------------------------------------ settlement

  private async onChainLog (l: HubLog): Promise<void> {
    this.abandons.onChainLog(l)
    if (l.eventName !== 'TasksSettled') {
      return
    }
    for (const id of settledTaskIds(l.args.settled)) {
      // measured delivery of a task counts for draws of tasks submitted after this block (protocols/pool/delivery.ts)
      if (l.blockNumber != null) {
        this.pool.delivery.settle(id, l.blockNumber)
      }
      const task = this.tasks.get(id)
      if (task == null) {
        continue
      }
      this.tasks.enqueue(task, async () => {
        if (!isTerminal(task.record.state) && !this.tasks.apply(task, { type: 'settled', txHash: l.transactionHash })) {
          // settled by another oracle before this one saw the verdict
          task.record.state = { ...task.record.state, phase: 'settled', txHash: l.transactionHash, phaseDeadlineMs: null }
          await this.tasks.persist(task)
        }
        if (l.blockHash != null && task.record.state.phase === 'settled') {
          await this.auditor.onSettled(task, l.blockHash)
        }
      })
    }
  }
}
