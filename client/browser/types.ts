/** What the browser light client reports and takes: its status, its gossip events and its settings. */
import type { LightOptionsInit } from './options.ts'
import type { PoolMiner } from './pool.ts'
import type { ConnectionInfo, TransportKind } from './transport.ts'
import type { TopicKind, TopicMessages } from '../../protocols/topics.ts'

export type { ConnectionInfo } from './transport.ts'

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
