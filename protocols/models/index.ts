/**
 * Models shared over the network. A node serving a GGUF file imports it as a
 * UnixFS file (CIDv1, raw leaves of `chunkBytes`, the balanced layout of
 * `@helia/unixfs`), so the model's CID is the standard UnixFS CID of its
 * bytes: any IPFS implementation can `cat` it, and a given file and chunk
 * size always give the same CID. The model id stays the sha256 of the whole
 * file, which the fetcher checks once it has written the file.
 *
 * Two keys lead to a serving node on the DHT: the model's CID, and the model
 * key, a raw CID whose multihash is the file's sha256 (the id itself as a
 * CID). A node that knows only the id asks a provider of the model key over
 * `/<network>/model/2.0.0`: the 32-byte digest in, a small dag-json record
 * `{ modelId, cid, sizeBytes }` (or an empty frame) out.
 *
 * Browser-safe: no fs, no node-llama-cpp.
 */
import * as dagJson from '@ipld/dag-json'
import { lpStream } from '@libp2p/utils'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { fromString as bytesOfHex } from 'uint8arrays/from-string'
import { toString as hexOfBytes } from 'uint8arrays/to-string'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { ImporterOptions } from 'ipfs-unixfs-importer'

/**
 * Chunk size of a shared model: 1 MiB, the largest block IPFS implementations
 * accept from bitswap peers by default, so the chunks move over bitswap as
 * well as the direct block protocol (4 MiB cap). It is also `@helia/unixfs`'s
 * default chunk size, so the model's CID is the one `addBytes` gives.
 */
export const MODEL_CHUNK_BYTES = 1024 * 1024
/** How long a serving node gives one record request. */
export const MODEL_SERVE_TIMEOUT_MS = 10_000
/** A record is three fields; anything much larger is not one. */
const MAX_RECORD_BYTES = 1024
/** The dag-pb codec (multicodec table), the codec of a UnixFS file's root when it has more than one chunk. */
export const DAG_PB_CODE = 0x70

/** What a serving node answers for a model id: the UnixFS root of the file and its size. */
export interface ModelRecord {
  /** 0x + sha256 of the file, hex: the model id */
  modelId: string
  /** the UnixFS file's root */
  cid: CID
  sizeBytes: number
}

/** A reference to a model on the network: its id (sha256) or its CID. */
export type ModelRef = { kind: 'id', modelId: string } | { kind: 'cid', cid: CID }

/** A record that is not one, is not the model asked for, or does not match the file its CID names. */
export class InvalidModelRecordError extends Error {
  static name = 'InvalidModelRecordError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidModelRecordError'
  }
}

export function modelProtocol (network: string): string {
  return `/${network}/model/2.0.0`
}

/**
 * The importer options a model is shared with: CIDv1, raw leaves, chunks of
 * `chunkBytes` (`@helia/unixfs` adds its balanced layout, 1024 links a node).
 */
export function modelImportOptions (chunkBytes: number = MODEL_CHUNK_BYTES): Pick<ImporterOptions, 'cidVersion' | 'rawLeaves' | 'chunker'> {
  return { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: chunkBytes }) }
}

/** Whether `cid` can be a model's root: CIDv1 over sha256, dag-pb (a file of several chunks) or raw (one chunk). */
export function isModelCid (cid: CID): boolean {
  return cid.version === 1 && (cid.code === DAG_PB_CODE || cid.code === raw.code) && cid.multihash.code === sha256.code
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
    throw new InvalidModelRecordError(`"${modelId}" is not a model id (0x + 64 hex digits)`)
  }
  return CID.createV1(raw.code, createDigest(sha256.code, bytesOfHex(m[2].toLowerCase(), 'base16')))
}

export function encodeModelRecord (record: ModelRecord): Uint8Array {
  return dagJson.encode({ modelId: record.modelId, cid: record.cid, sizeBytes: record.sizeBytes })
}

/** Decode and check a record: an id, a CID a model can have, a positive size. */
export function decodeModelRecord (bytes: Uint8Array): ModelRecord {
  let m: any
  try {
    m = dagJson.decode(bytes)
  } catch (err: any) {
    throw new InvalidModelRecordError(`not dag-json: ${err.message}`)
  }
  if (typeof m?.modelId !== 'string' || !/^0x[0-9a-f]{64}$/.test(m.modelId)) {
    throw new InvalidModelRecordError('modelId is not 0x + 64 lowercase hex digits')
  }
  const cid = CID.asCID(m.cid)
  if (cid == null || !isModelCid(cid)) {
    throw new InvalidModelRecordError('cid is not a CIDv1 of a dag-pb or raw sha256 block')
  }
  if (!Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 1) {
    throw new InvalidModelRecordError('sizeBytes is not a positive integer')
  }
  return { modelId: m.modelId, cid, sizeBytes: m.sizeBytes }
}

/**
 * Ask `peer` for the record of the model `modelId`; returns it once it is a
 * record of that id, throws otherwise (protocol refused, empty frame,
 * another model, not a record).
 */
export async function requestModelRecord (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId, modelId: string, protocol: string, options: AbortOptions = {}): Promise<ModelRecord> {
  const stream = await libp2p.dialProtocol(peer, protocol, options)
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_RECORD_BYTES })
    await lp.write(modelKey(modelId).multihash.digest, options)
    const bytes = (await lp.read(options)).subarray()
    await stream.close(options).catch(() => {})
    if (bytes.byteLength === 0) {
      throw new InvalidModelRecordError(`peer ${peer} does not serve ${modelId}`)
    }
    const record = decodeModelRecord(bytes)
    if (record.modelId !== modelId) {
      throw new InvalidModelRecordError(`peer ${peer} answered ${modelId} with the record of ${record.modelId}`)
    }
    return record
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

/** Serve records by model id: `lookup` gets the id (0x + hex) and returns its record, or nothing. */
export async function handleModelRecordRequests (libp2p: Pick<Libp2p, 'handle'>, protocol: string, lookup: (modelId: string, options: AbortOptions) => Promise<ModelRecord | undefined>): Promise<void> {
  await libp2p.handle(protocol, async (stream) => {
    const signal = AbortSignal.timeout(MODEL_SERVE_TIMEOUT_MS)
    try {
      const lp = lpStream(stream, { maxDataLength: 32 })
      const digest = (await lp.read({ signal })).subarray()
      const record = digest.byteLength === 32 ? await lookup(`0x${hexOfBytes(digest, 'base16')}`, { signal }) : undefined
      await lp.write(record != null ? encodeModelRecord(record) : new Uint8Array(0), { signal })
      await stream.close({ signal })
    } catch (err: any) {
      stream.abort(err)
    }
  }, { runOnLimitedConnection: true })
}
