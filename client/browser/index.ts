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
import pRetry from 'p-retry'
import { sleep } from '../sleep.ts'
import { BootstrapDialError, InvalidBootstrapError, LightClientNotStartedError, NoPeerError, NoRelayError } from './errors.ts'
import { decodeGossip, followedTopics } from './gossip.ts'
import { lightClientOptions } from './options.ts'
import { PoolView } from './pool.ts'
import { describeConnection, emptyCounts, peerOf, relayedWebRTCAddrs, transportOf } from './transport.ts'
import type { LightServices } from './options.ts'
import type { PoolMiner, PoolModel } from './pool.ts'
import type { ClientState, ClientStatus, ConnectionInfo, LightClientEvents, LightClientInit } from './types.ts'
import type { TopicMessages } from '../../protocols/topics.ts'
import type { Message } from '@libp2p/gossipsub'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'

export { lightClientOptions, topicPrefix, allowsPrivateAddresses, isLocalAddress, BROWSER_MAX_CONNECTIONS } from './options.ts'
export { PoolView, POOL_MAX_AGE_MS } from './pool.ts'
export type { LightOptionsInit, LightServices } from './options.ts'
export type { PoolMiner, PoolModel } from './pool.ts'
export { TRANSPORT_KINDS, transportOf } from './transport.ts'
export type { TransportKind } from './transport.ts'
export type { ClientState, ClientStatus, ConnectionInfo, GossipEvent, LightClientEvents, LightClientInit, ReconnectOptions } from './types.ts'
export { BootstrapDialError, NoRelayError } from './errors.ts'

/** Attempts per WebRTC address (see LightClient.dialWebRTCAddr). */
export const WEBRTC_ATTEMPTS = 3
/** pause before a stalled WebRTC attempt is retried, so the dial queue drops it first */
const WEBRTC_RETRY_PAUSE_MS = 100
const DEFAULT_RECONNECT_INITIAL_MS = 500
const DEFAULT_RECONNECT_MAX_MS = 10_000

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
  /** the reconnect loop while one runs (it ends once a bootstrap answers, or with stop()) */
  private reconnecting?: Promise<void>
  /** aborted by stop(): the reconnect loop and every pause between dial attempts end with it */
  private shutdown?: AbortController
  private dialing?: Promise<void>
  private readonly now: () => number

  constructor (init: LightClientInit) {
    super()
    if (init.bootstrap.length === 0) {
      throw new InvalidBootstrapError('the light client needs at least one bootstrap multiaddr')
    }
    for (const addr of init.bootstrap) {
      if (peerOf(addr) == null) {
        throw new InvalidBootstrapError(`bootstrap address ${addr} must end with /p2p/<peer id>`)
      }
    }
    this.init = init
    this.now = init.now ?? Date.now
    this.bootstrapPeers = new Set(init.bootstrap.map(a => peerOf(a) ?? ''))
    this.topics = followedTopics(init.network, init.models ?? [], init.kinds)
  }

  /** The libp2p node (for tests and advanced use). */
  get libp2p (): Libp2p<LightServices> {
    if (this.node == null) {
      throw new LightClientNotStartedError()
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
    this.shutdown = new AbortController()
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
    try {
      await this.dialBootstrap()
    } catch (err) {
      this.scheduleReconnect()
      if (this.reconnects === 0) {
        // the first attempt reports its failure to start()'s caller; retries continue in the background
        throw err
      }
    }
  }

  async stop (): Promise<void> {
    this.shutdown?.abort()
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
      throw new NoPeerError(target)
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
    const stop = AbortSignal.any([signal, this.shutdown?.signal].filter(s => s != null))
    let stalled = false
    return pRetry(async () => {
      const deadline = AbortSignal.timeout(attemptMs)
      try {
        // force: a relayed (limited) connection to the same peer must not stand in for the direct one
        const conn = await this.libp2p.dial(multiaddr(addr), { signal: signal != null ? AbortSignal.any([signal, deadline]) : deadline, force: true })
        return this.describe(conn)
      } catch (err) {
        stalled = deadline.aborted && signal?.aborted !== true
        throw err
      }
    }, {
      retries: WEBRTC_ATTEMPTS - 1,
      // let the dial queue drop the stalled attempt first, or the retry joins it and fails with it
      minTimeout: WEBRTC_RETRY_PAUSE_MS,
      factor: 1,
      onFailedAttempt: () => {
        if (stalled) {
          this.webrtcRetries++
        }
      },
      // only a stalled attempt is retried; a refusal, or the caller giving up, is final
      shouldRetry: () => stalled,
      signal: stop
    })
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
    for (const topic of followedTopics(this.init.network, [model], this.init.kinds)) {
      if (!this.topics.includes(topic)) {
        this.topics.push(topic)
        this.node?.services.pubsub.subscribe(topic)
      }
    }
  }

  private relayedWebRTCAddrs (peer: string): string[] {
    return relayedWebRTCAddrs(this.libp2p.getConnections(), this.bootstrapPeers, peer)
  }

  private describe (c: Connection): ConnectionInfo {
    return describeConnection(c, this.bootstrapPeers)
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

  /**
   * Re-dial the bootstrap until one answers: after `initialDelayMs`, then
   * after a pause that doubles up to `maxDelayMs`, until stop().
   */
  private scheduleReconnect (): void {
    const signal = this.shutdown?.signal
    if (this.reconnecting != null || this.state === 'stopped' || signal == null || signal.aborted) {
      return
    }
    const initialMs = this.init.reconnect?.initialDelayMs ?? DEFAULT_RECONNECT_INITIAL_MS
    this.reconnecting = (async () => {
      await sleep(initialMs, signal)
      await pRetry(async () => {
        this.reconnects++
        await this.dialBootstrap()
      }, { retries: Infinity, minTimeout: initialMs * 2, factor: 2, maxTimeout: this.init.reconnect?.maxDelayMs ?? DEFAULT_RECONNECT_MAX_MS, signal })
    })().catch(() => {}).finally(() => { this.reconnecting = undefined })
  }

  private async dialBootstrap (): Promise<void> {
    this.dialing ??= this.doDialBootstrap().finally(() => { this.dialing = undefined })
    return this.dialing
  }

  /** One round of dials to every bootstrap address; throws BootstrapDialError when none answers. */
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
      this.setState('connected')
      return
    }
    const reason = (results.find(r => r.status === 'rejected') as PromiseRejectedResult | undefined)?.reason
    const err = new BootstrapDialError(this.init.bootstrap, reason)
    this.lastError = err.message
    this.setState('reconnecting')
    throw err
  }

  private readonly onMessage = (evt: CustomEvent<Message>): void => {
    const event = decodeGossip(evt.detail, this.topics, this.init.network, this.now())
    if (event == null) {
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
