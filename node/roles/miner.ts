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
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getNode, signPrecommit } from '../../contracts/index.ts'
import { defaultValidators, installGossip, publishMessage } from '../../protocols/gossip/index.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'
import { StreamEnd, TaskQueued, addressToBytes } from '../../protocols/messages/index.ts'
import { PoolView } from '../../protocols/pool/view.ts'
import { createTask, isTerminal, transition, tick } from '../../protocols/queue/machine.ts'
import { ackEvent, assignedEvent, precommitEvent, taskInitFrom } from '../../protocols/queue/wire.ts'
import { buildTopic } from '../../protocols/topics.ts'
import { classifyHardware, probeHardware } from '../inference/hardware.ts'
import { PoolKeys } from './pool-keys.ts'
import { cidDigest, precommitHash, RecordStore, taskPrompt } from './records.ts'
import { SessionReservation } from './reservation.ts'
import { TokenBuffer, serveTokenStream, streamProtocol } from './stream.ts'
import { outcomeVerdict } from './validation.ts'
import type { ChainContext } from './chain.ts'
import type { InferenceEngine, LlamaInferenceEngine } from '../inference/index.ts'
import type { CortensorNode } from '../node.ts'
import type { OutputDoc } from './records.ts'
import type { ChainReader } from './reservation.ts'
import type { HubDomain } from '../../contracts/index.ts'
import type { Ack, Assignment, Heartbeat, Precommit, Reveal, Verdict } from '../../protocols/messages/index.ts'
import type { PoolAdvert } from '../../protocols/pool/index.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskState } from '../../protocols/queue/types.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:miner')

const bytes = (hex: Hex): Uint8Array<ArrayBuffer> => Uint8Array.from(hexToBytes(hex))

/** Deliberate misbehaviour, for the fraud tests and demos. Honest miners leave this unset. */
export interface MinerFaults {
  /** reveal a salt other than the committed one */
  revealMismatch?: boolean
  /** do not generate: copy another miner's precommit and later its reveal */
  copyOthers?: boolean
  /** a slow miner: wait this long before each token */
  tokenDelayMs?: number
  /** a miner whose pool view is wrong: its own draw always names it, so it starts every task */
  misdraw?: boolean
}

export interface MinerRoleInit {
  node: CortensorNode
  engine: InferenceEngine
  /** the hub's EIP-712 domain (chain id + hub address) the precommits are signed under */
  domain: HubDomain
  /** model id advertised and served; default the engine's */
  modelId?: string
  topicPrefix?: string
  heartbeatIntervalMs?: number
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
  /** measured speed advertised in heartbeats (tokens/s); default 100 */
  tokensPerSec?: number
  /** must match the oracles' queue timeouts */
  timeouts?: Partial<QueueTimeouts>
  /** how long finished tasks stay in memory for late streams; default 60 s */
  retainMs?: number
  faults?: MinerFaults
  /** one line per step, for logs and the devnet */
  onLine?(line: string): void
}

interface MinerRecord {
  queued: Hex
  state: TaskState
  outputCid?: string
  salt?: Hex
  commitment?: Hex
  signature?: Hex
  tokens?: number
  revealed?: boolean
}

interface MinerTask {
  queued: TaskQueued
  /** the peer that announced the task (the submitter, who holds the prompt) */
  from?: PeerId
  record: MinerRecord
  buffer?: TokenBuffer
  abort?: AbortController
  chain: Promise<void>
  finishedAtMs?: number
  /** an assignment of the task has been handled (whether or not it named this miner) */
  assignmentSeen?: boolean
  /** assigned, but this miner would not serve it (reserved for another session) */
  declined?: boolean
  /** token-stream requests waiting for the work to start or be refused */
  waiters?: Array<() => void>
  /** work started on this miner's own draw, before the assignment: the assignment settles it */
  speculation?: Speculation
  /** this miner's ack is gossiped and on disk: tokens go out only then, so a client never streams unaccepted work */
  acked?: boolean
}

interface Speculation {
  /** true once the assignment names this miner, false when it does not (or none came in time) */
  decided: Promise<boolean>
  decide(assigned: boolean): void
  timer: ReturnType<typeof setTimeout>
}

