/**
 * The direct block protocol and the documents it moves. A requester opens
 * `/<network>/block/1.0.0` to a peer known to hold a block (the author of a
 * prompt or an output), writes the CID (length-prefixed) and reads the block
 * back, or an empty frame if the peer does not hold it; the requester checks
 * the bytes hash to the CID before keeping them.
 *
 * Prompt and output documents are dag-json, so two honest miners that
 * generate the same tokens store byte-identical outputs under one CID: the
 * redundancy check is a CID comparison, and the on-chain commitment is the
 * CID's sha256 digest.
 *
 * Browser-safe: the nodes' ContentStore (node/storage.ts) and the page's
 * in-memory store (MemoryContentStore) both speak it.
 */
import * as dagJson from '@ipld/dag-json'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { concat } from 'uint8arrays/concat'
import { equals } from 'uint8arrays/equals'
import { bytesToHex, sha256 as sha256Hex, toHex } from 'viem'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

const log = logger('cortensor:blocks')

/** Largest block the direct block protocol moves (prompts and outputs are far smaller). */
export const MAX_DIRECT_BLOCK_BYTES = 4 * 1024 * 1024
/** How long a holder gives one request. */
export const BLOCK_SERVE_TIMEOUT_MS = 10_000

export function blockProtocol (network: string): string {
  return `/${network}/block/1.0.0`
}

/** What the client stores and the task announcement points at (protocols/prompt). */
export type { PromptDoc } from '../prompt/index.ts'

/** What a miner stores as its output; no timing or identity, so honest outputs are identical. */
export interface OutputDoc {
  taskId: string
  modelId: string
  text: string
  tokens: number[]
  finishReason: 'length' | 'eos' | 'stop'
  /** tokens of the prompt as the model tokenized it (the usage a client reports); absent in older outputs */
  promptTokens?: number
  /**
   * the chat template the messages were rendered with (node/inference/chat.ts: the format of the
   * model's own template, or `plain` for the transcript); absent for a task with a plain prompt
   */
  chatTemplate?: string
  /**
   * an embedding task's output: one vector per input text, in order (then
   * `tokens` is empty and `promptTokens` counts the texts' tokens)
   */
  embeddings?: number[][]
}

/** The bytes32 a commitment and the chain use for a CID: its sha256 multihash digest. */
export function cidDigest (cid: CID): Hex {
  return bytesToHex(cid.multihash.digest)
}

/** The sampling parameters of a task as the submitter hashes them for `submitTask` (field order fixed). */
export interface TaskParamsFields {
  modelId: string
  maxTokens: number
  temperature: number
  topP: number
  topK: number
  seed: bigint
  stop: string[]
}

/**
 * The `paramsDigest` a task is submitted with: sha256 of the parameters as
 * JSON, in this field order, the seed as a decimal string. Announcements are
 * checked against it, so a task's parameters cannot be changed after submit.
 */
export function taskParamsDigest (p: TaskParamsFields): Hex {
  return sha256Hex(toHex(JSON.stringify({ modelId: p.modelId, maxTokens: p.maxTokens, temperature: p.temperature, topP: p.topP, topK: p.topK, seed: p.seed.toString(), stop: p.stop })))
}

export class UnsupportedCodecError extends Error {
  static name = 'UnsupportedCodecError'

  constructor (cid: CID, expected: string) {
    super(`CID ${cid.toString()} is not ${expected} (codec 0x${cid.code.toString(16)})`)
    this.name = 'UnsupportedCodecError'
  }
}

export class BlockNotFoundError extends Error {
  static name = 'BlockNotFoundError'

  constructor (cid: CID) {
    super(`block ${cid.toString()} is not held here`)
    this.name = 'BlockNotFoundError'
  }
}

/** A peer answered a block request with nothing, or with bytes that do not hash to the CID asked for. */
export class WrongBlockError extends Error {
  static name = 'WrongBlockError'
  constructor (message: string) {
    super(message)
    this.name = 'WrongBlockError'
  }
}

/**
 * Ask `peer` for the block `cid` over the direct block protocol; returns the
 * bytes once they hash to the CID, throws otherwise (refused, empty, wrong
 * bytes, stream broken).
 */
