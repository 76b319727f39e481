/**
 * The browser light client: a small libp2p node that joins the mesh through
 * a bootstrap node over WebSockets, holds a circuit-relay reservation on it,
 * accepts and opens WebRTC connections signalled through that relay, follows
 * the task gossip (decoded with the same codecs as the nodes) and keeps a
 * view of the miner pool from heartbeats. It re-dials the bootstrap when the
 * connection goes away.
 *
 * Browser-safe: it imports protocols/ (pure) and libp2p's browser builds,
 * never node/ or a Node builtin; `client/browser/build.ts` enforces that.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { TypedEventEmitter } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { TOPIC_CODECS, TOPIC_KINDS, buildTopic, parseTopic } from '../../protocols/topics.ts'
import { lightClientOptions, topicPrefix } from './options.ts'
import { PoolView } from './pool.ts'
import type { LightOptionsInit, LightServices } from './options.ts'
import type { PoolMiner, PoolModel } from './pool.ts'
import type { TopicKind, TopicMessages } from '../../protocols/topics.ts'
import type { Message } from '@libp2p/gossipsub'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export { lightClientOptions, topicPrefix, allowsPrivateAddresses, isLocalAddress, BROWSER_MAX_CONNECTIONS } from './options.ts'
export { PoolView, POOL_MAX_AGE_MS } from './pool.ts'
export type { LightOptionsInit, LightServices } from './options.ts'
export type { PoolMiner, PoolModel } from './pool.ts'

/** How a connection reaches its peer, as shown on the page. */
export type TransportKind = 'websocket' | 'relay' | 'webrtc' | 'webrtc-direct' | 'tcp' | 'other'
export const TRANSPORT_KINDS: readonly TransportKind[] = ['websocket', 'relay', 'webrtc', 'webrtc-direct', 'tcp', 'other']

/** Attempts per WebRTC address (see LightClient.dialWebRTCAddr). */
export const WEBRTC_ATTEMPTS = 3

export interface ConnectionInfo {
  id: string
  peer: string
  addr: string
  transport: TransportKind
  direction: 'inbound' | 'outbound'
  /** relayed connections are limited (data and time caps); WebRTC and WebSocket ones are not */
  limited: boolean
  /** this peer is one of our bootstrap nodes */
  bootstrap: boolean
  openedAtMs: number
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stopped'

export interface ClientStatus {
  state: ClientState
  peerId: string
  /** distinct connected peers */
  peers: number
  connections: ConnectionInfo[]
  /** open connections by transport */
  transports: Record<TransportKind, number>
  /** our `/p2p-circuit/webrtc` addresses: present once the relay granted a reservation */
  webrtcAddresses: string[]
  bootstrap: string[]
  /** how many times the bootstrap was re-dialled after losing it */
  reconnects: number
  /** WebRTC dial attempts that timed out and were retried (see dialWebRTC) */
  webrtcRetries: number
  lastError?: string
}

/** A decoded, structurally checked gossip message. */
export interface GossipEvent<K extends TopicKind = TopicKind> {
  topic: string
  kind: K
  model?: string
  /** author peer id (every message is signed) */
  from: string
  message: TopicMessages[K]
  receivedAtMs: number
}

export interface LightClientEvents {
  status: CustomEvent<ClientStatus>
  message: CustomEvent<GossipEvent>
  pool: CustomEvent<PoolMiner[]>
}

export interface ReconnectOptions {
  /** first retry delay (default 500 ms); it doubles up to `maxDelayMs` */
  initialDelayMs?: number
  /** default 10 s */
  maxDelayMs?: number
}

export interface LightClientInit extends LightOptionsInit {
  /** bootstrap multiaddrs, each ending in /p2p/<peer id>; browsers need a /ws or /wss one */
  bootstrap: string[]
  /** models whose per-model topics (task, heartbeat) to follow */
  models?: string[]
  /** topic kinds to follow (default all) */
  kinds?: TopicKind[]
  reconnect?: ReconnectOptions
  /** one WebRTC dial attempt may take this long before it is retried (default 6 s, 3 attempts) */
  webrtcAttemptTimeoutMs?: number
  /** clock (default Date.now) */
  now?(): number
}

export class BootstrapDialError extends Error {
  static name = 'BootstrapDialError'

