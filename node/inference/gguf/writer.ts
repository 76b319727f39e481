/**
 * A streaming GGUF v3 writer (little-endian). The header is built in memory,
 * tensor data is produced chunk by chunk by each tensor's `fill` function and
 * written straight to the file, so a few-hundred-MB model never sits in memory.
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */
import { open } from 'node:fs/promises'
import { GgufLayoutError } from '../errors.ts'
import { encodedBytes, encodeValues, Q8_0_BLOCK_VALUES } from './numeric.ts'
import type { TensorTypeName } from './numeric.ts'

export const GGUF_MAGIC = 0x46554747 // "GGUF" read as little-endian u32
export const GGUF_VERSION = 3

/** GGUF metadata value types. */
export const VALUE_TYPES = {
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10
} as const
type ScalarType = Exclude<keyof typeof VALUE_TYPES, 'array'>

export type MetaValue =
  | { type: ScalarType, value: number | bigint | boolean | string }
  | { type: 'array', of: ScalarType, values: Array<number | string | boolean> }

export const u32 = (value: number): MetaValue => ({ type: 'uint32', value })
export const f32 = (value: number): MetaValue => ({ type: 'float32', value })
export const bool = (value: boolean): MetaValue => ({ type: 'bool', value })
export const str = (value: string): MetaValue => ({ type: 'string', value })
export const arr = (of: ScalarType, values: Array<number | string | boolean>): MetaValue => ({ type: 'array', of, values })

export interface TensorSpec {
  name: string
  /** ggml order: shape[0] is the innermost (contiguous) dimension */
  shape: number[]
  type: TensorTypeName
  /** fill `out` with the next `out.length` values of this tensor, in file order */
  fill(out: Float32Array): void
}

export interface WriteGgufOptions {
  metadata: Array<[string, MetaValue]>
  tensors: TensorSpec[]
  alignment?: number
  /** bytes written so far / total, called after each chunk */
  onProgress?(done: number, total: number): void
}

/** Values per generated chunk: 1 Mi floats (4 MB), a multiple of the Q8_0 block. */
const CHUNK_VALUES = 1 << 20

class ByteWriter {
  private readonly chunks: Uint8Array[] = []
  length = 0

  bytes (b: Uint8Array): void {
    this.chunks.push(b)
    this.length += b.length
  }

  private fixed (size: number, write: (v: DataView) => void): void {
    const b = new Uint8Array(size)
    write(new DataView(b.buffer))
    this.bytes(b)
  }

  u8 (v: number): void { this.fixed(1, d => { d.setUint8(0, v) }) }
  u32 (v: number): void { this.fixed(4, d => { d.setUint32(0, v, true) }) }
  i32 (v: number): void { this.fixed(4, d => { d.setInt32(0, v, true) }) }
  f32 (v: number): void { this.fixed(4, d => { d.setFloat32(0, v, true) }) }
  u64 (v: number | bigint): void { this.fixed(8, d => { d.setBigUint64(0, BigInt(v), true) }) }
  str (s: string): void {
    const b = new TextEncoder().encode(s)
    this.u64(b.length)
    this.bytes(b)
  }

  pad (alignment: number): void {
    const rem = this.length % alignment
    if (rem !== 0) {
      this.bytes(new Uint8Array(alignment - rem))
    }
  }

  concat (): Uint8Array {
    const out = new Uint8Array(this.length)
    let off = 0
    for (const c of this.chunks) {
      out.set(c, off)
      off += c.length
    }
    return out
  }
}

function writeScalar (w: ByteWriter, type: ScalarType, value: number | bigint | boolean | string): void {
  switch (type) {
    case 'uint32': w.u32(Number(value)); break
    case 'int32': w.i32(Number(value)); break
    case 'float32': w.f32(Number(value)); break
    case 'bool': w.u8(value === true ? 1 : 0); break
    case 'string': w.str(String(value)); break
    case 'uint64': w.u64(typeof value === 'bigint' ? value : Number(value)); break
    default: throw new RangeError(`unsupported metadata type ${String(type)}`)
  }
}

const count = (shape: number[]): number => shape.reduce((a, b) => a * b, 1)
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a

/** Bytes of the file `writeGguf` would produce (header + aligned tensor data). */
export function ggufHeader (options: WriteGgufOptions): { header: Uint8Array, dataBytes: number, offsets: number[] } {
  const alignment = options.alignment ?? 32
  const w = new ByteWriter()
  w.u32(GGUF_MAGIC)
  w.u32(GGUF_VERSION)
  w.u64(options.tensors.length)
  w.u64(options.metadata.length)
  for (const [key, val] of options.metadata) {
    w.str(key)
    w.u32(VALUE_TYPES[val.type])
    if (val.type === 'array') {
      w.u32(VALUE_TYPES[val.of])
      w.u64(val.values.length)
      for (const x of val.values) {
        writeScalar(w, val.of, x)
      }
    } else {
      writeScalar(w, val.type, val.value)
    }
  }
  let off = 0
  const offsets: number[] = []
  for (const t of options.tensors) {
    const n = count(t.shape)
    if (t.type === 'q8_0' && t.shape[0] % Q8_0_BLOCK_VALUES !== 0) {
      throw new RangeError(`${t.name}: Q8_0 rows must be a multiple of ${Q8_0_BLOCK_VALUES} values`)
    }
    offsets.push(off)
    off = alignUp(off + encodedBytes(t.type, n), alignment)
  }
  options.tensors.forEach((t, i) => {
    w.str(t.name)
    w.u32(t.shape.length)
    for (const d of t.shape) {
      w.u64(d)
    }
    w.u32(t.type === 'f32' ? 0 : t.type === 'f16' ? 1 : 8)
    w.u64(offsets[i])
  })
  w.pad(alignment)
  return { header: w.concat(), dataBytes: off, offsets }
}

/**
 * Write a GGUF file. Returns its size in bytes. Same options (and fill
 * functions producing the same values) → byte-identical file.
 */
export async function writeGguf (path: string, options: WriteGgufOptions): Promise<number> {
  const alignment = options.alignment ?? 32
  const { header, dataBytes, offsets } = ggufHeader(options)
  const total = header.length + dataBytes
  const fh = await open(path, 'w')
  try {
    let pos = 0
    const put = async (b: Uint8Array): Promise<void> => {
      await fh.write(b, 0, b.length, pos)
      pos += b.length
    }
    await put(header)
    const dataStart = pos
    for (const [i, t] of options.tensors.entries()) {
      if (pos - dataStart !== offsets[i]) {
        throw new GgufLayoutError(t.name, pos - dataStart, offsets[i])
      }
      let left = count(t.shape)
      while (left > 0) {
        const n = Math.min(left, CHUNK_VALUES)
        const chunk = new Float32Array(n)
        t.fill(chunk)
        await put(encodeValues(t.type, chunk))
        left -= n
        options.onProgress?.(pos, total)
      }
      const pad = alignUp(pos - dataStart, alignment) - (pos - dataStart)
      if (pad > 0) {
        await put(new Uint8Array(pad))
      }
    }
    options.onProgress?.(pos, total)
    return pos
  } finally {
    await fh.close()
  }
}
