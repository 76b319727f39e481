/**
 * Keeps a node connected to a handful of peers. libp2p 3 does not dial on
 * its own beyond the bootstrap list, and gossipsub only meshes over open
 * connections: a node that knows only its bootstrap ends up pruned from the
 * bootstrap's mesh. The keeper dials peers the DHT has put in the peer store
 * until `minConnections` are open (the DHT's own queries and routing-table
 * refresh keep the store filled). A peer that cannot be dialled is tried
 * again after 2, 4, 8… check intervals, at most every 5 minutes, so a store
 * holding departed peers does not cost a failed dial (and libp2p's peer-store
 * write recording it) every few seconds; a connection to it, either way,
 * clears that. A node with no connection at all tries each peer it knows at
 * least every 4 intervals (its own network may have been what failed).
 *
 * Reading the peer store decodes every record's peer id (a secp256k1 key
 * decompression in JavaScript each), so the keeper reads it only when it
 * may find something new: after a peer was added or changed, a connection
 * closed, or a failed peer's wait ended; else once every 15 intervals.
 */
import type { AbortOptions, ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, PeerStore, Startable, TypedEventTarget } from '@libp2p/interface'
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
  events: TypedEventTarget<Libp2pEvents>
}

/** Peers for gossip meshing: gossipsub's D is 6, so 8 leaves room for churn. */
const DEFAULT_MIN_CONNECTIONS = 8
const DEFAULT_INTERVAL_MS = 2000
const DEFAULT_DIAL_TIMEOUT_MS = 5000
/** longest wait before dialling a peer that failed again */
export const MAX_REDIAL_BACKOFF_MS = 5 * 60_000
/** peers whose failures are remembered; beyond it, the expired ones are forgotten first */
const MAX_BACKOFF_ENTRIES = 1024
/** a node with no connection retries each known peer at least this often (in check intervals) */
const ISOLATED_RETRY_INTERVALS = 4
/** with nothing changed, the peer store is read again after this many check intervals anyway */
const RESCAN_INTERVALS = 15

interface Failures {
  /** failed dials in a row */
  count: number
  /** when the check that saw the last one started */
  at: number
  /** no dial before this */
  until: number
}

export class PeerKeeper implements Startable {
  private readonly components: PeerKeeperComponents
  private readonly log: Logger
  private readonly minConnections: number
  private readonly intervalMs: number
  private readonly dialTimeoutMs: number
  private timer?: ReturnType<typeof setInterval>
  private controller?: AbortController
  private running = false
  /** failed dials by peer: how many in a row, and no dial before `until` */
  private readonly failures = new Map<string, Failures>()
  /** the peer store may hold a peer worth dialling that the last read did not */
  private stale = true
  /** no read before this unless `stale` (ms since the epoch) */
  private nextReadAt = 0
  private readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    this.failures.delete(evt.detail.remotePeer.toString())
  }

  private readonly onChange = (): void => {
    this.stale = true
  }

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
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.components.events.addEventListener('connection:close', this.onChange)
    this.components.events.addEventListener('peer:update', this.onChange)
    this.components.events.addEventListener('peer:discovery', this.onChange)
    this.timer = setInterval(() => {
      this.check().catch((err) => { this.log('peer check failed: %s', err.message) })
    }, this.intervalMs)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.components.events.removeEventListener('connection:close', this.onChange)
    this.components.events.removeEventListener('peer:update', this.onChange)
    this.components.events.removeEventListener('peer:discovery', this.onChange)
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
      const now = Date.now()
      // half an interval of slack: a check falling due when a wait ends does not skip the peer
      const due = now + this.intervalMs / 2
      // with no connection at all the failures may well have been ours (the network was down): no peer waits
      // longer than ISOLATED_RETRY_INTERVALS then
      const isolated = connected.size === 0
      if (!isolated && !this.stale && now < this.nextReadAt) {
        return
      }
      this.stale = false
      const ready = (key: string): boolean => {
        const f = this.failures.get(key)
        return f == null || f.until <= due || (isolated && f.at + ISOLATED_RETRY_INTERVALS * this.intervalMs <= due)
      }
      const candidates = (await peerStore.all({ signal: options.signal ?? this.controller?.signal }))
        .filter(p => !p.id.equals(peerId) && !connected.has(p.id.toString()) && p.addresses.length > 0 && ready(p.id.toString()))
        .sort(() => Math.random() - 0.5)
        .slice(0, missing)
      await Promise.all(candidates.map(async (p) => {
        const key = p.id.toString()
        try {
          const signal = AbortSignal.any([AbortSignal.timeout(this.dialTimeoutMs), this.controller?.signal ?? new AbortController().signal])
          await connectionManager.openConnection(p.id, { signal })
          this.failures.delete(key)
        } catch (err: any) {
          if (this.controller?.signal.aborted === true) {
            return
          }
          const count = (this.failures.get(key)?.count ?? 0) + 1
          const waitMs = Math.min(this.intervalMs * 2 ** count, MAX_REDIAL_BACKOFF_MS)
          this.remember(key, { count, at: now, until: now + waitMs })
          this.log('could not dial %p (%d in a row, next try in %d ms): %s', p.id, count, waitMs, err.message)
        }
      }))
      // the next read: when the first failed peer's wait ends, or after RESCAN_INTERVALS
      let next = Date.now() + RESCAN_INTERVALS * this.intervalMs
      for (const f of this.failures.values()) {
        if (f.until > now && f.until < next) {
          next = f.until
        }
      }
      this.nextReadAt = next - this.intervalMs / 2
    } finally {
      this.running = false
    }
  }

  private remember (key: string, entry: Failures): void {
    this.failures.delete(key)
    if (this.failures.size >= MAX_BACKOFF_ENTRIES) {
      const now = Date.now()
      for (const [k, e] of this.failures) {
        if (e.until <= now) {
          this.failures.delete(k)
        }
      }
      if (this.failures.size >= MAX_BACKOFF_ENTRIES) {
        this.failures.delete(this.failures.keys().next().value as string)
      }
    }
    this.failures.set(key, entry)
  }
}

export function peerKeeper (init: PeerKeeperInit = {}): (components: PeerKeeperComponents) => PeerKeeper {
  return (components) => new PeerKeeper(components, init)
}
