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
 * A service in the style of js-libp2p's: `oracle(init)(components)`, the
 * components being the slice of the node it uses (`oracleComponents`). This
 * file wires the parts together and runs their lifecycle; they live beside
 * it: a task's way through the oracle (flow.ts), the task records
 * (tasks.ts), leadership and the chain heartbeat (leadership.ts), the draws
 * and assignments (draws.ts, assigner.ts, assignment-writes.ts), the verdict
 * (leader-verdict.ts, replay-quorum.ts, audit.ts, equivocation.ts) with
 * the engine of each task's own model (models.ts), the
 * settlement and the tasks given up (settlement.ts, abandons.ts), the
 * metrics (metrics.ts). Every timer, sleep and retry of the role ends with
 * its signal, aborted by `stop()`.
 */
import { logger } from '@libp2p/logger'
import { getBlock, readContract } from 'viem/actions'
import { cortensorHubAbi } from '../../../contracts/index.ts'
import { defaultValidators, installGossip } from '../../../protocols/gossip/index.ts'
import { Verdict as V } from '../../../protocols/policy/verdicts.ts'
import { queueLifetimeMs } from '../../../protocols/queue/machine.ts'
import { SessionOwners, SubmittedIndex, watchHub } from '../shared/chain.ts'
import { DeliveryStore } from '../shared/delivery-store.ts'
import { oracleValidators } from '../shared/gossip-checks.ts'
import { PoolView, chainRegistrations, followRegistry } from '../shared/pool.ts'
import { chainNamespace } from '../shared/records.ts'
import { Ticker } from '../shared/ticker.ts'
import { Abandons } from './abandons.ts'
import { Assigner } from './assigner.ts'
import { AssignmentWrites } from './assignment-writes.ts'
import { Auditor } from './audit.ts'
import { ASSIGN_BATCH_MS, IDLE_TICK_MS, MAX_BATCH, MINER_HEARTBEAT_INTERVAL_MS, SETTLE_BATCH_MS, TICK_MS } from './constants.ts'
import { Equivocations } from './equivocation.ts'
import { TaskFlow } from './flow.ts'
import { LeaderVerdict } from './leader-verdict.ts'
import { Leadership, chainHeartbeatMs } from './leadership.ts'
import { OracleMetrics } from './metrics.ts'
import { OracleModels } from './models.ts'
import { ReplayQuorum } from './replay-quorum.ts'
import { SettlementBatcher, settlementEntry } from './settlement.ts'
import { OracleTasks } from './tasks.ts'
import type { AuditRecord, OracleComponents, OracleInit, OracleStats, OracleTask } from './types.ts'
import type { TaskState } from '../../../protocols/queue/types.ts'
import type { CortensorNode } from '../../node.ts'
import type { ChainContext, HubWatcher } from '../shared/chain.ts'
import type { MinerRegistrations } from '../shared/pool.ts'

export type { AuditRecord, OracleComponents, OracleInit, OracleRecord, OracleStats, OracleTask } from './types.ts'

const log = logger('cortensor:oracle')

/** The oracle as a service: `oracle(init)(components)`. */
export function oracle (init: OracleInit): (components: OracleComponents) => OracleRole {
  return (components) => new OracleRole(components, init)
}

/** The slice of a started node (and its chain context) the oracle uses. */
export function oracleComponents (node: CortensorNode, chain: ChainContext): OracleComponents {
  return {
    libp2p: node.libp2p,
    store: node.store,
    datastore: node.datastore,
    registry: node.registry,
    contradictions: node.contradictions,
    identity: node.peerIdentity,
    network: node.config.network,
    chain
  }
}

export class OracleRole {
  readonly init: OracleInit
  readonly pool: PoolView
  /** which heartbeat authors are eligible miners on chain: only they enter the pool */
  readonly registrations: MinerRegistrations
  /** the models followed, and each one's engine and embedder */
  readonly models: OracleModels
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  private readonly components: OracleComponents
  /** aborted by `stop()`: every timer, sleep and retry of the role ends with it */
  private readonly controller = new AbortController()
  private readonly metrics = new OracleMetrics()
  private readonly tasks: OracleTasks
  private readonly submitted: SubmittedIndex
  private readonly owners: SessionOwners
  private readonly leadership: Leadership
  private readonly ticker: Ticker
  private readonly flow: TaskFlow
  private readonly assignments: AssignmentWrites
  private readonly settlement: SettlementBatcher
  private readonly abandons: Abandons
  /** the pool's delivery measurements and reputation scores, kept across restarts */
  private readonly delivery: DeliveryStore
  private uninstall?: () => void
  private watcher?: HubWatcher
  private replayQuorum = 2