export async function requestBlock (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, cid: CID, protocol: string, options: AbortOptions = {}): Promise<Uint8Array> {
  const stream = await libp2p.dialProtocol(peer, protocol, options)
  const lp = lpStream(stream, { maxDataLength: MAX_DIRECT_BLOCK_BYTES })
  await lp.write(cid.bytes, options)
  const bytes = (await lp.read(options)).subarray()
  await stream.close(options).catch(() => {})
  const digest = await sha256.digest(bytes)
  if (bytes.byteLength === 0 || !equals(digest.bytes, cid.multihash.bytes)) {
    throw new WrongBlockError(`peer ${peer} sent ${bytes.byteLength} bytes that do not hash to ${cid}`)
  }
  return bytes
}

/** Serve the direct block protocol: one CID in, the block `lookup` finds (or nothing) out. */
export async function handleBlockRequests (libp2p: Pick<Libp2p, 'handle'>, protocol: string, lookup: (cid: CID, options: AbortOptions) => Promise<Uint8Array | undefined>): Promise<void> {
  await libp2p.handle(protocol, async (stream) => {
    const signal = AbortSignal.timeout(BLOCK_SERVE_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: 256 })
      const cid = CID.decode((await lp.read({ signal })).subarray())
      const block = await lookup(cid, { signal })
      await lp.write(block ?? new Uint8Array(0), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })
}

/** Something that can pull a block from a peer known to hold it (ContentStore.fetchFrom). */
export interface DirectFetcher {
  fetchFrom?(libp2p: any, peer: PeerId | undefined, cid: CID, protocol: string, options?: { signal?: AbortSignal }): Promise<void>
}

/**
 * Get a block from the peers known to hold it (the author of a document is
 * the surest holder) before Helia's bitswap takes over: bitswap alone
 * stalled when five miners wanted the same prompt at once.
 */
export async function fetchFromHolders (libp2p: any, store: DirectFetcher, network: string, holders: Array<PeerId | undefined>, cid: CID, signal?: AbortSignal): Promise<void> {
  if (store.fetchFrom == null) {
    return
  }
  for (const peer of holders) {
    if (peer != null) {
      await store.fetchFrom(libp2p, peer, cid, blockProtocol(network), { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(5000)]) })
    }
  }
}

/**
 * A content store with no DHT and no bitswap, for a browser page: dag-json
 * documents kept in memory, served to peers over the direct block protocol
 * (`serveBlocks`) and fetched from known holders (`fetchFrom`). What it does
 * not hold and could not fetch is a BlockNotFoundError, never a wait.
 */
export class MemoryContentStore {
  readonly blockstore = new MemoryBlockstore()

  async putJson (value: unknown): Promise<CID> {
    const bytes = dagJson.encode(value)
    const cid = CID.createV1(dagJson.code, await sha256.digest(bytes))
    await this.blockstore.put(cid, bytes)
    return cid
  }

  async getJson<T = unknown> (cid: CID, options: AbortOptions = {}): Promise<T> {
    if (cid.code !== dagJson.code) {
      throw new UnsupportedCodecError(cid, 'dag-json')
    }
    const block = await this.localBlock(cid, options)
    if (block == null) {
      throw new BlockNotFoundError(cid)
    }
    return dagJson.decode<T>(block)
  }

  async has (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return this.blockstore.has(cid, options)
  }

  async localBlock (cid: CID, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    if (!(await this.has(cid, options))) {
      return undefined
    }
    const chunks: Uint8Array[] = []
    for await (const chunk of this.blockstore.get(cid, options)) {
      chunks.push(chunk)
    }
    return chunks.length === 1 ? chunks[0] : concat(chunks)
  }

  /** Fetch a block from a peer known to hold it; a failure is logged and leaves the block missing. */
  async fetchFrom (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId | undefined, cid: CID, protocol: string, options: AbortOptions = {}): Promise<void> {
    if (peer == null || await this.has(cid, options)) {
      return
    }
    try {
      await this.blockstore.put(cid, await requestBlock(libp2p, peer, cid, protocol, options))
    } catch (err: any) {
      log('direct fetch of %c from %p failed: %s', cid, peer, err.message)
    }
  }

  async serveBlocks (libp2p: Pick<Libp2p, 'handle'>, protocol: string): Promise<void> {
    await handleBlockRequests(libp2p, protocol, async (cid, options) => this.localBlock(cid, options))
  }
}
