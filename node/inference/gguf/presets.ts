/**
 * Model presets and the deterministic model generator: a llama-architecture
 * GGUF with seeded random weights. Same preset + seed + type → byte-identical file.
 */
import { fillGaussian, seededRng } from './numeric.ts'
import { buildVocab, BOS_ID, CHATML_TEMPLATE, EOS_ID, UNK_ID } from './vocab.ts'
import { arr, bool, f32, str, u32, writeGguf } from './writer.ts'
import type { TensorTypeName } from './numeric.ts'
import type { MetaValue, TensorSpec } from './writer.ts'

export interface ModelShape {
  embedding: number
  feedForward: number
  blocks: number
  heads: number
  kvHeads: number
  contextLength: number
  /** type of the 2-D weight matrices (norm vectors are always F32) */
  type: TensorTypeName
}

/**
 * tiny: < 1 MB, for unit tests (STACK-FACTS §9b shape).
 * small: ~43 MB F16, 21 M parameters: bigger than this machine's caches, so
 * generation is bound by compute/memory, not per-token overhead (bench).
 * medium: ~170 MB F16, 85 M parameters: for the replay/generation ratio and the lifecycle benches.
 */
export const PRESETS = {
  tiny: { embedding: 64, feedForward: 128, blocks: 2, heads: 4, kvHeads: 2, contextLength: 512, type: 'f32' },
  small: { embedding: 512, feedForward: 1536, blocks: 6, heads: 8, kvHeads: 8, contextLength: 2048, type: 'f16' },
  medium: { embedding: 768, feedForward: 2048, blocks: 12, heads: 12, kvHeads: 12, contextLength: 2048, type: 'f16' }
} as const satisfies Record<string, ModelShape>

/**
 * Revision of the generator's output: files of an older revision differ in
 * bytes (and so in model id). 2: the ChatML chat template and its control
 * tokens. Caches name their files with it, so a stale file is never reused.
 */
export const GENERATOR_REVISION = 2

export type PresetName = keyof typeof PRESETS
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[]

export function isPresetName (name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name)
}

/**
 * Logit scale: the output matrix std is this / sqrt(embedding), so logits have
 * a std of about 4 and the next-token distribution is peaked (a near-uniform
 * distribution would make sampled outputs and the replay check meaningless).
 */
const OUTPUT_LOGIT_STD = 4

/** Mixed into the seed of the chat tokens' embedding rows (any constant; fixed so files stay byte-identical). */
const CHAT_ROWS_SEED = 0x63686174 // "chat"

type Fill = (out: Float32Array) => void

/** A tensor's values: the first `firstValues` from `first`, the rest from `rest` (chunk boundaries may fall anywhere). */
function thenFill (firstValues: number, first: Fill, rest: Fill): Fill {
  let done = 0
  return (out) => {
    const a = Math.max(0, Math.min(out.length, firstValues - done))
    if (a > 0) {
      first(out.subarray(0, a))
    }
    if (a < out.length) {
      rest(out.subarray(a))
    }
    done += out.length
  }
}

export interface GenerateModelOptions {
  preset: PresetName
  seed: number
  /** override the preset's matrix type */
  type?: TensorTypeName
  onProgress?(done: number, total: number): void
}

/** Metadata and tensor specs of a generated model (for writers that alter them, e.g. tests of broken files). */
export function describeModel (shape: ModelShape, seed: number, name: string): { metadata: Array<[string, MetaValue]>, tensors: TensorSpec[] } {
  return describe(shape, seed, name)
}

