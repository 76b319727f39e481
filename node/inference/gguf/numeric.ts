/**
 * Deterministic numbers for generated models: an integer-only PRNG (sfc32, so the
 * stream is bit-identical on every JS engine) and the float16 / Q8_0 encoders
 * of ggml's on-disk formats.
 */

export type Rng = () => number

/** sfc32 seeded from a 32-bit seed; returns uniforms in [0, 1). */
export function seededRng (seed: number): Rng {
  let a = 0x9e3779b9 | 0
  let b = (0x243f6a88 ^ seed) | 0
  let c = 0xb7e15162 | 0
  let d = seed | 0
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // the first outputs of sfc32 are correlated with the seed: discard them
  for (let i = 0; i < 20; i++) {
    next()
  }
  return next
}

const SQRT3 = Math.sqrt(3)

/**
 * Fill `out` with approximately normal values of standard deviation `std`:
 * Irwin–Hall(4) rescaled to unit variance. Only +, −, × on doubles, so the
 * result is reproducible everywhere (no Math.log/sin, whose last bit may vary).
 */
export function fillGaussian (rng: Rng, out: Float32Array, std: number): void {
  const scale = SQRT3 * std
  for (let i = 0; i < out.length; i++) {
    out[i] = (rng() + rng() + rng() + rng() - 2) * scale
  }
}

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** float32 → IEEE half bits, round to nearest even. */
export function toHalf (value: number): number {
  f32[0] = value
  const x = u32[0]
  const sign = (x >>> 16) & 0x8000
  let exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) {
    return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0)
  }
  exp = exp - 127 + 15
  if (exp >= 0x1f) {
    return sign | 0x7c00
  }
  if (exp <= 0) {
    if (exp < -10) {
      return sign
    }
    mant |= 0x800000
    const shift = 14 - exp
    let h = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (h & 1) !== 0)) {
      h++
    }
    return sign | h
  }
  let h = sign | (exp << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) {
    h++
  }
  return h
}

/** IEEE half bits → number. */
export function fromHalf (h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) {
    return s * m * 2 ** -24
  }
  if (e === 31) {
    return m !== 0 ? NaN : s * Infinity
  }
  return s * (1 + m / 1024) * 2 ** (e - 15)
}

export const TENSOR_TYPES = { f32: 0, f16: 1, q8_0: 8 } as const
export type TensorTypeName = keyof typeof TENSOR_TYPES

/** Q8_0: blocks of 32 values, each an f16 scale then 32 int8. */
export const Q8_0_BLOCK_VALUES = 32
export const Q8_0_BLOCK_BYTES = 34

/** Bytes that `count` values take in the given ggml type. */
export function encodedBytes (type: TensorTypeName, count: number): number {
  switch (type) {
    case 'f32': return count * 4
    case 'f16': return count * 2
    case 'q8_0': return (count / Q8_0_BLOCK_VALUES) * Q8_0_BLOCK_BYTES
    default: throw new RangeError(`unsupported tensor type ${String(type)}`)
  }
}

/** Encode float values into ggml's on-disk layout (little-endian). */
export function encodeValues (type: TensorTypeName, data: Float32Array): Uint8Array {
  switch (type) {
    case 'f32': {
      const out = new Float32Array(data)
      return new Uint8Array(out.buffer)
    }
    case 'f16': {
      const out = new Uint16Array(data.length)
      for (let i = 0; i < data.length; i++) {
        out[i] = toHalf(data[i])
      }
      return new Uint8Array(out.buffer)
    }
    case 'q8_0': {
      if (data.length % Q8_0_BLOCK_VALUES !== 0) {
        throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK_VALUES} values, got ${data.length}`)
      }
      const blocks = data.length / Q8_0_BLOCK_VALUES
      const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES)
      const view = new DataView(out.buffer)
      for (let b = 0; b < blocks; b++) {
        let amax = 0
        for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
          amax = Math.max(amax, Math.abs(data[b * Q8_0_BLOCK_VALUES + j]))
        }
        const d = amax / 127
        const id = d !== 0 ? 1 / d : 0
        view.setUint16(b * Q8_0_BLOCK_BYTES, toHalf(d), true)
        for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
          view.setInt8(b * Q8_0_BLOCK_BYTES + 2 + j, Math.round(data[b * Q8_0_BLOCK_VALUES + j] * id))
        }
      }
      return out
    }
    default: throw new RangeError(`unsupported tensor type ${String(type)}`)
  }
}
