/**
 * Content storage on Helia: dag-json documents (prompts, task parameters,
 * outputs) and raw bytes, addressed by CIDv1. Blocks missing locally are
 * fetched over bitswap from peers found through the DHT.
 *
 * Takes only the slice of Helia it needs (`blockstore`, `routing`).
 */
import * as dagJson from '@ipld/dag-json'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { concat } from 'uint8arrays/concat'
import { UnsupportedCodecError, handleBlockRequests, requestBlock } from '../protocols/blocks/index.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { Helia } from 'helia'

const log = logger('cortensor:storage')

export { MAX_DIRECT_BLOCK_BYTES, UnsupportedCodecError, blockProtocol } from '../protocols/blocks/index.ts'

export interface StorageComponents {
  blockstore: Helia['blockstore']
  routing: Helia['routing']
}

export interface PutOptions extends AbortOptions {
  /**
   * announce the block on the DHT so other nodes can find it: in the
   * background once the node is quiet (`true`), before returning
   * (`'await'`), or not at all (`false`). Default: the store's `announce`.
   */
  provide?: boolean | 'await'
}

export interface ContentStoreOptions {
  /**
   * whether puts that do not say announce their blocks (default true). A
   * node's store follows its `announceBlocks` setting: off by default, as
   * the nodes of a task hand its blocks to each other directly
   */
  announce?: boolean
  /** background provides start once no block has been put for this long (default 10 s) */
  provideQuietMs?: number
  /** or, on a node that never pauses that long, this long after the oldest waiting put (default 60 s) */
  provideMaxDelayMs?: number
}

/**
 * A provide walks the DHT and makes every node it reaches store a record:
 * on a small mesh it costs each node more CPU than the task that stored the
 * block. The roles hand their blocks to the peers that need them directly
 * (the announcement carries the prompt, consumers fetch an output from its
 * miner), so the DHT record only matters later, to anyone fetching the CID
 * from elsewhere: it can wait until the node is quiet. A node serving a task
 * every few seconds is never quiet for 10 s; it provides what it stored in
 * one batch a minute.
 */
export const DEFAULT_PROVIDE_QUIET_MS = 10_000
export const DEFAULT_PROVIDE_MAX_DELAY_MS = 60_000
/** blocks waiting to be provided; past this the whole batch is provided at once */
const MAX_WAITING_PROVIDES = 1024

export class ContentStore {
  private readonly components: StorageComponents
  private readonly quietMs: number
  private readonly announce: boolean
  private readonly maxDelayMs: number
  /** blocks to provide in the background, oldest first, with when they were put */
  private readonly waiting = new Map<string, { cid: CID, at: number }>()
  private lastPutAt = 0
  private timer?: ReturnType<typeof setTimeout>
  private flushing?: Promise<void>
  private readonly closing = new AbortController()

  constructor (components: StorageComponents, options: ContentStoreOptions = {}) {
    this.components = components
    this.quietMs = options.provideQuietMs ?? DEFAULT_PROVIDE_QUIET_MS
    this.announce = options.announce ?? true
    this.maxDelayMs = options.provideMaxDelayMs ?? DEFAULT_PROVIDE_MAX_DELAY_MS
  }

  /** The blockstore itself, for modules that move many blocks of their own (node/models). */
  get blockstore (): Helia['blockstore'] {
    return this.components.blockstore
  }

  /** Blocks put with `provide: true` and not yet announced on the DHT. */
  get pendingProvides (): number {
    return this.waiting.size
  }

  /** Drop the provides still waiting and stop the one under way (the blocks stay stored). */
  async close (): Promise<void> {
    this.closing.abort()
    clearTimeout(this.timer)
    this.waiting.clear()
    await this.flushing
  }

  /** Store a JSON-compatible value (Uint8Array and CID values are kept as such) as dag-json. */
  async putJson (value: unknown, options: PutOptions = {}): Promise<CID> {
    const bytes = dagJson.encode(value)
    const cid = CID.createV1(dagJson.code, await sha256.digest(bytes))
    return this.putBlock(cid, bytes, options)
  }

  async getJson<T = unknown> (cid: CID, options: AbortOptions = {}): Promise<T> {
    if (cid.code !== dagJson.code) {
      throw new UnsupportedCodecError(cid, 'dag-json')
    }
    return dagJson.decode<T>(await this.getBlock(cid, options))
  }

