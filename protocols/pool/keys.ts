/**
 * Node-pool keys on the DHT. A miner advertises itself as a *provider* of
 * the key of each (network, model, hardware class, level) it serves; anyone
 * finds the miners of a model with the DHT's findProviders on the same key.
 *
 * A key is a CIDv1 (raw codec, sha2-256) over a versioned, unambiguous
 * string: the JSON array `["cortensor/pool/1", network, model, hardwareClass,
 * level]`, where an omitted hardware class or level is `null` (any). A miner
 * provides the four keys of its tuple with and without each of the two
 * (`poolKeysFor`), so a lookup by model alone, by model + class, by model +
 * level or by all three is always one DHT query.
 *
 * Pure and browser-safe (synchronous sha256 from `@noble/hashes`).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { MAX_HARDWARE_CLASS_BYTES, MAX_MODEL_ID_BYTES, MAX_NODE_LEVEL } from '../messages/constants.ts'

/** Version tag of the key derivation: bump it and every pool key changes. */
export const POOL_KEY_VERSION = 'cortensor/pool/1'
/** multicodec `raw` */
export const RAW_CODEC = 0x55
/** multihash `sha2-256` */
export const SHA2_256_CODE = 0x12
/** Network names are short (`cortensor`, `cortensor-devnet`). */
export const MAX_NETWORK_NAME_BYTES = 64

const utf8 = new TextEncoder()

export class InvalidPoolKeyError extends Error {
  static name = 'InvalidPoolKeyError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`pool key: ${field} ${reason}`)
    this.name = 'InvalidPoolKeyError'
    this.field = field
  }
}

/** What a pool key names; `hardwareClass` and `level` left out mean "any". */
export interface PoolKeyQuery {
  /** model id as advertised (hub model ids, `0x…` sha256 of the GGUF, are compared in lower case) */
  model: string
  /** a class from the hardware probe: `cpu-small`, `cpu`, `gpu-small`, `gpu`, `gpu-large` */
  hardwareClass?: string
  /** the node level (0…255) */
  level?: number
}

/** What one miner advertises: every field is set. */
export interface PoolAdvert {
  model: string
  hardwareClass: string
  level: number
}

function checkText (field: string, value: unknown, maxBytes: number): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidPoolKeyError(field, 'must be a non-empty string')
  }
  if (utf8.encode(value).byteLength > maxBytes) {
    throw new InvalidPoolKeyError(field, `exceeds ${maxBytes} bytes`)
  }
  return value
}

/** Hex model ids are case-insensitive; names are kept as they are. */
export function normalizeModelId (model: string): string {
  return /^0x[0-9a-fA-F]+$/.test(model) ? model.toLowerCase() : model
}

/** The canonical string a key hashes (exported for tests and debugging). */
export function poolKeyString (network: string, query: PoolKeyQuery): string {
  checkText('network', network, MAX_NETWORK_NAME_BYTES)
  const model = normalizeModelId(checkText('model', query.model, MAX_MODEL_ID_BYTES))
  const hardwareClass = query.hardwareClass == null ? null : checkText('hardwareClass', query.hardwareClass, MAX_HARDWARE_CLASS_BYTES)
  let level: number | null = null
  if (query.level != null) {
    if (!Number.isInteger(query.level) || query.level < 0 || query.level > MAX_NODE_LEVEL) {
      throw new InvalidPoolKeyError('level', `must be an integer in [0, ${MAX_NODE_LEVEL}], got ${query.level}`)
    }
    level = query.level
  }
  return JSON.stringify([POOL_KEY_VERSION, network, model, hardwareClass, level])
}

/** The DHT key (a CID) of the pool of `query` on `network`. */
export function poolKey (network: string, query: PoolKeyQuery): CID {
  const digest = sha256(utf8.encode(poolKeyString(network, query)))
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256_CODE, digest))
}

/**
 * The keys a miner provides for one advertised tuple: (model), (model,
 * class), (model, level), (model, class, level), in that order.
 */
export function poolKeysFor (network: string, advert: PoolAdvert): CID[] {
  const { model, hardwareClass, level } = advert
  return [
    poolKey(network, { model }),
    poolKey(network, { model, hardwareClass }),
    poolKey(network, { model, level }),
    poolKey(network, { model, hardwareClass, level })
  ]
}
