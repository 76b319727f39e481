/**
 * Check a GGUF file before llama.cpp sees it (llama.cpp only says "Failed to
 * load model"), and describe it: model id (sha256 of the file), architecture,
 * parameters, context length, size.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { readGgufFileInfo } from 'node-llama-cpp'
import { GgufBadMagicError, GgufMalformedError, GgufMissingKeyError, GgufMissingTensorError, GgufTruncatedError, ModelNotFoundError } from '../errors.ts'
import { GGUF_MAGIC } from './writer.ts'
import type { GgufTensorInfo } from 'node-llama-cpp'

export type Hex32 = `0x${string}`

export interface GgufSummary {
  path: string
  /** sha256 of the whole file, 0x-prefixed bytes32 hex: the id the chain and the node pool use */
  modelId: Hex32
  name?: string
  architecture: string
  parameters: number
  contextLength?: number
  embeddingLength?: number
  blockCount?: number
  vocabularySize?: number
  tensorCount: number
  sizeBytes: number
  /** ggml types of the tensors, e.g. { F32: 18, F16: 14 } */
  tensorTypes: Record<string, number>
}

/** sha256 of a file, streamed, as a 0x-prefixed 32-byte hex string. */
export async function modelIdOf (path: string): Promise<Hex32> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    hash.update(chunk as Buffer)
  }
  return `0x${hash.digest('hex')}`
}

/** bytes per block / values per block for the ggml types we can size */
const TYPE_SIZES: Record<number, [number, number]> = {
  0: [4, 1], // F32
  1: [2, 1], // F16
  8: [34, 32], // Q8_0
  30: [2, 1] // BF16
}
const TYPE_NAMES: Record<number, string> = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 8: 'Q8_0', 12: 'Q4_K', 14: 'Q6_K', 30: 'BF16' }

const LLAMA_KEYS = ['llama.context_length', 'llama.embedding_length', 'llama.block_count', 'llama.attention.head_count', 'llama.attention.layer_norm_rms_epsilon']
const LLAMA_BLOCK_TENSORS = ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']

function elements (t: GgufTensorInfo): number {
  return t.dimensions.reduce<number>((a, d) => a * Number(d), 1)
}

function lookup (meta: unknown, dotted: string): unknown {
  let cur: any = meta
  for (const part of dotted.split('.')) {
    if (cur == null || typeof cur !== 'object') {
      return undefined
    }
    cur = cur[part]
  }
  return cur
}

/**
 * Validate a GGUF file and summarise it. Throws ModelNotFoundError,
 * GgufBadMagicError, GgufTruncatedError, GgufMalformedError,
 * GgufMissingKeyError or GgufMissingTensorError naming the problem.
 */
export async function inspectGguf (path: string, options: { computeId?: boolean } = {}): Promise<GgufSummary> {
  const st = await stat(path).catch(() => undefined)
  if (st?.isFile() !== true) {
    throw new ModelNotFoundError(path)
  }
  const sizeBytes = st.size
  const fh = await open(path, 'r')
  try {
    const head = new Uint8Array(8)
    const { bytesRead } = await fh.read(head, 0, 8, 0)
    if (bytesRead < 4) {
      throw new GgufTruncatedError(path, `only ${bytesRead} bytes`)
    }
    if (new DataView(head.buffer).getUint32(0, true) !== GGUF_MAGIC) {
      throw new GgufBadMagicError(path)
    }
  } finally {
    await fh.close()
  }

  let info
  try {
    info = await readGgufFileInfo(path, { readTensorInfo: true, sourceType: 'filesystem', logWarnings: false, spliceSplitFiles: false })
  } catch (err: any) {
    const msg = String(err?.message ?? err)
    if (/out of range|beyond|end of (the )?file|EOF|offset|buffer/i.test(msg)) {
      throw new GgufTruncatedError(path, 'header ends early')
    }
    throw new GgufMalformedError(path, msg.split('\n')[0])
  }

  const tensors = info.tensorInfo ?? []
  if (tensors.length < Number(info.tensorCount)) {
    throw new GgufTruncatedError(path, `header lists ${Number(info.tensorCount)} tensors, the file ends after ${tensors.length}`)
  }
  if (info.infoEndOffset != null && info.infoEndOffset > sizeBytes) {
    throw new GgufTruncatedError(path, `header needs ${info.infoEndOffset} bytes, file has ${sizeBytes}`)
  }
  const meta = info.metadata as unknown
  const architecture = String(lookup(meta, 'general.architecture') ?? '')
  if (architecture === '') {
    throw new GgufMissingKeyError(path, 'general.architecture')
  }
  const byName = new Map(tensors.map(t => [t.name, t]))

  if (architecture === 'llama') {
    for (const key of LLAMA_KEYS) {
      if (lookup(meta, key) == null) {
        throw new GgufMissingKeyError(path, key)
      }
    }
    const blocks = Number(lookup(meta, 'llama.block_count'))
    const required = ['token_embd.weight', 'output_norm.weight']
    for (let l = 0; l < blocks; l++) {
      for (const t of LLAMA_BLOCK_TENSORS) {
        required.push(`blk.${l}.${t}.weight`)
      }
    }
    for (const name of required) {
      if (!byName.has(name)) {
        throw new GgufMissingTensorError(path, name)
      }
    }
  }

  const tensorTypes: Record<string, number> = {}
  let parameters = 0
  for (const t of tensors) {
    const n = elements(t)
    parameters += n
    const typeName = TYPE_NAMES[t.ggmlType] ?? `type${t.ggmlType}`
    tensorTypes[typeName] = (tensorTypes[typeName] ?? 0) + 1
    const size = TYPE_SIZES[t.ggmlType]
    const start = Number(t.fileOffset)
    const end = size == null ? start + 1 : start + Math.ceil(n / size[1]) * size[0]
    if (end > sizeBytes) {
      throw new GgufTruncatedError(path, `tensor ${t.name} needs bytes up to ${end}, file has ${sizeBytes}`)
    }
  }

  const num = (key: string): number | undefined => {
    const v = lookup(meta, key)
    return v == null ? undefined : Number(v)
  }
  const vocab = lookup(meta, 'tokenizer.ggml.tokens')
  const name = lookup(meta, 'general.name')
  return {
    path,
    modelId: options.computeId === false ? '0x' : await modelIdOf(path),
    name: typeof name === 'string' ? name : undefined,
    architecture,
    parameters,
    contextLength: num(`${architecture}.context_length`),
    embeddingLength: num(`${architecture}.embedding_length`),
    blockCount: num(`${architecture}.block_count`),
    vocabularySize: Array.isArray(vocab) ? vocab.length : undefined,
    tensorCount: tensors.length,
    sizeBytes,
    tensorTypes
  }
}
