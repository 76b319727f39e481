/**
 * Models shared over the network. A node serving a GGUF file cuts it into
 * raw blocks of `chunkBytes` (the last one shorter) and stores a dag-json
 * manifest listing them in order; the manifest's CID is the model's CID,
 * stable for a given file and chunk size. The model id stays the sha256 of
 * the whole file, which the manifest carries and the fetcher checks once it
 * holds every chunk.
 *
 * Two keys lead to a serving node on the DHT: the manifest's CID, and the
 * model key, a raw CID whose multihash is the file's sha256 (the id itself
 * as a CID). A node that knows only the id asks a provider of the model key
 * for the manifest over `/<network>/model/1.0.0`: the 32-byte digest in,
 * the manifest block (or an empty frame) out.
 *
 * Browser-safe: no fs, no node-llama-cpp.
 */
import * as dagJson from '@ipld/dag-json'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { fromString as bytesOfHex } from 'uint8arrays/from-string'
import { toString as hexOfBytes } from 'uint8arrays/to-string'
import { MAX_DIRECT_BLOCK_BYTES } from '../blocks/index.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

export const MODEL_MANIFEST_FORMAT = 'cortensor-model/1'
/**
 * Chunk size of a shared model: 1 MiB, the largest block IPFS implementations
 * accept from bitswap peers by default, so the chunks move over bitswap as
 * well as the direct block protocol (4 MiB cap).
 */
export const MODEL_CHUNK_BYTES = 1024 * 1024
/** How long a serving node gives one manifest request. */
export const MODEL_SERVE_TIMEOUT_MS = 10_000

/** What a model's CID points at: its chunks in file order and the sha256 the whole file must have. */
export interface ModelManifest {
  format: typeof MODEL_MANIFEST_FORMAT
  /** 0x + sha256 of the file, hex: the model id */
  modelId: string
  sizeBytes: number
  chunkBytes: number
  chunks: CID[]
}

/** A reference to a model on the network: its id (sha256) or its manifest CID. */
export type ModelRef = { kind: 'id', modelId: string } | { kind: 'cid', cid: CID }

/** A manifest that is not one, or that is not the model asked for. */
export class InvalidModelManifestError extends Error {
  static name = 'InvalidModelManifestError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidModelManifestError'
  }
}

export function modelProtocol (network: string): string {
  return `/${network}/model/1.0.0`
}

const ID_RE = /^(0x)?([0-9a-fA-F]{64})$/

/** A model id (`0x` optional, any case) or a CID string, parsed; undefined for anything else (a file path). */
export function parseModelRef (ref: string): ModelRef | undefined {
  const m = ID_RE.exec(ref.trim())
  if (m != null) {
    return { kind: 'id', modelId: `0x${m[2].toLowerCase()}` }
  }
  if (!/^(b[a-z2-7]{20,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/.test(ref.trim())) {
    return undefined
  }
  try {
    return { kind: 'cid', cid: CID.parse(ref.trim()) }
  } catch {
    return undefined
  }
}

/** The DHT key a serving node provides for a model id: a raw CID over the file's sha256. */
export function modelKey (modelId: string): CID {
  const m = ID_RE.exec(modelId)
  if (m == null) {
    throw new InvalidModelManifestError(`"${modelId}" is not a model id (0x + 64 hex digits)`)
  }
  return CID.createV1(raw.code, createDigest(sha256.code, bytesOfHex(m[2].toLowerCase(), 'base16')))
}

export function encodeManifest (manifest: ModelManifest): Uint8Array {
  return dagJson.encode(manifest)
}

/** The CID of a manifest block (dag-json, sha256): the model's CID. */
export async function manifestCid (bytes: Uint8Array): Promise<CID> {
  return CID.createV1(dagJson.code, await sha256.digest(bytes))
}

/** Decode and check a manifest block: the shape, the chunk count for the size, raw sha256 chunk CIDs. */
export function decodeManifest (bytes: Uint8Array): ModelManifest {
  let m: any
  try {
    m = dagJson.decode(bytes)
  } catch (err: any) {
    throw new InvalidModelManifestError(`not dag-json: ${err.message}`)
  }
  if (m?.format !== MODEL_MANIFEST_FORMAT) {
    throw new InvalidModelManifestError(`format is not ${MODEL_MANIFEST_FORMAT}`)
  }
  if (typeof m.modelId !== 'string' || !/^0x[0-9a-f]{64}$/.test(m.modelId)) {
    throw new InvalidModelManifestError('modelId is not 0x + 64 lowercase hex digits')
  }
  if (!Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 1) {
    throw new InvalidModelManifestError('sizeBytes is not a positive integer')
  }
  if (!Number.isSafeInteger(m.chunkBytes) || m.chunkBytes < 1 || m.chunkBytes > MAX_DIRECT_BLOCK_BYTES) {
    throw new InvalidModelManifestError(`chunkBytes is not an integer in 1..${MAX_DIRECT_BLOCK_BYTES}`)
  }
  const count = Math.ceil(m.sizeBytes / m.chunkBytes)
  if (!Array.isArray(m.chunks) || m.chunks.length !== count) {
    throw new InvalidModelManifestError(`expected ${count} chunks for ${m.sizeBytes} bytes in chunks of ${m.chunkBytes}`)
  }
  for (const c of m.chunks) {
    const cid = CID.asCID(c)
    if (cid == null || cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== sha256.code) {
      throw new InvalidModelManifestError('every chunk must be a CIDv1 of a raw sha256 block')
    }
  }
  return { format: m.format, modelId: m.modelId, sizeBytes: m.sizeBytes, chunkBytes: m.chunkBytes, chunks: m.chunks }
}

/**
 * Ask `peer` for the manifest of the model `modelId`; returns the block and
 * its decoded form once it is a manifest of that id, throws otherwise
 * (protocol refused, empty frame, another model, not a manifest).
 */
export async function requestManifest (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, modelId: string, protocol: string, options: AbortOptions = {}): Promise<{ bytes: Uint8Array, manifest: ModelManifest }> {
  const stream = await libp2p.dialProtocol(peer, protocol, options)
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_DIRECT_BLOCK_BYTES })
    await lp.write(modelKey(modelId).multihash.digest, options)
    const bytes = (await lp.read(options)).subarray()
    await stream.close(options).catch(() => {})
    if (bytes.byteLength === 0) {
      throw new InvalidModelManifestError(`peer ${peer} does not serve ${modelId}`)
    }
    const manifest = decodeManifest(bytes)
    if (manifest.modelId !== modelId) {
      throw new InvalidModelManifestError(`peer ${peer} answered ${modelId} with the manifest of ${manifest.modelId}`)
    }
    return { bytes, manifest }
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

/** Serve manifests by model id: `lookup` gets the id (0x + hex) and returns the manifest block, or nothing. */
export async function handleManifestRequests (libp2p: Pick<Libp2p, 'handle'>, protocol: string, lookup: (modelId: string, options: AbortOptions) => Promise<Uint8Array | undefined>): Promise<void> {
  await libp2p.handle(protocol, async (stream) => {
    const signal = AbortSignal.timeout(MODEL_SERVE_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: 32 })
      const digest = (await lp.read({ signal })).subarray()
      const block = digest.byteLength === 32 ? await lookup(`0x${hexOfBytes(digest, 'base16')}`, { signal }) : undefined
      await lp.write(block ?? new Uint8Array(0), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })
}