/** What speculative starts came to (MinerRole.speculation). */
export interface SpeculationStats {
  /** tasks started on the miner's own draw */
  started: number
  /** of those, assigned to it */
  confirmed: number
  /** of those, not assigned to it (the work was dropped) */
  dropped: number
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000
export const DEFAULT_PROVIDE_INTERVAL_MS = 10 * 60_000
const TICK_MS = 100
/** a generation refused by a full engine queue is tried again after this long */
const ENGINE_RETRY_MS = 100
/** how long a token-stream request waits for this miner's work on the task to start */
const STREAM_WAIT_MS = 10_000
const PENDING_MAX_AGE_MS = 30_000
/**
 * how long a token-stream request for a task not announced here yet waits for
 * the announcement (a submitter that predicted the selection asks right after
 * announcing, and its request can overtake the gossip), and how many may wait
 */
const ANNOUNCEMENT_WAIT_MS = 2000
const ANNOUNCEMENT_WAITERS_MAX = 64
/** work started on the miner's own draw is dropped if no assignment settles it within this long */
const SPECULATION_WAIT_MS = 5000
/** retry of a provide that reached no DHT peer (the routing table is still empty): doubles up to the cap */
/** settlement follows a verdict within a batch window; the level is re-read this long after one naming this miner */
const LEVEL_RECHECK_AFTER_VERDICT_MS = 10_000

export class MinerRole {
  readonly init: MinerRoleInit
  readonly modelId: string
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  private readonly tasks = new Map<string, MinerTask>()
  private readonly pending = new Map<string, Array<{ event(t: MinerTask): Promise<void>, atMs: number }>>()
  /** token-stream requests waiting for a task's announcement */
  private readonly announcementWaiters = new Map<string, Array<() => void>>()
  private announcementWaiting = 0
  /** the pool as this miner sees it (heartbeats, its own included; verdicts), for its own draws */
  readonly pool: PoolView
  readonly speculation: SpeculationStats = { started: 0, confirmed: 0, dropped: 0 }
  private readonly records: RecordStore<MinerRecord>
  private readonly copied = new Map<string, { commitment?: Precommit, reveal?: Reveal }>()
  private uninstall?: () => void
  private timer?: ReturnType<typeof setInterval>
  private heartbeatTimer?: ReturnType<typeof setInterval>
  private seq = 0n
  private active = 0
  private stopped = false
  private readonly reservation: SessionReservation
  private hardwareClass = 'cpu'
  private level = 0
  private levelTimer?: ReturnType<typeof setTimeout>
  private readonly poolKeys: PoolKeys