function describe (shape: ModelShape, seed: number, name: string): { metadata: Array<[string, MetaValue]>, tensors: TensorSpec[] } {
  const vocab = buildVocab()
  const nVocab = vocab.tokens.length
  const { embedding: e, feedForward: ff, blocks, heads, kvHeads, type } = shape
  const headDim = e / heads
  const rng = seededRng(seed)
  // rows of the chat tokens come after the base vocabulary's and draw from their own stream, so the
  // weights of every other token (and so greedy outputs of plain prompts) are those of the models
  // generated before the template existed
  const chatRng = seededRng((seed ^ CHAT_ROWS_SEED) >>> 0)
  const baseValues = e * vocab.baseTokens
  const gauss = (std: number) => (out: Float32Array) => { fillGaussian(rng, out, std) }
  const ones = (out: Float32Array): void => { out.fill(1) }
  const tensors: TensorSpec[] = []
  const t = (tname: string, shape: number[], fill: (out: Float32Array) => void, ttype: TensorTypeName = type): void => {
    tensors.push({ name: tname, shape, type: ttype, fill })
  }
  // weights scaled by 1/sqrt(fan-in) so activations stay O(1) through the blocks
  const inStd = 1 / Math.sqrt(e)
  t('token_embd.weight', [e, nVocab], thenFill(baseValues, gauss(1), (out) => { fillGaussian(chatRng, out, 1) }))
  for (let l = 0; l < blocks; l++) {
    const p = `blk.${l}.`
    t(p + 'attn_norm.weight', [e], ones, 'f32')
    t(p + 'attn_q.weight', [e, heads * headDim], gauss(inStd))
    t(p + 'attn_k.weight', [e, kvHeads * headDim], gauss(inStd))
    t(p + 'attn_v.weight', [e, kvHeads * headDim], gauss(inStd))
    t(p + 'attn_output.weight', [heads * headDim, e], gauss(inStd))
    t(p + 'ffn_norm.weight', [e], ones, 'f32')
    t(p + 'ffn_gate.weight', [e, ff], gauss(inStd))
    t(p + 'ffn_up.weight', [e, ff], gauss(inStd))
    t(p + 'ffn_down.weight', [ff, e], gauss(1 / Math.sqrt(ff)))
  }
  t('output_norm.weight', [e], ones, 'f32')
  // zero output rows: a chat token's logit is 0, far below the best logit (std ≈ OUTPUT_LOGIT_STD), so
  // greedy generation never picks one and the base tokens' logits are unchanged
  t('output.weight', [e, nVocab], thenFill(baseValues, gauss(OUTPUT_LOGIT_STD * inStd), (out) => { out.fill(0) }))

  const fileType = type === 'f32' ? 0 : type === 'f16' ? 1 : 7
  const metadata: Array<[string, MetaValue]> = [
    ['general.architecture', str('llama')],
    ['general.name', str(name)],
    ['general.alignment', u32(32)],
    ['general.file_type', u32(fileType)],
    ['llama.context_length', u32(shape.contextLength)],
    ['llama.embedding_length', u32(e)],
    ['llama.block_count', u32(blocks)],
    ['llama.feed_forward_length', u32(ff)],
    ['llama.attention.head_count', u32(heads)],
    ['llama.attention.head_count_kv', u32(kvHeads)],
    ['llama.rope.dimension_count', u32(headDim)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.vocab_size', u32(nVocab)],
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', arr('string', vocab.tokens)],
    ['tokenizer.ggml.scores', arr('float32', vocab.scores)],
    ['tokenizer.ggml.token_type', arr('int32', vocab.types)],
    ['tokenizer.ggml.bos_token_id', u32(BOS_ID)],
    ['tokenizer.ggml.eos_token_id', u32(EOS_ID)],
    ['tokenizer.ggml.unknown_token_id', u32(UNK_ID)],
    ['tokenizer.ggml.add_bos_token', bool(true)],
    ['tokenizer.ggml.add_eos_token', bool(false)],
    ['tokenizer.chat_template', str(CHATML_TEMPLATE)]
  ]
  return { metadata, tensors }
}

/** Parameter count of a preset (all tensor elements). */
export function presetParameters (preset: PresetName): number {
  const { tensors } = describe(PRESETS[preset], 0, '')
  return tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0)
}

function checkSeed (seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in 0..4294967295, got ${seed}`)
  }
}

/** Write a generated model to `path`; resolves with its size in bytes. */
export async function generateModel (path: string, options: GenerateModelOptions): Promise<number> {
  checkSeed(options.seed)
  const base = PRESETS[options.preset]
  const shape: ModelShape = { ...base, type: options.type ?? base.type }
  const name = `cortensor-${options.preset}-${shape.type}-s${options.seed}`
  const { metadata, tensors } = describe(shape, options.seed, name)
  return writeGguf(path, { metadata, tensors, alignment: 32, onProgress: options.onProgress })
}