  async putBytes (bytes: Uint8Array, options: PutOptions = {}): Promise<CID> {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    return this.putBlock(cid, bytes, options)
  }

  async getBytes (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    if (cid.code !== raw.code) {
      throw new UnsupportedCodecError(cid, 'raw')
    }
    return this.getBlock(cid, options)
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return this.components.blockstore.has(cid, { ...options, offline: true } as AbortOptions)
  }

  /** A block this node already holds, or undefined (never touches the network). */
  async localBlock (cid: CID, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    if (!(await this.has(cid, options))) {
      return undefined
    }
    return this.getBlock(cid, { ...options, offline: true } as AbortOptions)
  }

  /**
   * Fetch a block straight from a peer known to hold it (the author of a
   * task or an output) over the direct block protocol, verify its hash and
   * keep it; bitswap is the fallback when that peer cannot serve it.
   */
  async fetchFrom (libp2p: Libp2p, peer: PeerId | undefined, cid: CID, protocol: string, options: AbortOptions = {}): Promise<void> {
    if (peer == null || await this.has(cid, options)) {
      return
    }
    try {
      await this.components.blockstore.put(cid, await requestBlock(libp2p, peer, cid, protocol, options), options)
    } catch (err: any) {
      log('direct fetch of %c from %p failed, falling back to bitswap: %s', cid, peer, err.message)
    }
  }

  /** Serve the direct block protocol: one CID in, the block (or nothing) out. */
  async serveBlocks (libp2p: Libp2p, protocol: string): Promise<void> {
    await handleBlockRequests(libp2p, protocol, async (cid, options) => this.localBlock(cid, options))
  }

  /** Announce that this node holds `cid`. */
  async provide (cid: CID, options: AbortOptions = {}): Promise<void> {
    await this.components.routing.provide(cid, options)
  }

  private async putBlock (cid: CID, bytes: Uint8Array, options: PutOptions): Promise<CID> {
    await this.components.blockstore.put(cid, bytes, options)
    const provide = options.provide ?? this.announce
    if (provide === 'await') {
      // the block is stored either way; a node with no DHT peers yet cannot announce it, and the DHT
      // reprovides what it holds on its own schedule
      await this.provide(cid, options).catch((err) => { log('could not provide %c: %s', cid, err.message) })
    } else if (provide) {
      this.provideLater(cid)
    }
    return cid
  }

  private provideLater (cid: CID): void {
    if (this.closing.signal.aborted) {
      return
    }
    const now = Date.now()
    this.lastPutAt = now
    if (!this.waiting.has(cid.toString())) {
      this.waiting.set(cid.toString(), { cid, at: now })
    }
    this.schedule()
  }

  private schedule (): void {
    clearTimeout(this.timer)
    const oldest = this.waiting.values().next().value
    if (oldest == null || this.closing.signal.aborted) {
      return
    }
    const due = this.waiting.size > MAX_WAITING_PROVIDES ? 0 : Math.min(this.lastPutAt + this.quietMs, oldest.at + this.maxDelayMs)
    this.timer = setTimeout(() => { this.flushing ??= this.flush().finally(() => { this.flushing = undefined; this.schedule() }) }, Math.max(0, due - Date.now()))
    this.timer.unref?.()
  }

  /** Provide every block waiting now, one walk at a time; blocks put meanwhile wait for the next round. */
  private async flush (): Promise<void> {
    const signal = this.closing.signal
    const batch = [...this.waiting.values()]
    this.waiting.clear()
    for (const { cid } of batch) {
      if (signal.aborted) {
        return
      }
      await this.provide(cid, { signal }).catch((err) => { log('could not provide %c: %s', cid, err.message) })
    }
  }

  /** Local blockstore first; Helia falls back to bitswap, verifying the hash of what it receives. */
  private async getBlock (cid: CID, options: AbortOptions): Promise<Uint8Array> {
    const chunks: Uint8Array[] = []
    for await (const chunk of this.components.blockstore.get(cid, options)) {
      chunks.push(chunk)
    }
    return chunks.length === 1 ? chunks[0] : concat(chunks)
  }
}