  constructor (init: MinerRoleInit) {
    this.init = init
    this.modelId = init.modelId ?? init.engine.modelId
    this.address = init.node.peerIdentity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${init.node.config.network}`
    this.records = new RecordStore(init.node.datastore, '/cortensor/miner/tasks')
    this.pool = new PoolView(init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.reservation = new SessionReservation({
      chain: () => this.readerOfChain(),
      knownTasks: (sessionId) => [...this.tasks.values()].filter(t => t.queued.sessionId === sessionId).map(t => t.queued.taskId.toString()),
      busyWith: (sessionId) => this.busyWith(sessionId),
      onChange: () => { void this.heartbeat() },
      say: (line) => { this.say(line) },
      stopped: () => this.stopped
    })
    this.poolKeys = new PoolKeys({
      node: init.node,
      intervalMs: init.provideIntervalMs ?? DEFAULT_PROVIDE_INTERVAL_MS,
      advert: () => this.advert,
      refresh: async () => this.refreshLevel(),
      say: (line) => { this.say(line) }
    })
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  async start (): Promise<void> {
    const { node } = this.init
    this.hardwareClass = this.init.hardwareClass ?? await this.probeHardwareClass()
    this.level = this.init.level ?? 0
    // work accepted before a restart
    for await (const { value } of this.records.all()) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      const task: MinerTask = { queued, record: value, chain: Promise.resolve() }
      this.tasks.set(queued.taskId.toString(), task)
      if (!isTerminal(value.state)) {
        this.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
        const status = this.mySlot(task)?.status
        if (status === 'acked' || status === 'precommitted') {
          // the reservation is not stored: it starts again with the work it covers
          this.reservation.reserveFor(queued.sessionId)
          task.acked = true
        }
        if (value.outputCid == null && this.mySlot(task)?.status === 'acked') {
          this.startWork(task)
        } else if (this.mySlot(task)?.status === 'acked' && value.commitment != null && value.signature != null) {
          // the precommit is written before it is gossiped: one stored just before a stop may never have left
          const precommit: Precommit = { taskId: queued.taskId, miner: addressToBytes(this.address as Hex), commitment: bytes(value.commitment), signature: bytes(value.signature) }
          this.enqueue(task, async () => {
            await this.publish('precommit', precommit)
            this.apply(task, precommitEvent(precommit))
            this.say(`task ${queued.taskId}: precommit sent again after restart`)
          })
        }
      }
    }
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: [this.modelId],
      validators: defaultValidators(),
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => { this.onEvent(m.taskId, async (t) => { await this.onAssignment(t, m) }) },
        ack: (m) => { this.onEvent(m.taskId, async (t) => { this.apply(t, ackEvent(m)) }) },
        precommit: (m) => { this.onEvent(m.taskId, async (t) => { this.onPrecommit(t, m) }) },
        reveal: (m) => { this.onEvent(m.taskId, async () => { this.onReveal(m) }) },
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
        lookup: async (taskId, remote) => this.streamFor(taskId, remote)
      })
    }, { runOnLimitedConnection: true })
    this.timer = setInterval(() => { this.onTick() }, TICK_MS)
    const interval = this.init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.heartbeatTimer = setInterval(() => { void this.heartbeat() }, interval)
    void this.heartbeat()
    void this.poolKeys.provide()
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    clearInterval(this.timer)
    clearInterval(this.heartbeatTimer)
    this.poolKeys.stop()
    clearTimeout(this.levelTimer)
    for (const t of this.tasks.values()) {
      this.settleSpeculation(t, false)
      t.abort?.abort()
      this.wake(t)
    }
    for (const w of [...this.announcementWaiters.values()].flat()) {
      w()
    }
    await Promise.allSettled([...this.tasks.values()].map(async t => t.chain))
    this.uninstall?.()
    await this.init.node.libp2p.unhandle(streamProtocol(this.init.node.config.network)).catch(() => {})
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
    return { model: this.modelId, hardwareClass: this.hardwareClass, level: this.level }
  }

  /** Publish once someone listens: right after a (re)start the gossip mesh may not have formed yet. */
  private async publish<K extends 'ack' | 'precommit' | 'reveal'> (kind: K, message: Parameters<typeof publishMessage<K>>[2]): Promise<void> {
    const pubsub = this.init.node.libp2p.services.pubsub
    const topic = buildTopic(kind, undefined, { prefix: this.prefix })
    const deadline = Date.now() + 10_000
    while (pubsub.getSubscribers(topic).length === 0 && Date.now() < deadline && !this.stopped) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await publishMessage(pubsub, kind, message, { prefix: this.prefix })
  }

  private async heartbeat (): Promise<void> {
    if (this.stopped) {
      return
    }
    const heartbeat: Heartbeat = {
      node: addressToBytes(this.address as Hex),
      models: [this.modelId],
      hardwareClass: this.hardwareClass,
      level: this.level,
      tokensPerSecondMilli: Math.round((this.init.tokensPerSec ?? 100) * 1000),
      loadPermille: Math.min(1000, this.active * 1000),
      reservedBySession: this.reservation.current?.sessionId ?? 0n,
      reservedUntilMs: this.reservation.current?.untilMs != null ? BigInt(this.reservation.current.untilMs) : undefined,
      timestampMs: BigInt(Date.now()),
      seq: this.seq++
    }
    // gossip does not deliver a node's own messages: its own draws need its own entry
    this.pool.onHeartbeat(heartbeat, this.init.node.libp2p.peerId)
    try {
      await publishMessage(this.init.node.libp2p.services.pubsub, 'heartbeat', heartbeat, { prefix: this.prefix, model: this.modelId })
    } catch (err: any) {
      log('heartbeat failed: %s', err?.message)
    }
  }

  // ------------------------------------------------------------ node pool: DHT keys, level

  private async probeHardwareClass (): Promise<string> {
    const llama = (this.init.engine as Partial<LlamaInferenceEngine>).llama
    if (llama == null) {
      return 'cpu'
    }
    try {
      return classifyHardware(await probeHardware(llama)).hardwareClass
    } catch (err: any) {
      log('hardware probe failed: %s', err?.message)
      return 'cpu'
    }
  }

  /** The chain, read-only (looked up each time: `init.chain` may be attached after start). */
  private readerOfChain (): ChainReader | undefined {
    const chain = this.init.chain
    return chain == null ? undefined : { client: chain.wallet, hub: chain.hub }
  }

  /** Re-read the node's level on chain (unless configured); true when it changed. */
  private async refreshLevel (): Promise<boolean> {
    const chain = this.readerOfChain()
    if (this.init.level != null || chain == null) {
      return false
    }
    const info = await getNode(chain.client, { hub: chain.hub, node: this.address as Address })
    if (info.level === this.level) {
      return false
    }
    this.say(`level ${this.level} → ${info.level} (node record on chain)`)
    this.level = info.level
    void this.heartbeat()
    return true
  }

  /** A verdict about this miner is settled shortly after: its level may change, so look again then. */
  private onVerdict (m: Verdict): void {
    // the leader's reputation changes, as its view makes them, for this miner's own draws
    for (const v of m.miners) {
      this.pool.applyVerdict(bytesToHex(v.miner), outcomeVerdict(v.outcome))
    }
    if (this.init.level != null || this.readerOfChain() == null || !m.miners.some(v => bytesToHex(v.miner).toLowerCase() === this.address)) {
      return
    }
    clearTimeout(this.levelTimer)
    this.levelTimer = setTimeout(() => {
      void this.refreshLevel()
        .then(changed => { if (changed) { void this.poolKeys.provide() } })
        .catch((err) => { log('reading the level failed: %s', err?.message) })
    }, LEVEL_RECHECK_AFTER_VERDICT_MS)
  }

  // ------------------------------------------------------------ task bookkeeping

  /** A task of the session this miner has accepted and not yet precommitted. */
  private busyWith (sessionId: bigint): boolean {
    for (const t of this.tasks.values()) {
      if (t.queued.sessionId === sessionId && !isTerminal(t.record.state) && this.mySlot(t)?.status === 'acked') {
        return true
      }
    }
    return false
  }

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const id = m.taskId.toString()
    if (this.tasks.has(id)) {
      return
    }
    this.reservation.onTaskAnnounced(m.sessionId, id)
    const { state } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: MinerTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), state }, chain: Promise.resolve() }
    this.tasks.set(id, task)
    // an assignment that came before the announcement settles the task at once: no need to guess
    const early = this.pending.get(id) ?? []
    for (const p of early) {
      this.enqueue(task, p.event)
    }
    this.pending.delete(id)
    for (const w of this.announcementWaiters.get(id) ?? []) {
      w()
    }
    this.announcementWaiters.delete(id)
    if (early.length === 0 && this.drawsSelf(m)) {
      this.speculate(task)
    }
  }

  /**
   * Whether this miner's own draw of the task's round-0 selection (the seed
   * the announcement carries, checked against the chain by the oracles, and
   * the pool as this miner sees it) names it, and it is free to start: idle
   * engine sequence, not reserved by another session, no injected faults.
   */
  private drawsSelf (m: TaskQueued): boolean {
    if (this.init.faults?.copyOthers === true || this.stopped || m.seed == null ||
      this.active >= (this.init.engine.sequences ?? 1) || !this.reservation.mayServe(m.sessionId)) {
      return false
    }
    if (this.init.faults?.misdraw === true) {
      return true
    }
    return this.pool.draw({ sessionId: m.sessionId, taskId: m.taskId, model: m.params?.modelId ?? '', chainSeed: m.seed, count: m.redundancy }).includes(this.address)
  }

  /** Start the work now; the assignment settles it (`settleSpeculation`), or SPECULATION_WAIT_MS drops it. */
  private speculate (task: MinerTask): void {
    let decide!: (assigned: boolean) => void
    const decided = new Promise<boolean>(resolve => { decide = resolve })
    const timer = setTimeout(() => { this.settleSpeculation(task, false) }, SPECULATION_WAIT_MS)
    task.speculation = { decided, decide, timer }
    this.speculation.started++
    log('task %s: started on this miner\'s own draw', task.queued.taskId)
    this.startWork(task)
  }

  private settleSpeculation (task: MinerTask, assigned: boolean): void {
    const s = task.speculation
    if (s == null) {
      return
    }
    task.speculation = undefined
    clearTimeout(s.timer)
    if (assigned) {
      this.speculation.confirmed++
    } else {
      this.speculation.dropped++
      log('task %s: not assigned to this miner: work started on its own draw dropped', task.queued.taskId)
      task.abort?.abort()
      task.buffer = undefined
    }
    s.decide(assigned)
    this.wake(task)
  }

  /** The task once announced here, waiting up to ANNOUNCEMENT_WAIT_MS (a bounded number of waiters) for it. */
  private async announced (taskId: bigint): Promise<MinerTask | undefined> {
    const id = taskId.toString()
    const known = this.tasks.get(id)
    if (known != null || this.announcementWaiting >= ANNOUNCEMENT_WAITERS_MAX || this.stopped) {
      return known
    }
    this.announcementWaiting++
    let done = (): void => {}
    try {
      await new Promise<void>(resolve => {
        const timer = setTimeout(() => { done() }, ANNOUNCEMENT_WAIT_MS)
        done = () => { clearTimeout(timer); resolve() }
        this.announcementWaiters.set(id, [...(this.announcementWaiters.get(id) ?? []), done])
      })
    } finally {
      this.announcementWaiting--
      const rest = (this.announcementWaiters.get(id) ?? []).filter(w => w !== done)
      if (rest.length > 0) {
        this.announcementWaiters.set(id, rest)
      } else {
        this.announcementWaiters.delete(id)
      }
    }
    return this.tasks.get(id)
  }

  /** Run `fn` on the task in arrival order; events for a task not announced yet wait for it. */
  private onEvent (taskId: bigint, fn: (t: MinerTask) => Promise<void>): void {
    const id = taskId.toString()
    const task = this.tasks.get(id)
    if (task == null) {
      const list = this.pending.get(id) ?? []
      list.push({ event: fn, atMs: Date.now() })
      this.pending.set(id, list)
      return
    }
    this.enqueue(task, fn)
  }

  private enqueue (task: MinerTask, fn: (t: MinerTask) => Promise<void>): void {
    task.chain = task.chain.then(async () => { await fn(task) }).catch((err) => { log('task %s: %s', task.queued.taskId, err?.message ?? err) })
  }

  private apply (task: MinerTask, event: QueueEvent): QueueEffect[] {
    try {
      const res = transition(task.record.state, event, Date.now())
      task.record.state = res.state
      this.onEffects(task, res.effects)
      return res.effects
    } catch (err: any) {
      log('task %s: %s ignored: %s', task.queued.taskId, event.type, err?.message)
      return []
    }
  }

  private onTick (): void {
    const now = Date.now()
    this.reservation.check(now)
    for (const [id, task] of this.tasks) {
      if (!isTerminal(task.record.state)) {
        const res = tick(task.record.state, now)
        if (res.state !== task.record.state) {
          task.record.state = res.state
          this.onEffects(task, res.effects)
        }
      }
      const slot = this.mySlot(task)
      const done = isTerminal(task.record.state) || slot == null || slot.status === 'reassigned' || slot.status === 'missed' || slot.status === 'faulty' || task.record.revealed === true
      if (done && task.finishedAtMs == null && (slot == null || slot.status !== 'precommitted')) {
        task.finishedAtMs = now
      }
      if (task.finishedAtMs != null && now - task.finishedAtMs > (this.init.retainMs ?? 60_000)) {
        task.abort?.abort()
        this.tasks.delete(id)
        if (slot != null) {
          this.enqueue(task, async () => { await this.records.delete(id) })
        }
      }
    }
    for (const [id, list] of this.pending) {
      if (list.every(p => now - p.atMs > PENDING_MAX_AGE_MS)) {
        this.pending.delete(id)
      }
    }
  }

  private mySlot (task: MinerTask): TaskState['slots'][number] | undefined {
    return task.record.state.slots.find(s => s.miner === this.address)
  }

  private onEffects (task: MinerTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      if (e.type === 'reveal-window-open' && e.miners.includes(this.address)) {
        this.enqueue(task, async () => { await this.reveal(task) })
      }
      if ((e.type === 'reassign' && e.miner === this.address) || e.type === 'expired') {
        task.abort?.abort()
      }
    }
    if (this.mySlot(task) != null) {
      this.enqueue(task, async () => { await this.persist(task) })
    }
  }

  private async persist (task: MinerTask): Promise<void> {
    if (this.mySlot(task) != null && this.tasks.has(task.queued.taskId.toString())) {
      await this.records.put(task.queued.taskId.toString(), task.record)
    }
  }

  // ------------------------------------------------------------ the work

  private async onAssignment (task: MinerTask, m: Assignment, attempt = 0): Promise<void> {
    try {
      await this.takeAssignment(task, m, attempt)
    } finally {
      // an assignment that did not confirm the work started on this miner's own draw ends it
      this.settleSpeculation(task, false)
      task.assignmentSeen = true
      this.wake(task)
    }
  }

  /** Let token-stream requests waiting on the task look again. */
  private wake (task: MinerTask): void {
    for (const w of task.waiters?.splice(0) ?? []) {
      w()
    }
  }

  private async takeAssignment (task: MinerTask, m: Assignment, attempt: number): Promise<void> {
    const before = task.record.state
    this.apply(task, assignedEvent(m))
    if (task.record.state === before && m.round > 0 && attempt < 5) {
      // a replacement can arrive just before this node's own clock times the replaced miner out
      setTimeout(() => { this.enqueue(task, async () => { await this.onAssignment(task, m, attempt + 1) }) }, 500)
      return
    }
    const slot = this.mySlot(task)
    if (slot == null || slot.round !== m.round || slot.status !== 'assigned') {
      return
    }
    // an ephemeral node serves one session at a time: no ack, so the oracles replace this miner
    if (!this.reservation.mayServe(m.sessionId)) {
      task.declined = true
      this.say(`task ${m.taskId}: assigned, but reserved for session ${this.reservation.current?.sessionId}: not acking`)
      return
    }
    this.reservation.reserveFor(m.sessionId)
    const ack: Ack = { taskId: m.taskId, miner: addressToBytes(this.address as Hex), round: m.round }
    // generation starts at once (the first token is on the submitter's clock); the ack, signed and
    // gossiped, follows while the prompt is evaluated
    if (task.speculation != null) {
      this.settleSpeculation(task, true)
    } else {
      this.startWork(task)
    }
    await this.publish('ack', ack)
    this.apply(task, ackEvent(ack))
    await this.persist(task)
    task.acked = true
    this.wake(task)
    this.say(`task ${m.taskId}: assigned (round ${m.round}), acked`)
  }

  private startWork (task: MinerTask): void {
    task.abort = new AbortController()
    const buffer = task.buffer = new TokenBuffer()
    task.declined = false
    this.wake(task)
    const signal = task.abort.signal
    this.active++
    void this.work(task, signal, buffer, task.speculation?.decided)
      .catch((err) => {
        buffer.finish({ code: signal.aborted ? StreamEnd.Code.CANCELLED : StreamEnd.Code.ENGINE_ERROR, message: String(err?.message ?? err).slice(0, 200) })
        if (!signal.aborted) {
          this.say(`task ${task.queued.taskId}: generation failed: ${err?.message ?? err}`)
        }
      })
      .finally(() => { this.active-- })
  }

  /** Generate, store the output and precommit; work started on this miner's own draw waits for `assigned` first. */
  private async work (task: MinerTask, signal: AbortSignal, buffer: TokenBuffer, assigned?: Promise<boolean>): Promise<void> {
    const { node, engine, domain } = this.init
    const m = task.queued
    const taskId = m.taskId
    if (this.init.faults?.copyOthers === true) {
      // a copier generates nothing, so it has nothing to stream
      task.buffer?.finish({ code: StreamEnd.Code.ENGINE_ERROR, message: 'no tokens' })
      await this.copyCommitment(task, signal)
      return
    }
    const prompt = await taskPrompt(node.libp2p, node.store, node.config.network, m, [task.from], AbortSignal.any([signal, AbortSignal.timeout(30_000)]))
    const p = m.params
    const params = {
      maxTokens: p?.maxTokens,
      temperature: p?.temperature,
      topP: p?.topP !== 0 ? p?.topP : undefined,
      topK: p?.topK !== 0 ? p?.topK : undefined,
      seed: p?.seed !== 0n && p?.seed != null ? Number(p.seed) : undefined,
      stop: p?.stop != null && p.stop.length > 0 ? p.stop : undefined,
      deterministic: true
    }
    // a miner takes more tasks than its engine queues (a burst on a small pool): the task waits here
    // for room instead of failing, and the queue state machine's windows decide if it waited too long
    let gen
    let next
    for (;;) {
      try {
        gen = engine.generate(prompt, params, signal)
        next = await gen.next()
        break
      } catch (err: any) {
        if (err?.name !== 'QueueFullError' || signal.aborted) {
          throw err
        }
        await new Promise<void>(resolve => {
          const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
          const timer = setTimeout(done, ENGINE_RETRY_MS)
          signal.addEventListener('abort', done, { once: true })
        })
        signal.throwIfAborted()
      }
    }
    let result
    for (;; next = await gen.next()) {
      if (next.done === true) {
        result = next.value
        break
      }
      buffer.push(next.value.text, [next.value.token])
      if (this.init.faults?.tokenDelayMs != null) {
        await new Promise(resolve => setTimeout(resolve, this.init.faults?.tokenDelayMs))
      }
    }
    // the decoder may hold back the bytes of an incomplete character until the end: stream them too
    const streamed = buffer.frames.map(f => f.text).join('')
    if (result.text.length > streamed.length && result.text.startsWith(streamed)) {
      buffer.push(result.text.slice(streamed.length), [])
    }
    // the last tokens go out now, not after the output is stored and the assignment confirmed
    buffer.complete()
    if (assigned != null && !(await assigned)) {
      return
    }
    const output: OutputDoc = { taskId: taskId.toString(), modelId: this.modelId, text: result.text, tokens: result.tokens, finishReason: result.finishReason }
    const outputCid = await node.store.putJson(output)
    buffer.finish({ tokenCount: result.tokens.length, outputCid: outputCid.bytes })
    const salt = bytesToHex(randomBytes(32))
    const outputDigest = cidDigest(outputCid)
    const commitment = precommitHash(domain, taskId, outputDigest, salt)
    const signature = await signPrecommit(privateKeyToAccount(node.peerIdentity.privateKey), domain, { taskId, outputDigest, salt })
    await this.precommit(task, { outputCid: outputCid.toString(), salt, commitment, signature, tokens: result.tokens.length })
    this.say(`task ${taskId}: generated ${result.tokens.length} tokens, output ${outputCid}, precommitted`)
  }

  private async precommit (task: MinerTask, r: { outputCid?: string, salt?: Hex, commitment: Hex, signature: Hex, tokens?: number }): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.enqueue(task, async () => {
        try {
          const slot = this.mySlot(task)
          if (slot == null || (slot.status !== 'acked' && slot.status !== 'assigned')) {
            throw new Error(`too late to precommit (${slot?.status ?? 'not assigned'})`)
          }
          Object.assign(task.record, r)
          await this.persist(task)
          const msg: Precommit = { taskId: task.queued.taskId, miner: addressToBytes(this.address as Hex), commitment: bytes(r.commitment), signature: bytes(r.signature) }
          await this.publish('precommit', msg)
          this.apply(task, precommitEvent(msg))
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
    let reveal: Reveal
    if (this.init.faults?.copyOthers === true) {
      const victim = await this.waitFor(() => this.copied.get(task.queued.taskId.toString())?.reveal, 10_000)
      if (victim == null) {
        return
      }
      reveal = { ...victim, miner: addressToBytes(this.address as Hex) }
    } else {
      if (r.outputCid == null || r.salt == null) {
        return
      }
      const salt = this.init.faults?.revealMismatch === true ? bytesToHex(randomBytes(32)) : r.salt
      reveal = { taskId: task.queued.taskId, miner: addressToBytes(this.address as Hex), outputCid: CID.parse(r.outputCid).bytes, salt: bytes(salt) }
    }
    await this.publish('reveal', reveal)
    r.revealed = true
    await this.persist(task)
    this.say(`task ${task.queued.taskId}: revealed`)
  }

  // ------------------------------------------------------------ others' messages

  private onPrecommit (task: MinerTask, m: Precommit): void {
    this.apply(task, precommitEvent(m))
    if (this.init.faults?.copyOthers === true) {
      const entry = this.copied.get(m.taskId.toString()) ?? {}
      entry.commitment ??= m
      this.copied.set(m.taskId.toString(), entry)
    }
  }

  private onReveal (m: Reveal): void {
    if (this.init.faults?.copyOthers === true) {
      const entry = this.copied.get(m.taskId.toString()) ?? {}
      entry.reveal ??= m
      this.copied.set(m.taskId.toString(), entry)
    }
  }

  /** The copier fault: wait for an honest precommit and re-sign its commitment as our own. */
  private async copyCommitment (task: MinerTask, signal: AbortSignal): Promise<void> {
    const victim = await this.waitFor(() => this.copied.get(task.queued.taskId.toString())?.commitment, 60_000, signal)
    if (victim == null) {
      return
    }
    const account = privateKeyToAccount(this.init.node.peerIdentity.privateKey)
    const commitment = bytesToHex(victim.commitment)
    const signature = await account.sign({ hash: commitment })
    await this.precommit(task, { commitment, signature })
    this.say(`task ${task.queued.taskId}: copied another miner's commitment`)
  }

