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
 * Beside it: miner-advert.ts (heartbeats, pool keys, level), miner-tasks.ts
 * (the queue state of each task, its records), speculation.ts (work on the
 * miner's own draw), generation.ts (the engine loop) and copy-fault.ts (the
 * copier fault).
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getBlock, readContract } from 'viem/actions'
import { cortensorHubAbi, signPrecommit } from '../../../contracts/index.ts'
import { defaultValidators, installGossip, publishMessage } from '../../../protocols/gossip/index.ts'
import { Decline, StreamEnd, TaskQueued, addressToBytes } from '../../../protocols/messages/index.ts'
import { PoolView } from '../../../protocols/pool/view.ts'
import { isEmbedInput } from '../../../protocols/prompt/index.ts'
import { isTerminal } from '../../../protocols/queue/machine.ts'
import { ackEvent, assignedEvent, declineEvent, precommitEvent } from '../../../protocols/queue/wire.ts'
import { buildTopic } from '../../../protocols/topics.ts'
import { throttleEngine } from '../../inference/throttle.ts'
import { embeddingOutput, paidTokens } from '../shared/embedding-task.ts'
import { chainCheckedValidators } from '../shared/gossip-checks.ts'
import { roleMetrics } from '../shared/metrics.ts'
import { chainNamespace, cidDigest, precommitHash, taskPrompt } from '../shared/records.ts'
import { TokenBuffer, serveTokenStream, streamProtocol } from '../shared/stream.ts'
import { Ticker } from '../shared/ticker.ts'
import { outcomeVerdict } from '../shared/validation.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, MinerAdvert, chainReader } from './advert.ts'
import { CopyFault } from './copy-fault.ts'
import { TaskNotRunnableError, checkRunnable, generateInto, generationParams } from './generation.ts'
import { SessionReservation } from './reservation.ts'
import { revealStrategy } from './reveals.ts'
import { drawsSelf, settleSpeculation, speculate } from './speculation.ts'
import { MinerCounts } from './stats.ts'
import { MinerTasks, streamOf, wake } from './tasks.ts'
import type { MinerFaults, RevealStrategy } from './reveals.ts'
import type { SpeculationStats } from './speculation.ts'
import type { MinerStats } from './stats.ts'
import type { MinerTask } from './tasks.ts'
import type { HubDomain } from '../../../contracts/index.ts'
import type { Ack, Assignment, Precommit, Reveal, Verdict } from '../../../protocols/messages/index.ts'
import type { PoolAdvert } from '../../../protocols/pool/index.ts'
import type { PromptInput } from '../../../protocols/prompt/index.ts'
import type { QueueEffect, QueueTimeouts } from '../../../protocols/queue/types.ts'
import type { InferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { RoleMetrics } from '../shared/metrics.ts'
import type { OutputDoc } from '../shared/records.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

export { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_PROVIDE_INTERVAL_MS } from './advert.ts'
export type { SpeculationStats } from './speculation.ts'
export type { MinerFaults } from './reveals.ts'

const log = logger('cortensor:miner')

const bytes = (hex: Hex): Uint8Array<ArrayBuffer> => Uint8Array.from(hexToBytes(hex))

export interface MinerRoleInit {
  node: CortensorNode
  engine: InferenceEngine
  /**
   * More models the miner serves, each on its own engine: one node, one key,
   * one reservation and one heartbeat listing every model; a task runs on
   * the engine of its model
   */
  engines?: InferenceEngine[]
  /** the hub's EIP-712 domain (chain id + hub address) the precommits are signed under */
  domain: HubDomain
  /** model id advertised and served; default the engine's */
  modelId?: string
  topicPrefix?: string
  heartbeatIntervalMs?: number
  /** a reservation whose session sends no task for this long ends (default 30 s, reservation.ts) */
  reservationIdleMs?: number
  /** advertised hardware class; default the hardware probe's class (node/inference/hardware.ts), else `cpu` */
  hardwareClass?: string
  /** advertised level; default the level of the node's record on chain (re-read at every re-provide), else 0 */
  level?: number
  /**
   * The chain, read-only: session terms (reserve period, task budget) for
   * reservations and the node's level. Without it the miner does not
   * reserve itself and advertises `level` or 0.
   */
  chain?: Pick<ChainContext, 'wallet' | 'hub'>
  /** re-provide the pool keys this often; default 10 min (records live 48 h; the level is re-read each time) */
  provideIntervalMs?: number
  /** speed advertised in heartbeats (tokens/s); default the capability benchmark's (node/inference/capability.ts) */
  tokensPerSec?: number
  /** where the capability benchmark is cached; default `<data dir>/capability` */
  capabilityDir?: string
  /** must match the oracles' queue timeouts */
  timeouts?: Partial<QueueTimeouts>
  /** how long finished tasks stay in memory for late streams; default 60 s */
  retainMs?: number
  faults?: MinerFaults
  /** one line per step, for logs and the devnet */
  onLine?(line: string): void
}

const TICK_MS = 100
/** acks, declines and precommits kept per task while its assignment has not arrived */
const MAX_OVERTAKING_EVENTS = 64
/** with no task held nothing has a deadline but the reservation's end: the clock slows down */
const IDLE_TICK_MS = 1000

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
  readonly speculation: SpeculationStats = { started: 0, confirmed: 0, dropped: 0 }
  private readonly counts: MinerCounts
  /** the stats above on the node's `/metrics` */
  private metrics?: RoleMetrics
  private readonly tasks: MinerTasks
  private readonly reservation: SessionReservation
  private readonly advertiser: MinerAdvert
  private readonly copier: CopyFault
  private readonly reveals: RevealStrategy
  private uninstall?: () => void
  private readonly ticker: Ticker
  private active = 0
  /** the engine of each model served */
  private readonly engines = new Map<string, InferenceEngine>()
  /** tasks at work per model (each engine has its own sequences) */
  private readonly activeByModel = new Map<string, number>()
  private readonly running = new Set<MinerTask>()
  private busy = false
  private stopped = false

  constructor (init: MinerRoleInit) {
    const throttle = init.faults?.throttleTokensPerSec
    // the slow-engine fault: the engine itself is slow, so the miner's benchmark measures it too
    this.init = throttle != null && throttle > 0 ? { ...init, engine: throttleEngine(init.engine, throttle) } : init
    this.modelId = this.init.modelId ?? this.init.engine.modelId
    this.engines.set(this.modelId, this.init.engine)
    for (const e of this.init.engines ?? []) {
      if (!this.engines.has(e.modelId)) {
        this.engines.set(e.modelId, e)
      }
    }
    this.modelIds = [...this.engines.keys()]
    this.address = this.init.node.peerIdentity.address.toLowerCase()
    this.counts = new MinerCounts(this.address, this.modelIds)
    this.prefix = this.init.topicPrefix ?? `/${this.init.node.config.network}`
    this.tasks = new MinerTasks({ settings: this.init, address: this.address, onEffects: (task, effects) => { this.onEffects(task, effects) } })
    this.pool = new PoolView(this.init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.reservation = new SessionReservation({
      chain: () => chainReader(this.init.chain),
      knownTasks: (sessionId) => this.tasks.idsOf(sessionId),
      busyWith: (sessionId) => this.tasks.busyWith(sessionId),
      onChange: () => { void this.advertiser.heartbeat() },
      say: (line) => { this.say(line) },
      stopped: () => this.stopped,
      idleMs: () => this.init.reservationIdleMs
    })
    this.advertiser = new MinerAdvert({
      settings: this.init,
      address: this.address,
      modelId: this.modelId,
      modelIds: this.modelIds,
      engines: [...this.engines.values()],
      prefix: this.prefix,
      pool: this.pool,
      load: () => this.committedLoad,
      reservation: () => this.reservation.current,
      say: (line) => { this.say(line) }
    })
    this.copier = new CopyFault({ node: this.init.node, address: this.address, stopped: () => this.stopped })
    this.reveals = revealStrategy({ node: this.init.node, domain: this.init.domain, address: this.address, faults: this.init.faults, copier: this.copier })
    this.ticker = new Ticker({ tick: (now) => { this.onTick(now) }, busy: () => this.tasks.size > 0, busyMs: TICK_MS, idleMs: IDLE_TICK_MS })
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  async start (): Promise<void> {
    const { node } = this.init
    this.metrics = roleMetrics(node.registry, { miner: this })
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
      this.resume(task)
    }
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.modelIds,
      // with the chain: announcements by their session's owner only, heartbeats by eligible miners only
      validators: this.init.chain != null ? chainCheckedValidators(defaultValidators(), this.init.chain) : defaultValidators(),
      onContradiction: (author) => { node.contradictions.add(author.toString()) },
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => {
          this.adoptAnnouncement(m)
          this.tasks.onEvent(m.taskId, async (t) => { await this.onAssignment(t, m) })
        },
        // acks, declines and precommits come on other topics than the assignment and may overtake it
        ack: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, ackEvent(m)) }) }) },
        // a majority of declines ends the task here too (declines concern the task, not the miner)
        decline: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.tasks.apply(t, declineEvent(m)) }) }) },
        precommit: (m) => { this.tasks.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.onPrecommit(t, m) }) }) },
        reveal: (m) => { this.tasks.onEvent(m.taskId, async () => { this.onReveal(m) }) },
        verdict: (m) => { this.onVerdict(m) },
        heartbeat: (m, meta) => {
          if (meta.from != null) {
            this.pool.onHeartbeat(m, meta.from)
          }
        }
      }
    })
    await node.libp2p.handle(streamProtocol(node.config.network), (stream, connection) => {
      void serveTokenStream(stream, connection.remotePeer, {
        timeoutMs: 10 * 60_000,
        lookup: async (taskId, remote) => streamOf(this.tasks, taskId, remote, () => this.stopped)
      })
    }, { runOnLimitedConnection: true })
    this.ticker.start()
    this.advertiser.start()
  }

  /**
   * A task this miner held a slot in before a restart: unfinished work starts
   * again; a precommit, and a reveal, already sent are sent again (a stop can
   * lose what was just published; receivers drop the copies).
   */
  private resume (task: MinerTask): void {
    const { queued, record: value } = task
    if (isTerminal(value.state)) {
      return
    }
    this.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
    const status = this.tasks.slotOf(task)?.status
    if (status !== 'acked' && status !== 'precommitted') {
      return
    }
    // the reservation is not stored: it starts again with the work it covers
    this.reservation.reserveFor(queued.sessionId)
    task.acked = true
    if (value.outputCid == null && status === 'acked') {
      this.startWork(task)
    } else if (value.commitment != null && value.signature != null) {
      const precommit: Precommit = { taskId: queued.taskId, miner: addressToBytes(this.address as Hex), commitment: bytes(value.commitment), signature: bytes(value.signature) }
      this.tasks.enqueue(task, async () => {
        await this.publish('precommit', precommit)
        if (status === 'acked') {
          this.tasks.apply(task, precommitEvent(precommit))
        }
        this.say(`task ${queued.taskId}: precommit sent again after restart`)
        if (value.revealed === true) {
          value.revealed = false
          await this.reveal(task)
        }
      })
    }
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    this.metrics?.unregister()
    this.ticker.stop()
    this.advertiser.stop()
    for (const t of this.tasks.values()) {
      settleSpeculation(t, false, this.speculation)
      t.abort?.abort()
      wake(t)
    }
    this.tasks.stop()
    await this.tasks.idle()
    this.uninstall?.()
    await this.init.node.libp2p.unhandle(streamProtocol(this.init.node.config.network)).catch(() => {})
  }

  /** What the miner has done since it started (its `/metrics`). */
  get stats (): MinerStats {
    return this.counts.stats
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
    const busy = this.committedLoad >= sequences
    if (busy !== this.busy) {
      this.busy = busy
      void this.advertiser.heartbeat()
    }
  }

  /**
   * Tasks running that an assignment gave this miner: what heartbeats
   * advertise as load. Work started on the miner's own draw is left out
   * until confirmed: it is dropped as soon as the assignment names others,
   * and counting it would keep the miner out of the very draw it guessed.
   */
  get committedLoad (): number {
    let n = 0
    for (const t of this.running) {
      if (t.speculation == null) {
        n++
      }
    }
    return n
  }

  /** Tasks this miner works on now. */
  get load (): number {
    return this.active
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

  /** Publish once someone listens: right after a (re)start the gossip mesh may not have formed yet. */
  private async publish<K extends 'ack' | 'decline' | 'precommit' | 'reveal'> (kind: K, message: Parameters<typeof publishMessage<K>>[2]): Promise<void> {
    const pubsub = this.init.node.libp2p.services.pubsub
    const topic = buildTopic(kind, undefined, { prefix: this.prefix })
    const deadline = Date.now() + 10_000
    while (pubsub.getSubscribers(topic).length === 0 && Date.now() < deadline && !this.stopped) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await publishMessage(pubsub, kind, message, { prefix: this.prefix })
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

  // ------------------------------------------------------------ task bookkeeping

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
    const busy = this.stopped || engine == null || this.activeOn(m) >= (engine.sequences ?? 1) || !this.reservation.mayServe(m.sessionId)
    if (!early && drawsSelf(m, { pool: this.pool, address: this.address, faults: this.init.faults, busy })) {
      speculate(task, this.speculation, (t) => { this.startWork(t) })
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

  private onEffects (task: MinerTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      if (e.type === 'reveal-window-open' && e.miners.includes(this.address)) {
        this.tasks.enqueue(task, async () => { await this.reveal(task) })
      }
      if ((e.type === 'reassign' && e.miner === this.address) || e.type === 'expired') {
        task.abort?.abort()
      }
    }
  }

  // ------------------------------------------------------------ the work

  private async onAssignment (task: MinerTask, m: Assignment, attempt = 0): Promise<void> {
    try {
      await this.takeAssignment(task, m, attempt)
    } finally {
      // an assignment that did not confirm the work started on this miner's own draw ends it
      settleSpeculation(task, false, this.speculation)
      task.assignmentSeen = true
      wake(task)
    }
  }

  private async takeAssignment (task: MinerTask, m: Assignment, attempt: number): Promise<void> {
    if (m.miners.some(b => bytesToHex(b).toLowerCase() === this.address) && this.tasks.revive(task)) {
      this.say(`task ${m.taskId}: assigned after this miner had given it up: taken up again`)
    }
    const before = task.record.state
    this.tasks.apply(task, assignedEvent(m))
    if (task.record.state.phase !== 'queued') {
      // what overtook the assignment counts now (a faster miner's precommit, say: missing it, this miner
      // would never see every precommit in and would not reveal)
      const waiting = task.overtaken ?? []
      task.overtaken = undefined
      for (const fn of waiting) {
        fn()
      }
    }
    if (task.record.state === before && m.round > 0 && attempt < 5) {
      // a replacement can arrive just before this node's own clock times the replaced miner out
      setTimeout(() => { this.tasks.enqueue(task, async () => { await this.onAssignment(task, m, attempt + 1) }) }, 500)
      return
    }
    if (m.replaced.some(b => bytesToHex(b).toLowerCase() === this.address)) {
      // the hub refused this miner for the task: whatever it started is dropped
      task.abort?.abort()
      this.say(`task ${m.taskId}: replaced (the hub would not take this miner)`)
      return
    }
    const slot = this.tasks.slotOf(task)
    if (slot == null || slot.round !== m.round || slot.status !== 'assigned') {
      return
    }
    // the assignment names the announcement the leader checked against the chain: work on no other
    const bound = this.tasks.bind(task, m)
    if (bound === 'none') {
      task.declined = true
      this.say(`task ${m.taskId}: assigned, but no announcement here has the chain's prompt and params: not acking`)
      return
    }
    if (bound === 'swapped') {
      settleSpeculation(task, false, this.speculation)
      this.say(`task ${m.taskId}: the assignment names another announcement of the task than the first one heard: working on it`)
    }
    // an ephemeral node serves one session at a time: no ack, so the oracles replace this miner
    if (!this.reservation.mayServe(m.sessionId)) {
      task.declined = true
      this.say(`task ${m.taskId}: assigned, but reserved for session ${this.reservation.current?.sessionId}: not acking`)
      return
    }
    // work started on this miner's own draw already found that the task cannot run: say so, do not ack
    if (task.notRunnable != null) {
      settleSpeculation(task, false, this.speculation)
      await this.decline(task, task.notRunnable)
      return
    }
    this.reservation.reserveFor(m.sessionId)
    const ack: Ack = { taskId: m.taskId, miner: addressToBytes(this.address as Hex), round: m.round }
    // generation starts at once (the first token is on the submitter's clock); the ack, signed and
    // gossiped, follows while the prompt is evaluated
    if (task.speculation != null) {
      settleSpeculation(task, true, this.speculation)
      this.onLoadChange()
    } else {
      this.startWork(task)
    }
    await this.publish('ack', ack)
    this.tasks.apply(task, ackEvent(ack))
    await this.tasks.persist(task)
    task.acked = true
    wake(task)
    this.say(`task ${m.taskId}: assigned (round ${m.round}), acked`)
  }

  /** The engine of the task's model (undefined: a model this miner does not serve). */
  engineOf (m: Pick<TaskQueued, 'params'>): InferenceEngine | undefined {
    return this.engines.get(m.params?.modelId ?? '')
  }

  private activeOn (m: Pick<TaskQueued, 'params'>): number {
    return this.activeByModel.get(m.params?.modelId ?? '') ?? 0
  }

  private startWork (task: MinerTask): void {
    task.abort = new AbortController()
    const buffer = task.buffer = new TokenBuffer()
    task.declined = false
    wake(task)
    const signal = task.abort.signal
    const model = task.queued.params?.modelId ?? ''
    this.active++
    this.activeByModel.set(model, (this.activeByModel.get(model) ?? 0) + 1)
    this.running.add(task)
    this.onLoadChange()
    void this.work(task, signal, buffer, task.speculation?.decided)
      .catch((err) => {
        buffer.finish({ code: signal.aborted ? StreamEnd.Code.CANCELLED : StreamEnd.Code.ENGINE_ERROR, message: String(err?.message ?? err).slice(0, 200) })
        if (err instanceof TaskNotRunnableError) {
          this.counts.task(model, 'declined')
          task.notRunnable = err
          this.say(`task ${task.queued.taskId}: cannot run: ${err.message}`)
          // declined once assigned (now, if it is; else when the assignment names this miner)
          this.tasks.enqueue(task, async () => { await this.decline(task, err) })
        } else if (!signal.aborted) {
          this.counts.task(model, 'failed')
          this.say(`task ${task.queued.taskId}: generation failed: ${err?.message ?? err}`)
        }
      })
      .finally(() => {
        this.active--
        this.activeByModel.set(model, (this.activeByModel.get(model) ?? 1) - 1)
        this.running.delete(task)
        this.onLoadChange()
      })
  }

  /** Generate, store the output and precommit; work started on this miner's own draw waits for `assigned` first. */
  private async work (task: MinerTask, signal: AbortSignal, buffer: TokenBuffer, assigned?: Promise<boolean>): Promise<void> {
    const { node, domain } = this.init
    const m = task.queued
    const taskId = m.taskId
    const engine = this.engineOf(m)
    if (engine == null) {
      throw new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, `this miner does not serve model ${m.params?.modelId ?? '(none)'}`, 0, 0)
    }
    if (this.init.faults?.copyOthers === true) {
      // a copier generates nothing, so it has nothing to stream
      task.buffer?.finish({ code: StreamEnd.Code.ENGINE_ERROR, message: 'no tokens' })
      const copy = await this.copier.commitment(taskId, signal)
      if (copy != null) {
        await this.precommit(task, copy)
        this.say(`task ${taskId}: copied another miner's commitment`)
      }
      return
    }
    const prompt = await taskPrompt(node.libp2p, node.store, node.config.network, m, [task.from], AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
      .catch((err) => {
        // a prompt document of neither shape: no miner can run the task
        throw err?.name === 'InvalidPromptError' ? new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, String(err.message), 0, engine.contextSize) : err
      })
    const t0 = performance.now()
    const output = isEmbedInput(prompt)
      ? await embeddingOutput(engine, prompt, taskId.toString(), engine === this.init.engine ? this.modelId : engine.modelId, signal)
      : await this.generate(task, engine, prompt, signal, buffer)
    const ms = performance.now() - t0
    // the last tokens go out now, not after the output is stored and the assignment confirmed
    buffer.complete()
    const model = m.params?.modelId ?? ''
    if (assigned != null && !(await assigned)) {
      return
    }
    const outputCid = await node.store.putJson(output)
    buffer.finish({ tokenCount: output.tokens.length, outputCid: outputCid.bytes, promptTokens: output.promptTokens ?? 0 })
    const salt = bytesToHex(randomBytes(32))
    const outputDigest = cidDigest(outputCid)
    const commitment = precommitHash(domain, taskId, outputDigest, salt)
    const signature = await signPrecommit(privateKeyToAccount(node.peerIdentity.privateKey), domain, { taskId, outputDigest, salt })
    await this.precommit(task, { outputCid: outputCid.toString(), salt, commitment, signature, tokens: paidTokens(output) })
    if (output.embeddings == null) {
      this.counts.generated(model, output.tokens.length, ms)
    }
    this.say(`task ${taskId}: ${output.embeddings != null ? `embedded ${output.embeddings.length} texts` : `generated ${output.tokens.length} tokens`}, output ${outputCid}, precommitted`)
  }

  /** A generation task's output document; a task no miner of the model can run (too long for the context, parameters the engine refuses) is declined. */
  private async generate (task: MinerTask, engine: InferenceEngine, prompt: PromptInput, signal: AbortSignal, buffer: TokenBuffer): Promise<OutputDoc> {
    const params = generationParams(task.queued)
    checkRunnable(engine, prompt, params)
    const result = await generateInto(engine, prompt, params, buffer, signal, this.init.faults)
    return {
      taskId: task.queued.taskId.toString(),
      modelId: engine === this.init.engine ? this.modelId : engine.modelId,
      text: result.text,
      tokens: result.tokens,
      finishReason: result.finishReason,
      promptTokens: result.promptTokens,
      ...(result.chatTemplate != null ? { chatTemplate: result.chatTemplate } : {})
    }
  }

  /**
   * Tell the submitter and the oracles that this miner cannot run the task it
   * is assigned (once per round); not assigned (yet): nothing to say.
   */
  private async decline (task: MinerTask, err: TaskNotRunnableError): Promise<void> {
    const slot = this.tasks.slotOf(task)
    if (slot == null || (slot.status !== 'assigned' && slot.status !== 'acked') || task.declinedRound === slot.round) {
      return
    }
    task.declinedRound = slot.round
    task.declined = true
    wake(task)
    const decline: Decline = {
      taskId: task.queued.taskId,
      miner: addressToBytes(this.address as Hex),
      round: slot.round,
      reason: err.reason,
      message: err.message.slice(0, 256),
      promptTokens: err.promptTokens,
      contextTokens: err.contextTokens
    }
    await this.publish('decline', decline)
    // gossip does not deliver a node's own messages
    this.tasks.apply(task, declineEvent(decline))
    this.say(`task ${task.queued.taskId}: declined (round ${slot.round}): ${err.message}`)
  }

  private async precommit (task: MinerTask, r: { outputCid?: string, salt?: Hex, commitment: Hex, signature: Hex, tokens?: number }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.tasks.enqueue(task, async () => {
        try {
          const slot = this.tasks.slotOf(task)
          if (slot == null || (slot.status !== 'acked' && slot.status !== 'assigned')) {
            throw new Error(`too late to precommit (${slot?.status ?? 'not assigned'})`)
          }
          Object.assign(task.record, r)
          await this.tasks.persist(task)
          const msg: Precommit = { taskId: task.queued.taskId, miner: addressToBytes(this.address as Hex), commitment: bytes(r.commitment), signature: bytes(r.signature) }
          await this.publish('precommit', msg)
          this.tasks.apply(task, precommitEvent(msg))
          resolve()
        } catch (err) {
          reject(err)
        }
      })
    })
  }

  private async reveal (task: MinerTask): Promise<void> {
    const r = task.record
    if (r.revealed === true) {
      return
    }
    const taskId = task.queued.taskId
    const reveals = await this.reveals(r.outputCid != null && r.salt != null ? { taskId, outputCid: r.outputCid, salt: r.salt } : undefined, taskId)
    if (reveals.length === 0) {
      return
    }
    for (const reveal of reveals) {
      await this.publish('reveal', reveal)
    }
    r.revealed = true
    await this.tasks.persist(task)
    this.say(`task ${task.queued.taskId}: revealed`)
  }

  // ------------------------------------------------------------ others' messages

  /** Run `fn` now, or once the assignment is applied if the event overtook it. */
  private afterAssignment (task: MinerTask, fn: () => void): void {
    if (task.record.state.phase !== 'queued') {
      fn()
    } else if ((task.overtaken ??= []).length < MAX_OVERTAKING_EVENTS) {
      task.overtaken.push(fn)
    }
  }

  private onPrecommit (task: MinerTask, m: Precommit): void {
    this.tasks.apply(task, precommitEvent(m))
    if (this.init.faults?.copyOthers === true) {
      this.copier.onPrecommit(m)
    }
  }

  private onReveal (m: Reveal): void {
    if (this.init.faults?.copyOthers === true) {
      this.copier.onReveal(m)
    }
  }
}
