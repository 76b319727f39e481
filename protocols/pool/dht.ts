/**
 * The node pool on the DHT: miners provide their pool keys (keys.ts), and
 * anyone looks the miners of a model up with findProviders, without any
 * heartbeat seen yet. Provider records say "this peer served this model
 * recently" (records live up to 48 h); whether a miner is up, its load and
 * its reservation come from its heartbeats, so a lookup's answer is a list
 * of peers to dial, not a selection input.
 *
 * Browser-safe: libp2p interfaces only (a browser node looks up through its
 * DHT client or any other content router).
 */
import { poolKey, poolKeysFor } from './keys.ts'
import type { PoolAdvert, PoolKeyQuery } from './keys.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/**
 * How often a miner provides its pool keys again (kad-dht keeps provider
 * records 48 h; the re-provide also carries a level change).
 */
export const POOL_PROVIDE_INTERVAL_MS = 10 * 60_000

/** Default bound on one lookup: on a healthy network it ends by itself well before. */
export const DEFAULT_POOL_LOOKUP_TIMEOUT_MS = 10_000

export interface PoolMiner {
  peerId: PeerId
  /** addresses the DHT returned with the record (may be empty: dial by peer id then) */
  multiaddrs: Multiaddr[]
}

export interface FindPoolMinersOptions {
  /** stop looking after this long and return what was found; default DEFAULT_POOL_LOOKUP_TIMEOUT_MS */
  timeoutMs?: number
  /** the caller's cancellation: aborting it rejects with its reason */
  signal?: AbortSignal
  /** stop after this many distinct miners */
  limit?: number
}

/**
 * The peers that provide the pool key of `query` on `network` (this node
 * excluded), each once with all its addresses, in the order found.
 * A timeout ends the lookup with what was found so far; an abort of
 * `options.signal` rejects.
 */
export async function findPoolMiners (libp2p: Pick<Libp2p, 'peerId' | 'contentRouting'>, network: string, query: PoolKeyQuery, options: FindPoolMinersOptions = {}): Promise<PoolMiner[]> {
  const key = poolKey(network, query)
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_POOL_LOOKUP_TIMEOUT_MS)
  const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
  const found = new Map<string, PoolMiner>()
  const limit = options.limit ?? Infinity
  try {
    for await (const p of libp2p.contentRouting.findProviders(key, { signal })) {
      if (p.id.equals(libp2p.peerId)) {
        continue
      }
      const id = p.id.toString()
      const entry = found.get(id) ?? { peerId: p.id, multiaddrs: [] }
      for (const a of p.multiaddrs) {
        if (!entry.multiaddrs.some(b => b.equals(a))) {
          entry.multiaddrs.push(a)
        }
      }
      found.set(id, entry)
      if (found.size >= limit) {
        break
      }
    }
  } catch (err) {
    if (options.signal?.aborted === true) {
      throw options.signal.reason ?? err
    }
    if (!timeout.aborted) {
      throw err
    }
  }
  if (options.signal?.aborted === true) {
    throw options.signal.reason
  }
  return [...found.values()]
}

/** What providing needs of the DHT: kad-dht's `provide`, which reports each peer it stored the record on. */
export interface PoolProvider {
  provide(key: CID, options?: { signal?: AbortSignal }): AsyncIterable<{ name: string, messageType?: unknown }>
}

/**
 * Provide every pool key of `advert` (`poolKeysFor`). Returns, per key, the
 * number of peers that accepted the provider record; 0 means the record is
 * only in this node's own store (no DHT peer yet): try again later.
 */
export async function providePoolKeys (dht: PoolProvider, network: string, advert: PoolAdvert, options: { signal?: AbortSignal } = {}): Promise<number[]> {
  return Promise.all(poolKeysFor(network, advert).map(async key => {
    let stored = 0
    for await (const e of dht.provide(key, { signal: options.signal })) {
      if (e.name === 'PEER_RESPONSE' && e.messageType === 'ADD_PROVIDER') {
        stored++
      }
    }
    return stored
  }))
}