  private async waitFor<T> (get: () => T | undefined, timeoutMs: number, signal?: AbortSignal): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline && signal?.aborted !== true && !this.stopped) {
      const v = get()
      if (v != null) {
        return v
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return undefined
  }

  // ------------------------------------------------------------ streams

  private async streamFor (taskId: bigint, remote: PeerId): Promise<TokenBuffer | StreamEnd.Code> {
    const task = await this.announced(taskId)
    if (task == null) {
      return StreamEnd.Code.UNKNOWN_TASK
    }
    // only the submitter may read tokens before the reveal: anyone else could copy them
    const submitter = bytesToHex(task.queued.submitter).toLowerCase()
    if (peerIdToAddress(remote).toLowerCase() !== submitter) {
      return StreamEnd.Code.NOT_ASSIGNED
    }
    // a submitter may ask before the assignment (its own draw) or before the ack: wait for the work to be
    // confirmed and acked, or answer at once when the assignment does not name this miner or it declined
    const deadline = Date.now() + STREAM_WAIT_MS
    while ((task.buffer == null || task.acked !== true) && Date.now() < deadline && !this.stopped) {
      if (task.declined === true || (task.assignmentSeen === true && this.mySlot(task) == null)) {
        return StreamEnd.Code.NOT_ASSIGNED
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, deadline - Date.now())
        ;(task.waiters ??= []).push(() => { clearTimeout(timer); resolve() })
      })
    }
    // acked implies the work started on this miner's own draw was confirmed first
    return task.acked === true ? task.buffer ?? StreamEnd.Code.NOT_ASSIGNED : StreamEnd.Code.NOT_ASSIGNED
  }
}
