/**
 * The miner role: advertise on the heartbeat topic, follow the session queue
 * of every task for its model, and when assigned: ack, fetch the prompt by
 * CID, generate in deterministic mode while streaming tokens to the
 * submitter, store the output in Helia, precommit (EIP-712, node key) and
 * reveal once the reveal window opens. Accepted work is kept in the
 * datastore, so a restarted miner still reveals what it committed to.
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { signPrecommit } from '../../contracts/index.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'
import { buildTopic } from '../../protocols/topics.ts'
import { defaultValidators, installGossip, publishMessage } from '../../protocols/gossip/index.ts'
import { StreamEnd, TaskQueued, addressToBytes } from '../../protocols/messages/index.ts'
import { ackEvent, assignedEvent, precommitEvent, taskInitFrom } from '../../protocols/queue/wire.ts'
import { createTask, isTerminal, transition, tick } from '../../protocols/queue/machine.ts'
import { cidDigest, fetchFromHolders, precommitHash, RecordStore } from './records.ts'
import { TokenBuffer, serveTokenStream, streamProtocol } from './stream.ts'
import type { InferenceEngine } from '../inference/index.ts'
import type { CortensorNode } from '../node.ts'
import type { OutputDoc, PromptDoc } from './records.ts'
import type { HubDomain } from '../../contracts/index.ts'
import type { Ack, Assignment, Precommit, Reveal } from '../../protocols/messages/index.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskState } from '../../protocols/queue/types.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

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
  hardwareClass?: string
  level?: number
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
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 2000
const TICK_MS = 100
const PENDING_MAX_AGE_MS = 30_000

export class MinerRole {
  readonly init: MinerRoleInit
  readonly modelId: string
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  private readonly tasks = new Map<string, MinerTask>()
  private readonly pending = new Map<string, Array<{ event: (t: MinerTask) => Promise<void>, atMs: number }>>()
  private readonly records: RecordStore<MinerRecord>
  private readonly copied = new Map<string, { commitment?: Precommit, reveal?: Reveal }>()
  private uninstall?: () => void
  private timer?: ReturnType<typeof setInterval>
  private heartbeatTimer?: ReturnType<typeof setInterval>
  private seq = 0n
  private active = 0
  private stopped = false

  constructor (init: MinerRoleInit) {
    this.init = init
    this.modelId = init.modelId ?? init.engine.modelId
    this.address = init.node.peerIdentity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${init.node.config.network}`
    this.records = new RecordStore(init.node.datastore, '/cortensor/miner/tasks')
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  async start (): Promise<void> {
    const { node } = this.init
    // work accepted before a restart
    for await (const { value } of this.records.all()) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      const task: MinerTask = { queued, record: value, chain: Promise.resolve() }
      this.tasks.set(queued.taskId.toString(), task)
      if (!isTerminal(value.state)) {
        this.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
        if (value.outputCid == null && this.mySlot(task)?.status === 'acked') {
          this.startWork(task)
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
        verdict: () => {},
        heartbeat: () => {}
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
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    clearInterval(this.timer)
    clearInterval(this.heartbeatTimer)
    for (const t of this.tasks.values()) {
      t.abort?.abort()
    }
    await Promise.allSettled([...this.tasks.values()].map(async t => t.chain))
    this.uninstall?.()
    await this.init.node.libp2p.unhandle(streamProtocol(this.init.node.config.network)).catch(() => {})
  }

  /** Tasks this miner works on now. */
  get load (): number {
    return this.active
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
    try {
      await publishMessage(this.init.node.libp2p.services.pubsub, 'heartbeat', {
        node: addressToBytes(this.address as Hex),
        models: [this.modelId],
        hardwareClass: this.init.hardwareClass ?? 'cpu',
        level: this.init.level ?? 0,
        tokensPerSecondMilli: Math.round((this.init.tokensPerSec ?? 100) * 1000),
        loadPermille: Math.min(1000, this.active * 1000),
        reservedBySession: 0n,
        timestampMs: BigInt(Date.now()),
        seq: this.seq++
      }, { prefix: this.prefix, model: this.modelId })
    } catch (err: any) {
      log('heartbeat failed: %s', err?.message)
    }
  }

  // ------------------------------------------------------------ task bookkeeping

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const id = m.taskId.toString()
    if (this.tasks.has(id)) {
      return
    }
    const { state } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: MinerTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), state }, chain: Promise.resolve() }
    this.tasks.set(id, task)
    for (const p of this.pending.get(id) ?? []) {
      this.enqueue(task, p.event)
    }
    this.pending.delete(id)
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
    const ack: Ack = { taskId: m.taskId, miner: addressToBytes(this.address as Hex), round: m.round }
    await this.publish('ack', ack)
    this.apply(task, ackEvent(ack))
    await this.persist(task)
    this.say(`task ${m.taskId}: assigned (round ${m.round}), acked`)
    this.startWork(task)
  }

  private startWork (task: MinerTask): void {
    task.abort = new AbortController()
    task.buffer = new TokenBuffer()
    const signal = task.abort.signal
    this.active++
    void this.work(task, signal)
      .catch((err) => {
        task.buffer?.finish({ code: signal.aborted ? StreamEnd.Code.CANCELLED : StreamEnd.Code.ENGINE_ERROR, message: String(err?.message ?? err).slice(0, 200) })
        if (!signal.aborted) {
          this.say(`task ${task.queued.taskId}: generation failed: ${err?.message ?? err}`)
        }
      })
      .finally(() => { this.active-- })
  }

  private async work (task: MinerTask, signal: AbortSignal): Promise<void> {
    const { node, engine, domain } = this.init
    const m = task.queued
    const taskId = m.taskId
    if (this.init.faults?.copyOthers === true) {
      await this.copyCommitment(task, signal)
      return
    }
    const promptCid = CID.decode(m.promptCid)
    await fetchFromHolders(node.libp2p, node.store, node.config.network, [task.from], promptCid, signal)
    const doc = await node.store.getJson<PromptDoc>(promptCid, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) })
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
    const buffer = task.buffer ?? new TokenBuffer()
    const gen = engine.generate(doc.prompt, params, signal)
    let result
    for (;;) {
      const next = await gen.next()
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
    const task = this.tasks.get(taskId.toString())
    if (task == null) {
      return StreamEnd.Code.UNKNOWN_TASK
    }
    // only the submitter may read tokens before the reveal: anyone else could copy them
    const submitter = bytesToHex(task.queued.submitter).toLowerCase()
    if (peerIdToAddress(remote).toLowerCase() !== submitter) {
      return StreamEnd.Code.NOT_ASSIGNED
    }
    const buffer = await this.waitFor(() => task.buffer, 10_000)
    return buffer ?? StreamEnd.Code.NOT_ASSIGNED
  }
}