  constructor (components: OracleComponents, init: OracleInit) {
    this.components = components
    this.init = init
    const { chain } = components
    const signal = this.controller.signal
    this.address = components.identity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${components.network}`
    this.models = new OracleModels(init)
    this.pool = new PoolView(init.heartbeatIntervalMs ?? MINER_HEARTBEAT_INTERVAL_MS)
    this.delivery = new DeliveryStore({ datastore: components.datastore, role: 'oracle', pool: this.pool })
    const say = (line: string): void => { this.say(line) }
    const isLeader = async (): Promise<boolean> => this.isLeader()
    const metrics = this.metrics
    // what fetches prompts and outputs from their holders for the replays
    const fetcher = { libp2p: components.libp2p, store: components.store, config: { network: components.network } }
    const pubsub = components.libp2p.services.pubsub
    this.tasks = new OracleTasks({ datastore: components.datastore, signal, onEffects: (task, effects) => { this.flow.onEffects(task, effects) }, say })
    const tasks = this.tasks
    const persistLater = (task: OracleTask): void => { tasks.enqueue(task, async () => { await tasks.persist(task) }) }
    this.submitted = new SubmittedIndex(chain)
    this.owners = new SessionOwners(chain)
    this.registrations = chainRegistrations(chain)
    this.leadership = new Leadership({ chain, address: this.address, busy: () => tasks.active > 0, signal })
    this.ticker = new Ticker({ tick: (now) => { tasks.tick(now) }, busy: () => tasks.active > 0, busyMs: TICK_MS, idleMs: IDLE_TICK_MS })
    const replay = new ReplayQuorum({
      node: fetcher,
      chain,
      privateKey: components.identity.privateKey,
      models: this.models,
      address: this.address,
      prefix: this.prefix,
      quorum: () => this.replayQuorum,
      peerOf: (miner) => this.pool.get(miner)?.peerId,
      signal,
      metrics,
      onReplayFailed: (_task, miner) => { this.pool.applyVerdict(miner, V.REPLAY_FAIL) },
      say
    })
    const auditor = new Auditor({ sampleRate: init.sampleRate, canReplay: (modelId) => this.models.canReplay(modelId), replay, isLeader, persist: async (task) => { await tasks.persist(task) }, metrics, say })
    this.assignments = new AssignmentWrites({
      chain,
      maxBatch: init.maxBatch ?? MAX_BATCH,
      batchMs: init.assignBatchMs ?? ASSIGN_BATCH_MS,
      isLeader,
      signal,
      persist: persistLater,
      replaceRefused: async (task, miner) => assigner.replaceRefused(task, miner),
      metrics,
      say
    })
    const assigner = new Assigner({
      pubsub,
      chain,
      signal,
      address: this.address,
      prefix: this.prefix,
      pool: this.pool,
      registrations: this.registrations,
      assignments: this.assignments,
      isLeader: async (maxAgeMs) => this.isLeader(maxAgeMs),
      apply: (task, event) => tasks.apply(task, event),
      onAssigned: (task) => { this.flow.onAssigned(task) },
      metrics,
      say
    })
    const verdict = new LeaderVerdict({
      node: fetcher,
      models: this.models,
      similarityThreshold: init.similarityThreshold,
      address: this.address,
      prefix: this.prefix,
      pool: this.pool,
      replay,
      isLeader,
      apply: (task, event) => tasks.apply(task, event),
      metrics,
      say
    })
    const equivocations = new Equivocations({
      chain,
      isLeader,
      signal,
      persist: persistLater,
      onEquivocation: (_task, miner) => { this.pool.applyVerdict(miner, V.COMMIT_MISMATCH) },
      metrics,
      say
    })
    this.abandons = new Abandons({ chain, isLeader, onAbandoned: (given) => { metrics.task('abandoned', given.length) }, say })
    this.settlement = new SettlementBatcher({
      chain,
      maxBatch: init.maxBatch ?? MAX_BATCH,
      batchMs: init.settleBatchMs ?? SETTLE_BATCH_MS,
      isLeader,
      signal,
      entryFor: async (task) => settlementEntry({ chain, assignments: this.assignments, abandon: (id, reason) => { this.abandons.add(id, reason) }, say }, task),
      onSettled: (settled, txHash) => {
        metrics.transaction('settle')
        for (const task of settled) {
          tasks.enqueue(task, async () => {
            tasks.apply(task, { type: 'settled', txHash })
            metrics.task('settled')
            await replay.slash(task)
            await equivocations.slash(task)
          })
        }
      },
      say
    })
    this.flow = new TaskFlow({
      chain,
      timeouts: init.timeouts,
      tasks,
      pool: this.pool,
      submitted: this.submitted,
      owners: this.owners,
      leadership: this.leadership,
      assigner,
      verdict,
      replay,
      equivocations,
      settlement: this.settlement,
      abandons: this.abandons,
      auditor,
      address: this.address,
      replayQuorum: () => this.replayQuorum,
      watcher: () => this.watcher,
      wake: () => { this.ticker.wake() },
      signal,
      say
    })
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  /** What this oracle has done so far, as its metrics count it. */
  get stats (): OracleStats {
    return this.metrics.stats
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
    const { chain, libp2p, registry, contradictions } = this.components
    this.metrics.register(registry)
    const [replayQuorum, heartbeatTimeoutS] = await Promise.all([
      readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'replayQuorum' }),
      readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'heartbeatTimeoutS' })
    ])
    this.replayQuorum = Number(replayQuorum)
    const heartbeatMs = this.init.chainHeartbeatMs ?? chainHeartbeatMs(Number(heartbeatTimeoutS))
    // only this chain's records: a restarted local chain numbers its tasks from 1 again
    const namespace = await chainNamespace(chain.domain, { getBlock: async (args) => getBlock(chain.wallet, args) })
    await this.tasks.load(namespace, await readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'taskCount' }))
    // the measurements and scores its draws counted before a restart, so they match the other oracles' at once
    await this.delivery.load(namespace)
    // an assignment counts only from the hub's current leader, whose assignTasks call alone the hub accepts
    const base = defaultValidators({ isLeader: async (oracle) => this.leadership.leads(oracle) })
    const flow = this.flow
    this.uninstall = installGossip(libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.models.ids,
      onContradiction: (author, err) => {
        contradictions.add(author.toString())
        this.metrics.contradiction((err as { field?: string }).field ?? 'unknown')
      },
      validators: oracleValidators(base, {
        domain: chain.domain,
        submitted: this.submitted,
        owners: this.owners,
        registrations: this.registrations,
        record: (taskId) => this.tasks.get(taskId)?.record,
        sessionOf: (taskId) => this.tasks.get(taskId)?.queued.sessionId
      }),
      handlers: {
        task: (m, meta) => { flow.onTaskQueued(m, meta.from) },
        assignment: (m) => { flow.onAssignmentMessage(m) },
        ack: (m) => { flow.onAck(m) },
        decline: (m) => { flow.onDecline(m) },
        precommit: (m) => { flow.onPrecommitMessage(m) },
        reveal: (m) => { flow.onRevealMessage(m) },
        verdict: (m) => { flow.onVerdictMessage(m) },
        'first-token': (m) => { flow.onFirstToken(m) },
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
      await flow.onChainLog(l)
    }, { busy: () => this.tasks.active > 0, onError: (err) => { log('chain poll: %s', err.message) } })
    this.submitted.follow(this.watcher)
    this.ticker.start()
    // a warm-up when another oracle leads: the longest a task lives in the queue, so this one leads only tasks it saw
    await this.leadership.start(heartbeatMs, this.init.warmUpMs ?? queueLifetimeMs(this.init.timeouts))
    flow.reconcile().catch((err) => { this.say(`comparing records with the chain: ${err?.message ?? err}`) })
  }

  async stop (): Promise<void> {
    if (this.controller.signal.aborted) {
      return
    }
    this.controller.abort()
    this.metrics.unregister()
    this.ticker.stop()
    this.leadership.stop()
    this.watcher?.stop()
    this.uninstall?.()
    await this.assignments.stop()
    await Promise.allSettled([...this.tasks.values()].flatMap(t => [t.chain, t.assignWrite ?? Promise.resolve()]))
    await this.settlement.stop()
    await this.abandons.stop()
    await this.delivery.stop()
  }
}
