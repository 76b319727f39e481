/**
 * Seeds and a small PRNG. A seed is sha256(domain ‖ chain value ‖ task id):
 * the chain value (a block hash, a randomness beacon) is one the leader
 * cannot choose, the task id is fixed by the chain, so anyone recomputes it.
 * The PRNG (xoshiro128**) only expands that seed into draws; its output is
 * as unpredictable as the seed, and it is fast and identical on every JS
 * engine (32-bit integer arithmetic only).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { InvalidSeedError } from './errors.ts'

const encoder = new TextEncoder()
const domainCache = new Map<string, Uint8Array>()

function domainBytes (domain: string): Uint8Array {
  let bytes = domainCache.get(domain)
  if (bytes === undefined) {
    bytes = encoder.encode(domain)
    domainCache.set(domain, bytes)
  }
  return bytes
}

export type TaskId = number | bigint | string

let scratch = new Uint8Array(128)

/**
 * sha256(domain ‖ 0x00 ‖ chainValue ‖ taskId). Numeric task ids are
 * encoded as 8 bytes big-endian, strings as UTF-8.
 */
export function deriveSeed (domain: string, chainValue: Uint8Array, taskId: TaskId): Uint8Array {
  if (chainValue.length === 0) {
    throw new InvalidSeedError('chain value is empty')
  }
  const d = domainBytes(domain)
  const idBytes = typeof taskId === 'string' ? encoder.encode(taskId) : null
  const len = d.length + 1 + chainValue.length + (idBytes === null ? 8 : idBytes.length)
  if (scratch.length < len) {
    scratch = new Uint8Array(len * 2)
  }
  const buf = scratch
  buf.set(d, 0)
  let o = d.length
  buf[o++] = 0
  buf.set(chainValue, o)
  o += chainValue.length
  if (idBytes === null) {
    if (typeof taskId === 'number') {
      if (!Number.isSafeInteger(taskId) || taskId < 0) {
        throw new InvalidSeedError(`task id ${taskId} is not a non-negative safe integer`)
      }
      writeU32(buf, o, Math.floor(taskId / 0x1_0000_0000))
      writeU32(buf, o + 4, taskId >>> 0)
    } else {
      const id = taskId as bigint
      if (id < 0n || id >= (1n << 64n)) {
        throw new InvalidSeedError(`task id ${id} is not a uint64`)
      }
      writeU32(buf, o, Number(id >> 32n))
      writeU32(buf, o + 4, Number(id & 0xffffffffn))
    }
    o += 8
  } else {
    buf.set(idBytes, o)
    o += idBytes.length
  }
  return sha256(buf.subarray(0, o))
}

function writeU32 (buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 24
  buf[o + 1] = (v >>> 16) & 0xff
  buf[o + 2] = (v >>> 8) & 0xff
  buf[o + 3] = v & 0xff
}

function readU32 (b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

/** A uniform number in [0, 1) from the first 53 bits of a digest. */
export function seedToUnit (seed: Uint8Array): number {
  if (seed.length < 8) {
    throw new InvalidSeedError('seed is shorter than 8 bytes')
  }
  const hi = readU32(seed, 0) >>> 11 // 21 bits
  const lo = readU32(seed, 4) // 32 bits
  return (hi * 0x1_0000_0000 + lo) / 2 ** 53
}

/** xoshiro128** seeded from 16+ bytes (all 32 bytes of a digest are folded in). */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: Uint8Array) {
    if (seed.length < 16) {
      throw new InvalidSeedError('PRNG seed needs at least 16 bytes')
    }
    this.a = readU32(seed, 0)
    this.b = readU32(seed, 4)
    this.c = readU32(seed, 8)
    this.d = readU32(seed, 12)
    for (let o = 16; o + 16 <= seed.length; o += 16) {
      this.a ^= readU32(seed, o)
      this.b ^= readU32(seed, o + 4)
      this.c ^= readU32(seed, o + 8)
      this.d ^= readU32(seed, o + 12)
    }
    if ((this.a | this.b | this.c | this.d) === 0) {
      this.a = 1 // the all-zero state is a fixed point
    }
  }

  /** Uniform uint32. */
  nextU32 (): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0
    const t = this.b << 9
    this.c ^= this.a
    this.d ^= this.b
    this.b ^= this.c
    this.a ^= this.d
    this.c ^= t
    this.d = rotl(this.d, 11)
    return result
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat (): number {
    const hi = this.nextU32() >>> 11
    const lo = this.nextU32()
    return (hi * 0x1_0000_0000 + lo) / 2 ** 53
  }

  /** Uniform integer in [0, n) for n ≤ 2^53 (floor of a 53-bit float: bias below 2^-53 · n). */
  nextInt (n: number): number {
    return Math.floor(this.nextFloat() * n)
  }
}

function rotl (x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
