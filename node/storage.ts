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
   * background by default (`true`), before returning with `'await'`, or not
   * at all (`false`). A provide walks the DHT (seconds on a busy network),
   * while the roles hand their blocks to known peers directly.
   */
  provide?: boolean | 'await'
}

export class ContentStore {
  private readonly components: StorageComponents

  constructor (components: StorageComponents) {
    this.components = components
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
    if (options.provide !== false) {
      // the block is stored either way; a node with no DHT peers yet cannot announce it, and the DHT
      // reprovides what it holds on its own schedule
      const provided = this.provide(cid, options).catch((err) => { log('could not provide %c: %s', cid, err.message) })
      if (options.provide === 'await') {
        await provided
      }
    }
    return cid
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