  constructor (addrs: string[], cause: unknown) {
    super(`could not reach any bootstrap node (${addrs.join(', ')}): ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'BootstrapDialError'
  }
}

export class NoRelayError extends Error {
  static name = 'NoRelayError'

  constructor () {
    super('not connected to a bootstrap relay, so WebRTC cannot be signalled')
    this.name = 'NoRelayError'
  }
}

/** Classify a connection by its remote address (WebRTC first: its address names the relay it was signalled through). */
export function transportOf (addr: Multiaddr | string): TransportKind {
  const names = (typeof addr === 'string' ? multiaddr(addr) : addr).getComponents().map(c => c.name)
  if (names.includes('webrtc')) {
    return 'webrtc'
  }
  if (names.includes('webrtc-direct')) {
    return 'webrtc-direct'
  }
  if (names.includes('p2p-circuit')) {
    return 'relay'
  }
  if (names.includes('ws') || names.includes('wss')) {
    return 'websocket'
  }
  if (names.includes('tcp')) {
    return 'tcp'
  }
  return 'other'
}

function peerOf (addr: string): string | undefined {
  const p2p = multiaddr(addr).getComponents().filter(c => c.name === 'p2p')
  return p2p.length > 0 ? p2p[p2p.length - 1].value : undefined
}

function emptyCounts (): Record<TransportKind, number> {
  return { websocket: 0, relay: 0, webrtc: 0, 'webrtc-direct': 0, tcp: 0, other: 0 }
}

export class LightClient extends TypedEventEmitter<LightClientEvents> {
  readonly init: LightClientInit
  readonly topics: string[]
  private node?: Libp2p<LightServices>
  private readonly poolView = new PoolView()
  private readonly bootstrapPeers: Set<string>
  private state: ClientState = 'idle'
  private reconnects = 0
  private webrtcRetries = 0
  private lastError?: string
  private retryTimer?: ReturnType<typeof setTimeout>
  private retryDelayMs: number
  private dialing?: Promise<void>
  private readonly now: () => number

  constructor (init: LightClientInit) {
    super()
    if (init.bootstrap.length === 0) {
      throw new Error('the light client needs at least one bootstrap multiaddr')
    }
    for (const addr of init.bootstrap) {
      if (peerOf(addr) == null) {
        throw new Error(`bootstrap address ${addr} must end with /p2p/<peer id>`)
      }
    }
    this.init = init
    this.now = init.now ?? Date.now
    this.bootstrapPeers = new Set(init.bootstrap.map(a => peerOf(a) ?? ''))
    this.retryDelayMs = init.reconnect?.initialDelayMs ?? 500
    const prefix = topicPrefix(init.network)
    const kinds = init.kinds ?? [...TOPIC_KINDS]
    this.topics = kinds.flatMap(kind => TOPIC_CODECS[kind].modelScoped
      ? (init.models ?? []).map(model => buildTopic(kind, model, { prefix }))
      : [buildTopic(kind, undefined, { prefix })])
  }

  /** The libp2p node (for tests and advanced use). */
  get libp2p (): Libp2p<LightServices> {
    if (this.node == null) {
      throw new Error('the light client is not started')
    }
    return this.node
  }

  get peerId (): string {
    return this.node?.peerId.toString() ?? ''
  }

  /** Create the node, subscribe, and dial the bootstrap (resolves once one bootstrap is connected). */
  async start (): Promise<void> {
    if (this.node != null) {
      return
    }
    const privateKey = this.init.privateKey ?? await generateKeyPair('secp256k1')
    const node = await createLibp2p(lightClientOptions({ ...this.init, privateKey }))
    this.node = node
    node.addEventListener('connection:open', this.onConnectionChange)
    node.addEventListener('connection:close', this.onConnectionChange)
    node.addEventListener('self:peer:update', this.onConnectionChange)
    node.addEventListener('transport:listening', this.onConnectionChange)
    node.addEventListener('transport:close', this.onConnectionChange)
    node.addEventListener('peer:disconnect', this.onPeerDisconnect)
    node.services.pubsub.addEventListener('message', this.onMessage)
    for (const topic of this.topics) {
      node.services.pubsub.subscribe(topic)
    }
    this.setState('connecting')
    await this.dialBootstrap()
  }

  async stop (): Promise<void> {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const node = this.node
    if (node == null) {
      return
    }
    this.state = 'stopped'
    node.removeEventListener('connection:open', this.onConnectionChange)
    node.removeEventListener('connection:close', this.onConnectionChange)
    node.removeEventListener('self:peer:update', this.onConnectionChange)
    node.removeEventListener('transport:listening', this.onConnectionChange)
    node.removeEventListener('transport:close', this.onConnectionChange)
    node.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    node.services.pubsub.removeEventListener('message', this.onMessage)
    await node.stop()
    this.node = undefined
    this.emitStatus()
  }

  connections (): ConnectionInfo[] {
    if (this.node == null) {
      return []
    }
    return this.node.getConnections().filter(c => c.status === 'open').map(c => this.describe(c))
  }

  webrtcAddresses (): string[] {
    return (this.node?.getMultiaddrs() ?? []).map(String).filter(a => a.includes('/p2p-circuit/webrtc/'))
  }

  status (): ClientStatus {
    const connections = this.connections()
    const transports = emptyCounts()
    for (const c of connections) {
      transports[c.transport]++
    }
    return {
      state: this.state,
      peerId: this.peerId,
      peers: new Set(connections.map(c => c.peer)).size,
      connections,
      transports,
      webrtcAddresses: this.webrtcAddresses(),
      bootstrap: [...this.init.bootstrap],
      reconnects: this.reconnects,
      webrtcRetries: this.webrtcRetries,
      ...(this.lastError != null ? { lastError: this.lastError } : {})
    }
  }

  pool (): PoolMiner[] {
    return this.poolView.miners(this.now())
  }

  models (): PoolModel[] {
    return this.poolView.models(this.now())
  }

  /**
   * Open a direct WebRTC connection. `target` is a full multiaddr
   * (`…/p2p/<relay>/p2p-circuit/webrtc/p2p/<peer>`) or a bare peer id, which
   * is reached through the bootstrap relay we are connected to (the peer
   * must hold a reservation there, as every node and page does).
   */
  async dialWebRTC (target: string, options: { signal?: AbortSignal } = {}): Promise<ConnectionInfo> {
    const node = this.libp2p
    const peer = target.startsWith('/') ? peerOf(target) : target
    if (peer == null) {
      throw new Error(`${target} names no peer`)
    }
    const existing = node.getConnections(peerIdFromString(peer)).find(c => c.status === 'open' && transportOf(c.remoteAddr) === 'webrtc')
    if (existing != null) {
      return this.describe(existing)
    }
    const addrs = target.startsWith('/') ? [target] : this.relayedWebRTCAddrs(peer)
    if (addrs.length === 0) {
      throw new NoRelayError()
    }
    let lastErr: unknown
    for (const addr of addrs) {
      try {
        return await this.dialWebRTCAddr(addr, options.signal)
      } catch (err) {
        lastErr = err
      }
    }
    throw lastErr
  }

  /**
   * One relayed WebRTC address, in up to WEBRTC_ATTEMPTS attempts. With
   * `@libp2p/webrtc` 6.0.33 a dial now and then never completes: the recipient
   * closes the signalling "init" data channel as soon as its side is up, and
   * when that close overtakes the channel's open on the initiator, the
   * initiator waits for an `open` event that never comes. A fresh attempt
   * succeeds, so each attempt gets a short deadline.
   */
  private async dialWebRTCAddr (addr: string, signal?: AbortSignal): Promise<ConnectionInfo> {
    const attemptMs = this.init.webrtcAttemptTimeoutMs ?? 6000
    let lastErr: unknown
    for (let attempt = 1; attempt <= WEBRTC_ATTEMPTS; attempt++) {
      const deadline = AbortSignal.timeout(attemptMs)
      try {
        // force: a relayed (limited) connection to the same peer must not stand in for the direct one
        const conn = await this.libp2p.dial(multiaddr(addr), { signal: signal != null ? AbortSignal.any([signal, deadline]) : deadline, force: true })
        return this.describe(conn)
      } catch (err) {
        lastErr = err
        // only a stalled attempt is retried; a refusal, or the caller giving up, is final
        if (signal?.aborted === true || !deadline.aborted) {
          break
        }
        this.webrtcRetries++
        // let the dial queue drop the stalled attempt first, or the retry joins it and fails with it
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
    throw lastErr
  }

  /** Dial any multiaddr (a peer's WebSocket address, a relayed one, …); a new connection even if one exists. */
  async dial (addr: string, options: { signal?: AbortSignal } = {}): Promise<ConnectionInfo> {
    if (transportOf(addr) === 'webrtc') {
      return this.dialWebRTCAddr(addr, options.signal)
    }
    const conn = await this.libp2p.dial(multiaddr(addr), { signal: options.signal ?? AbortSignal.timeout(20_000), force: true })
    return this.describe(conn)
  }

  /** Close every connection to a peer. */
  async hangUp (peer: string): Promise<void> {
    await this.libp2p.hangUp(peerIdFromString(peer))
  }

  /** Round-trip time to a connected peer, in ms. */
  async ping (peer: string): Promise<number> {
    return this.libp2p.services.ping.ping(peerIdFromString(peer), { signal: AbortSignal.timeout(10_000) })
  }

  /** Follow the per-model topics of one more model. */
  followModel (model: string): void {
    const prefix = topicPrefix(this.init.network)
    const kinds = this.init.kinds ?? [...TOPIC_KINDS]
    for (const kind of kinds) {
      if (TOPIC_CODECS[kind].modelScoped) {
        const topic = buildTopic(kind, model, { prefix })
        if (!this.topics.includes(topic)) {
          this.topics.push(topic)
          this.node?.services.pubsub.subscribe(topic)
        }
      }
    }
  }

  private relayedWebRTCAddrs (peer: string): string[] {
    const relays = this.libp2p.getConnections()
      .filter(c => c.status === 'open' && this.bootstrapPeers.has(c.remotePeer.toString()) && c.limits == null)
    return relays.map(c => {
      const base = c.remoteAddr.toString()
      const withPeer = peerOf(base) === c.remotePeer.toString() ? base : `${base}/p2p/${c.remotePeer.toString()}`
      return `${withPeer}/p2p-circuit/webrtc/p2p/${peer}`
    })
  }

  private describe (c: Connection): ConnectionInfo {
    const peer = c.remotePeer.toString()
    return {
      id: c.id,
      peer,
      addr: c.remoteAddr.toString(),
      transport: transportOf(c.remoteAddr),
      direction: c.direction,
      limited: c.limits != null,
      bootstrap: this.bootstrapPeers.has(peer),
      openedAtMs: c.timeline.open
    }
  }

  private setState (state: ClientState): void {
    if (this.state !== 'stopped') {
      this.state = state
    }
    this.emitStatus()
  }

  private emitStatus (): void {
    this.safeDispatchEvent('status', { detail: this.status() })
  }

  private readonly onConnectionChange = (): void => {
    if (this.node == null) {
      return
    }
    this.emitStatus()
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (this.node == null || this.state === 'stopped' || !this.bootstrapPeers.has(evt.detail.toString())) {
      return
    }
    if (!this.connectedToBootstrap() && this.dialing == null) {
      this.setState('reconnecting')
      this.scheduleReconnect()
    }
  }

  private connectedToBootstrap (): boolean {
    return this.node?.getConnections().some(c => c.status === 'open' && this.bootstrapPeers.has(c.remotePeer.toString())) ?? false
  }

  private scheduleReconnect (): void {
    if (this.retryTimer != null || this.state === 'stopped') {
      return
    }
    const delay = this.retryDelayMs
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.init.reconnect?.maxDelayMs ?? 10_000)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.reconnects++
      this.dialBootstrap().catch(() => {})
    }, delay)
  }

  private async dialBootstrap (): Promise<void> {
    this.dialing ??= this.doDialBootstrap().finally(() => { this.dialing = undefined })
    return this.dialing
  }

  private async doDialBootstrap (): Promise<void> {
    const node = this.node
    if (node == null) {
      return
    }
    const results = await Promise.allSettled(this.init.bootstrap.map(async addr => node.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })))
    if (this.node !== node || this.state === 'stopped') {
      return
    }
    if (results.some(r => r.status === 'fulfilled')) {
      this.lastError = undefined
      this.retryDelayMs = this.init.reconnect?.initialDelayMs ?? 500
      this.setState('connected')
      return
    }
    const reason = (results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason
    const err = new BootstrapDialError(this.init.bootstrap, reason)
    this.lastError = err.message
    this.setState('reconnecting')
    this.scheduleReconnect()
    if (this.reconnects === 0) {
      // the first attempt reports its failure to start()'s caller; retries continue in the background
      throw err
    }
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (msg.type !== 'signed' || !this.topics.includes(msg.topic)) {
      return
    }
    let event: GossipEvent
    try {
      const topic = parseTopic(msg.topic, { prefix: topicPrefix(this.init.network) })
      const codec = TOPIC_CODECS[topic.kind] as unknown as { maxBytes: number, decode(b: Uint8Array): unknown, check(m: unknown): void }
      if (msg.data.byteLength > codec.maxBytes) {
        return
      }
      const message = codec.decode(msg.data)
      codec.check(message)
      event = {
        topic: msg.topic,
        kind: topic.kind,
        ...(topic.model != null ? { model: topic.model } : {}),
        from: msg.from.toString(),
        message: message as TopicMessages[TopicKind],
        receivedAtMs: this.now()
      }
    } catch {
      // malformed for our codecs: the nodes' validators reject these too
      return
    }
    if (event.kind === 'heartbeat') {
      try {
        if (this.poolView.update(event.message as TopicMessages['heartbeat'], event.from, event.receivedAtMs) != null) {
          this.safeDispatchEvent('pool', { detail: this.pool() })
        }
      } catch {
        // a heartbeat whose node field is no address: shown in the log, left out of the pool
      }
    }
    this.safeDispatchEvent('message', { detail: event })
  }
}

/** Create and start a light client. */
export async function createLightClient (init: LightClientInit): Promise<LightClient> {
  const client = new LightClient(init)
  await client.start()
  return client
}
