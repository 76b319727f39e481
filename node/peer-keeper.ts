/**
 * Keeps a node connected to a handful of peers. libp2p 3 does not dial on
 * its own beyond the bootstrap list, and gossipsub only meshes over open
 * connections: a node that knows only its bootstrap ends up pruned from the
 * bootstrap's mesh. The keeper dials peers the DHT has put in the peer store
 * until `minConnections` are open (the DHT's own queries and routing-table
 * refresh keep the store filled).
 */
import type { AbortOptions, ComponentLogger, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

export interface PeerKeeperInit {
  /** keep at least this many connections open (default: 8) */
  minConnections?: number
  /** how often to check (default: 2000 ms) */
  intervalMs?: number
  /** timeout of one dial (default: 5000 ms) */
  dialTimeoutMs?: number
}

export interface PeerKeeperComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** Peers for gossip meshing: gossipsub's D is 6, so 8 leaves room for churn. */
const DEFAULT_MIN_CONNECTIONS = 8
const DEFAULT_INTERVAL_MS = 2000
const DEFAULT_DIAL_TIMEOUT_MS = 5000

export class PeerKeeper implements Startable {
  private readonly components: PeerKeeperComponents
  private readonly log: Logger
  private readonly minConnections: number
  private readonly intervalMs: number
  private readonly dialTimeoutMs: number
  private timer?: ReturnType<typeof setInterval>
  private controller?: AbortController
  private running = false

  constructor (components: PeerKeeperComponents, init: PeerKeeperInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('cortensor:peer-keeper')
    this.minConnections = init.minConnections ?? DEFAULT_MIN_CONNECTIONS
    this.intervalMs = init.intervalMs ?? DEFAULT_INTERVAL_MS
    this.dialTimeoutMs = init.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  }

  readonly [Symbol.toStringTag] = 'cortensor/peer-keeper'

  async start (): Promise<void> {
    this.controller = new AbortController()
    this.timer = setInterval(() => {
      this.check().catch((err) => { this.log('peer check failed: %s', err.message) })
    }, this.intervalMs)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.controller?.abort()
  }

  /** Dial known but unconnected peers until the minimum is reached. */
  async check (options: AbortOptions = {}): Promise<void> {
    if (this.running || this.controller?.signal.aborted === true) {
      return
    }
    this.running = true
    try {
      const { connectionManager, peerStore, peerId } = this.components
      const connected = new Set(connectionManager.getConnections().map(c => c.remotePeer.toString()))
      const missing = this.minConnections - connected.size
      if (missing <= 0) {
        return
      }
      const candidates = (await peerStore.all({ signal: options.signal ?? this.controller?.signal }))
        .filter(p => !p.id.equals(peerId) && !connected.has(p.id.toString()) && p.addresses.length > 0)
        .sort(() => Math.random() - 0.5)
        .slice(0, missing)
      await Promise.all(candidates.map(async (p) => {
        try {
          const signal = AbortSignal.any([AbortSignal.timeout(this.dialTimeoutMs), this.controller?.signal ?? new AbortController().signal])
          await connectionManager.openConnection(p.id, { signal })
        } catch (err: any) {
          this.log('could not dial %p: %s', p.id, err.message)
        }
      }))
    } finally {
      this.running = false
    }
  }
}

export function peerKeeper (init: PeerKeeperInit = {}): (components: PeerKeeperComponents) => PeerKeeper {
  return (components) => new PeerKeeper(components, init)
}
