/**
 * The miner role: advertise on the heartbeat topic, follow the session queue
 * of every task for its model, and when assigned: ack, fetch the prompt by
 * CID, generate in deterministic mode while streaming tokens to the
 * submitter, store the output in Helia, precommit (EIP-712, node key) and
 * reveal once the reveal window opens. Accepted work is kept in the
 * datastore, so a restarted miner still reveals what it committed to.
 *
 * Node pool: the miner provides its pool keys (model, hardware class, level;
 * protocols/pool) on the DHT at start and every `provideIntervalMs`, and is
 * an ephemeral node: the first task it accepts of a session S reserves it
 * for S until S's reserve period (from that moment) or S's task budget
 * ends, whichever is first; meanwhile it acks only S's assignments and says
 * so in its heartbeats, which is what keeps it out of other sessions' draws.
 *
 * Beside it: advert.ts (heartbeats, pool keys, level), tasks.ts (the queue
 * state of each task, its records), assignment.ts (an assignment taken, a
 * restart resumed), work.ts (the work machine's effects: generation,
 * precommit, decline, reveal), speculation.ts (work on the miner's own
 * draw), streams.ts (token streams), behaviour.ts (the honest miner and the
 * faults of tests and demos). The work on one task is the pure machine of
 * protocols/miner/machine.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { bytesToHex } from 'viem'
import { getBlock, readContract } from 'viem/actions'
import { cortensorHubAbi } from '../../../contracts/index.ts'
import { defaultValidators, installGossip, publishMessage } from '../../../protocols/gossip/index.ts'
import { TaskQueued } from '../../../protocols/messages/index.ts'
import { isSpeculative } from '../../../protocols/miner/machine.ts'
import { PoolView } from '../../../protocols/pool/view.ts'
import { ackEvent, declineEvent, precommitEvent } from '../../../protocols/queue/wire.ts'
import { KINDS_MINERS_DO_NOT_JOIN, TOPIC_KINDS, buildTopic } from '../../../protocols/topics.ts'
import { chainCheckedValidators } from '../shared/gossip-checks.ts'
import { chainNamespace } from '../shared/records.ts'
import { serveTokenStream, streamProtocol } from '../shared/stream.ts'
import { Ticker } from '../shared/ticker.ts'
import { outcomeVerdict } from '../shared/validation.ts'
import { MinerAdvert, chainReader } from './advert.ts'
import { Assignments } from './assignment.ts'
import { minerBehaviour } from './behaviour.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, IDLE_TICK_MS, MAX_OVERTAKING_EVENTS, PUBLISH_POLL_MS, PUBLISH_WAIT_MS, STREAM_TIMEOUT_MS, TICK_MS } from './constants.ts'
import { MinerMetrics } from './metrics.ts'
import { SessionReservation } from './reservation.ts'
import { drawsSelf } from './speculation.ts'
import { MinerCounts } from './stats.ts'
import { streamOf } from './streams.ts'
import { MinerTasks, wake } from './tasks.ts'
import { MinerWork } from './work.ts'
import type { MinerBehaviour, MinerComponents, MinerRoleInit, MinerStats, MinerTask, SpeculationStats } from './types.ts'
import type { PublishKind } from './work.ts'
import type { Assignment, Precommit, Reveal, Verdict } from '../../../protocols/messages/index.ts'
import type { PoolAdvert } from '../../../protocols/pool/index.ts'
import type { QueueEffect } from '../../../protocols/queue/types.ts'
import type { InferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { PeerId } from '@libp2p/interface'

export type { MinerBehaviour, MinerComponents, MinerFaults, MinerRoleInit, MinerStats, SpeculationStats } from './types.ts'
export { honestBehaviour, minerBehaviour } from './behaviour.ts'

const log = logger('cortensor:miner')

/** The miner as a service: `miner(init)(components)`, components being the slice of a node it uses. */
export function miner (init: Omit<MinerRoleInit, 'node'>): (components: MinerComponents) => MinerRole {
  return (components) => new MinerRole({ ...init, node: components })
}

/** The components a started node gives the miner. */
export function minerComponents (node: CortensorNode): MinerComponents {
  return { libp2p: node.libp2p, store: node.store, datastore: node.datastore, registry: node.registry, contradictions: node.contradictions, peerIdentity: node.peerIdentity, config: node.config }
}

export class MinerRole {
  readonly init: MinerRoleInit
  readonly modelId: string
  /** every model served: `modelId` first */
  readonly modelIds: string[]
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  /** the pool as this miner sees it (heartbeats, its own included; verdicts), for its own draws */
  readonly pool: PoolView
  /** the honest miner, or the faults of a test or demo */
  readonly behaviour: MinerBehaviour
  private readonly counts: MinerCounts
  /** the counts on the node's `/metrics` */
  private metrics?: MinerMetrics
  private readonly tasks: MinerTasks
  private readonly work: MinerWork
  private readonly assignments: Assignments
  private readonly reservation: SessionReservation
  private readonly advertiser: MinerAdvert
  private uninstall?: () => void
  private readonly ticker: Ticker
  /** the engine of each model served */
  private readonly engines = new Map<string, InferenceEngine>()
  private busy = false
  /** aborted by stop(): every wait, timer and retry of the role ends with it */
  private readonly lifetime = new AbortController()

  constructor (init: MinerRoleInit) {
    const address = init.node.peerIdentity.address.toLowerCase()
    const signal = this.lifetime.signal
    this.behaviour = init.behaviour ?? minerBehaviour(init.faults, { node: init.node, domain: init.domain, address, signal })
    this.init = { ...init, engine: this.behaviour.engine(init.engine) }
    this.modelId = this.init.modelId ?? this.init.engine.modelId
    this.engines.set(this.modelId, this.init.engine)
    for (const e of this.init.engines ?? []) {
      if (!this.engines.has(e.modelId)) {
        this.engines.set(e.modelId, e)
      }
    }
    this.modelIds = [...this.engines.keys()]
    this.address = address
    this.counts = new MinerCounts(this.address, this.modelIds)
    this.prefix = this.init.topicPrefix ?? `/${this.init.node.config.network}`
    this.tasks = new MinerTasks({ settings: this.init, address, signal, onEffects: (task, effects) => { this.onEffects(task, effects) } })
    this.pool = new PoolView(this.init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.reservation = new SessionReservation({
      chain: () => chainReader(this.init.chain),
      knownTasks: (sessionId) => this.tasks.idsOf(sessionId),
      busyWith: (sessionId) => this.tasks.busyWith(sessionId),
      onChange: () => { void this.advertiser.heartbeat() },
      say: (line) => { this.say(line) },
      signal,
      idleMs: () => this.init.reservationIdleMs
    })
    const publish = async (kind: PublishKind, message: unknown): Promise<void> => { await this.publish(kind, message) }
    this.work = new MinerWork({
      settings: this.init,
      modelId: this.modelId,
      address,
      tasks: this.tasks,
      reservation: this.reservation,
      behaviour: this.behaviour,
      counts: this.counts,
      signal,
      engineOf: (m) => this.engineOf(m),
      publish,
      say: (line) => { this.say(line) },
      onLoadChange: () => { this.onLoadChange() }
    })
    this.assignments = new Assignments({ address, tasks: this.tasks, work: this.work, reservation: this.reservation, signal, publish, say: (line) => { this.say(line) } })
    this.advertiser = new MinerAdvert({
      settings: this.init,
      behaviour: this.behaviour,
      address,
      modelId: this.modelId,
      modelIds: this.modelIds,
      engines: [...this.engines.values()],
      prefix: this.prefix,
      pool: this.pool,
      load: () => this.work.committedLoad,
      reservation: () => this.reservation.current,
      say: (line) => { this.say(line) }
    })
    this.ticker = new Ticker({ tick: (now) => { this.onTick(now) }, busy: () => this.tasks.size > 0, busyMs: TICK_MS, idleMs: IDLE_TICK_MS })
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  async start (): Promise<void> {
    const { node } = this.init
    this.metrics = this.counts.metrics = new MinerMetrics({ registry: node.registry, address: this.address, models: this.modelIds, chain: this.init.chain, load: () => this.load })
    await this.advertiser.prepare()
    // work accepted before a restart, on this chain (a restarted local chain numbers its tasks from 1 again)
    const wallet = this.init.chain?.wallet
    this.tasks.useChain(await chainNamespace(this.init.domain, wallet == null ? undefined : { getBlock: async (args) => getBlock(wallet, args) }))
    if (this.init.chain != null) {
      const chain = this.init.chain
      for (const id of await this.tasks.dropBeyond(await readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'taskCount' }))) {
        this.say(`task ${id}: not on the chain (it lost its last blocks): its record is dropped`)
      }
    }
    for await (const task of this.tasks.restore()) {
      this.assignments.resume(task)
    }
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.modelIds,
      // others' reveals and the submitters' first-token reports are for the oracles: an honest miner publishes
      // its reveals to them without receiving, checking and relaying everyone's (decision 0023)
      kinds: TOPIC_KINDS.filter(k => !KINDS_MINERS_DO_NOT_JOIN.includes(k) || (k === 'reveal' && this.behaviour.watchesReveals)),
      // with the chain: announcements by their session's owner only, heartbeats by eligible miners only
      validators: this.init.chain != null ? chainCheckedValidators(defaultValidators(), this.init.chain) : defaultValidators(),
      onContradiction: (author) => { node.contradictions.add(author.toString()) },
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => {
          this.adoptAnnouncement(m)
          this.tasks.onEvent(m.taskId, async (t) => { await this.assignments.onAssignment(t, m) })
        },
        // acks, declines and precommits come on other topics than the assignment and may overtake it
        ack: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, ackEvent(m)) }) }) },
        // a majority of declines ends the task here too (declines concern the task, not the miner)
        decline: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, declineEvent(m)) }) }) },
        precommit: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.onPrecommit(t, m) }) }) },
        reveal: (m) => { this.tasks.onEvent(m.taskId, async () => { this.onReveal(m) }) },
        verdict: (m) => { this.onVerdict(m) },
        // not listened to (above)
        'first-token': () => {},
        heartbeat: (m, meta) => {
          if (meta.from != null) {
            this.pool.onHeartbeat(m, meta.from)
          }
        }
      }
    })
    await node.libp2p.handle(streamProtocol(node.config.network), (stream, connection) => {
      void serveTokenStream(stream, connection.remotePeer, {
        timeoutMs: STREAM_TIMEOUT_MS,
        lookup: async (taskId, remote) => streamOf(this.tasks, taskId, remote, this.lifetime.signal)
      })
    }, { runOnLimitedConnection: true })
    this.ticker.start()
    this.advertiser.start()
  }

  async stop (): Promise<void> {
    if (this.lifetime.signal.aborted) {
      return
    }
    // draws pass it over from now on, rather than until its last heartbeat ages out (three periods)
    await this.advertiser.farewell().catch(() => {})
    this.lifetime.abort()
    this.metrics?.unregister()
    this.ticker.stop()
    this.advertiser.stop()
    for (const t of this.tasks.values()) {
      if (isSpeculative(t.record.work)) {
        await this.work.handle(t, { type: 'not-assigned' }).catch(() => {})
      }
      t.run?.abort.abort()
      wake(t)
    }
    await this.tasks.idle()
    this.uninstall?.()
    await this.init.node.libp2p.unhandle(streamProtocol(this.init.node.config.network)).catch(() => {})
  }

  /** What the miner has done since it started (its `/metrics`). */
  get stats (): MinerStats {
    return this.counts.stats
  }

  /** What speculative starts came to. */
  get speculation (): SpeculationStats {
    return this.counts.speculation
  }

  /**
   * Becoming busy (every sequence of every engine in use) or free again is
   * told at once, not at the next heartbeat: draws skip a busy miner
   * (protocols/selection/routing.ts).
   */
  private onLoadChange (): void {
    let sequences = 0
    for (const e of this.engines.values()) {
      sequences += e.sequences ?? 1
    }
    const busy = this.work.committedLoad >= sequences
    if (busy !== this.busy) {
      this.busy = busy
      void this.advertiser.heartbeat()
    }
  }

  /** Tasks running that an assignment gave this miner: what heartbeats advertise as load (MinerWork.committedLoad). */
  get committedLoad (): number {
    return this.work.committedLoad
  }

  /** Tasks this miner works on now. */
  get load (): number {
    return this.work.load
  }

  /** The session this miner is reserved for, and until when at the latest (once the session is read). */
  get reservedFor (): { sessionId: bigint, untilMs?: number } | undefined {
    const r = this.reservation.current
    return r == null ? undefined : { sessionId: r.sessionId, untilMs: r.untilMs }
  }

  /** What the miner advertises in its heartbeats and under its DHT pool keys. */
  get advert (): PoolAdvert {
    return this.advertiser.advert
  }

  /** The engine of the task's model (undefined: a model this miner does not serve). */
  engineOf (m: Pick<TaskQueued, 'params'>): InferenceEngine | undefined {
    return this.engines.get(m.params?.modelId ?? '')
  }

  /** Publish once someone listens: right after a (re)start the gossip mesh may not have formed yet. */
  private async publish (kind: PublishKind, message: unknown): Promise<void> {
    const pubsub = this.init.node.libp2p.services.pubsub
    const topic = buildTopic(kind, undefined, { prefix: this.prefix })
    const deadline = Date.now() + PUBLISH_WAIT_MS
    const signal = this.lifetime.signal
    while (pubsub.getSubscribers(topic).length === 0 && Date.now() < deadline && !signal.aborted) {
      await sleep(PUBLISH_POLL_MS, undefined, { signal }).catch(() => {})
    }
    await publishMessage(pubsub, kind, message as any, { prefix: this.prefix })
  }

  /** A verdict changes reputations in this miner's pool view, and may change its own level. */
  private onVerdict (m: Verdict): void {
    this.counts.verdict(m)
    // the leader's reputation changes, as its view makes them, for this miner's own draws
    for (const v of m.miners) {
      this.pool.applyVerdict(bytesToHex(v.miner), outcomeVerdict(v.outcome))
    }
    this.pool.delivery.addVerdict(m)
    this.advertiser.onVerdict(m)
  }

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const id = m.taskId.toString()
    if (this.tasks.has(id)) {
      // the submitter's other announcement of the task: the assignment says which one is the chain's
      this.tasks.addAlternative(m, from)
      return
    }
    this.reservation.onTaskAnnounced(m.sessionId, id)
    const { task, early } = this.tasks.add(m, from)
    this.ticker.wake()
    const engine = this.engineOf(m)
    const busy = this.lifetime.signal.aborted || engine == null || this.work.activeOn(m) >= (engine.sequences ?? 1) || !this.reservation.mayServe(m.sessionId)
    if (!early && drawsSelf(m, { pool: this.pool, address: this.address, behaviour: this.behaviour, busy })) {
      this.work.handle(task, { type: 'speculate' }).catch((err) => { log('task %s: %s', id, err?.message) })
    }
  }

  /** A replacement of a task this miner never heard of (it joined later): the assignment carries the announcement. */
  private adoptAnnouncement (m: Assignment): void {
    if (m.announcement == null || this.tasks.has(m.taskId.toString()) || !m.miners.some(b => bytesToHex(b).toLowerCase() === this.address)) {
      return
    }
    const queued = TaskQueued.decode(m.announcement)
    this.reservation.onTaskAnnounced(queued.sessionId, queued.taskId.toString())
    this.tasks.add(queued)
  }

  private onTick (now: number): void {
    this.reservation.check(now)
    this.tasks.tick(now)
  }

  /** The queue's effects that concern this miner's work. */
  private onEffects (task: MinerTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      if (e.type === 'reveal-window-open' && e.miners.includes(this.address)) {
        this.tasks.enqueue(task, async () => { await this.work.handle(task, { type: 'reveal-window' }) })
      }
      if ((e.type === 'reassign' && e.miner === this.address) || e.type === 'expired') {
        task.run?.abort.abort()
      }
    }
  }

  /** Run `fn` now, or once the assignment is applied if the event overtook it. */
  private afterAssignment (task: MinerTask, fn: () => void): void {
    if (task.record.state.phase !== 'queued') {
      fn()
    } else if (task.overtaken.length < MAX_OVERTAKING_EVENTS) {
      task.overtaken.push(fn)
    }
  }

  private onPrecommit (task: MinerTask, m: Precommit): void {
    this.tasks.apply(task, precommitEvent(m))
    this.behaviour.onPrecommit(m)
  }

  private onReveal (m: Reveal): void {
    this.behaviour.onReveal(m)
  }
}
