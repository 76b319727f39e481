/**
 * The inference engine: one GGUF model loaded by path, its model id (sha256 of
 * the file), and one context with several sequences so concurrent generations
 * share the model. Generation is an async iterator of tokens with their text;
 * the oracle's replay check and embeddings run on the same model.
 */
import { logger } from '@libp2p/logger'
import { chatRenderer, renderPromptWith } from './chat.ts'
import { DEFAULT_BATCH_SIZE_TOKENS, DEFAULT_CONTEXT_SIZE_TOKENS, DEFAULT_MAX_QUEUED, DEFAULT_SEQUENCES, DEFAULT_THREADS, FLASH_ATTENTION } from './constants.ts'
import { ContextOverflowError, EngineClosedError, GenerationAbortedError, InvalidParamsError, ModelLoadError } from './errors.ts'
import { completesStop, resolveParams, TextDecoderStream } from './generation.ts'
import { inspectGguf, modelIdOf } from './gguf/inspect.ts'
import { checkGrammarSampling, formatOf, grammarState, taskGrammar } from './grammar.ts'
import { getSharedLlama } from './llama.ts'
import { BoundedPool } from './pool.ts'
import type { ChatRenderer, RenderedPrompt } from './chat.ts'
import type { GeneratedToken, GenerateParams, GenerationResult, KvCacheType } from './generation.ts'
import type { GgufSummary, Hex32 } from './gguf/inspect.ts'
import type { GpuChoice } from './llama.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'
import type { FinishReason } from '../../protocols/replay/index.ts'
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp'

const log = logger('cortensor:inference')

export { resolveParams, TextDecoderStream } from './generation.ts'
export type { GeneratedToken, GenerateParams, GenerationResult, KvCacheType, ResolvedParams } from './generation.ts'

export interface InferenceEngineInit {
  /** path of the GGUF file */
  modelPath: string
  /** a Llama binding to share (default: the process-wide one for `gpu`) */
  llama?: Llama
  /** @default 'auto' (GPU when a prebuilt backend finds one, else CPU) */
  gpu?: GpuChoice
  /** layers offloaded to the GPU: a count, 'auto' (what fits) or 'max'; @default 'auto' (node-llama-cpp's) */
  gpuLayers?: number | 'auto' | 'max'
  /** @default DEFAULT_THREADS */
  threads?: number
  /** tokens of context per sequence; @default min(DEFAULT_CONTEXT_SIZE_TOKENS, the model's) */
  contextSize?: number
  /** @default DEFAULT_BATCH_SIZE_TOKENS */
  batchSize?: number
  /** parallel sequences; @default DEFAULT_SEQUENCES */
  sequences?: number
  /**
   * llama.cpp's flash attention. Replay tolerates the drift it brings
   * (bench/replay.bench.ts: honest outputs generated with it on pass a replay
   * with it off).
   *
   * @default FLASH_ATTENTION
   */
  flashAttention?: boolean
  /**
   * Type of the KV cache (keys and values).
   *
   * @default 'F16' (llama.cpp's)
   */
  kvCacheType?: KvCacheType
  /** generations allowed to wait for a sequence; @default DEFAULT_MAX_QUEUED */
  maxQueued?: number
  /** load progress, 0…1 */
  onLoadProgress?(fraction: number): void
  signal?: AbortSignal
}

function isAborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}

export class LlamaInferenceEngine {
  readonly modelPath: string
  readonly modelId: Hex32
  readonly summary: GgufSummary
  readonly llama: Llama
  readonly model: LlamaModel
  readonly threads: number
  readonly contextSize: number
  readonly batchSize: number
  readonly flashAttention: boolean
  readonly kvCacheType: KvCacheType
  /** how chat messages become prompt tokens on this model (its own template, or the plain transcript) */
  readonly chat: ChatRenderer
  private readonly context: LlamaContext
  private readonly pool: BoundedPool<LlamaContextSequence>
  private closing?: Promise<void>

  constructor (parts: { summary: GgufSummary, llama: Llama, model: LlamaModel, context: LlamaContext, threads: number, maxQueued: number, batchSize: number, contextSize: number, flashAttention?: boolean, kvCacheType?: KvCacheType }) {
    this.summary = parts.summary
    this.modelPath = parts.summary.path
    this.modelId = parts.summary.modelId
    this.llama = parts.llama
    this.model = parts.model
    this.context = parts.context
    this.threads = parts.threads
    this.batchSize = parts.batchSize
    this.flashAttention = parts.flashAttention ?? FLASH_ATTENTION
    this.kvCacheType = parts.kvCacheType ?? 'F16'
    const seqs: LlamaContextSequence[] = []
    for (let i = 0; i < parts.context.totalSequences; i++) {
      seqs.push(parts.context.getSequence())
    }
    this.contextSize = Math.min(parts.contextSize, seqs[0]?.contextSize ?? parts.contextSize)
    this.pool = new BoundedPool(seqs, parts.maxQueued)
    this.chat = chatRenderer(parts.model, (text) => this.tokenizePrompt(text))
  }

  get sequences (): number {
    return this.context.totalSequences
  }

  get closed (): boolean {
    return this.closing != null
  }

  /** Generations waiting for a free sequence. */
  get queued (): number {
    return this.pool.queued
  }

  /** Prompt tokens as generation sees them (BOS first when the model wants it). */
  tokenizePrompt (prompt: string): number[] {
    const tokens = this.model.tokenize(prompt)
    const bos = this.model.tokens.bos
    return bos != null && this.model.tokens.shouldPrependBosToken ? [bos, ...tokens] : tokens
  }

  /**
   * Prompt tokens of a task's input: a plain prompt as `tokenizePrompt`
   * gives them, chat messages rendered with the model's chat template.
   * Generation and replay both go through here.
   */
  renderPrompt (input: PromptInput): RenderedPrompt {
    return renderPromptWith(this.chat, (text) => this.tokenizePrompt(text), input)
  }

  detokenize (tokens: number[]): string {
    return this.model.detokenize(tokens as Token[])
  }

  isEndToken (token: number): boolean {
    return this.model.isEogToken(token as Token)
  }

  /** The token that ends a generation (EOS). */
  get endToken (): number | undefined {
    return this.model.tokens.eos ?? undefined
  }

  /**
   * Hold one sequence (cleared) for `fn`; waits in the bounded queue when all
   * are busy. Used by generate, replay and the benchmark.
   */
  async withSequence<R> (signal: AbortSignal | undefined, fn: (seq: LlamaContextSequence) => Promise<R>): Promise<R> {
    if (this.closed) {
      throw new EngineClosedError()
    }
    const seq = await this.pool.acquire(signal)
    try {
      await seq.clearHistory()
      return await fn(seq)
    } finally {
      if (!seq.disposed) {
        await seq.clearHistory().catch(() => {})
      }
      this.pool.release(seq)
    }
  }

  /**
   * Generate from a prompt or chat messages. Yields each token with its text; the generator's
   * return value is the whole result (use `complete` to get only that).
   * Aborting `signal` ends the iteration with GenerationAbortedError and frees the sequence.
   */
  async * generate (prompt: PromptInput, params: GenerateParams = {}, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, undefined> {
    if (this.closed) {
      throw new EngineClosedError()
    }
    const p = resolveParams(params)
    checkGrammarSampling(prompt, p.temperature)
    // no await for free text: a generation reaches the sequence pool in the same tick it starts
    const grammar = formatOf(prompt) != null ? await taskGrammar(this.llama, prompt) : undefined
    const stop = grammar != null ? [...p.stop, ...grammar.stop] : p.stop
    const { tokens: promptTokens, chatTemplate } = this.renderPrompt(prompt)
    if (promptTokens.length + p.maxTokens > this.contextSize) {
      throw new ContextOverflowError(promptTokens.length + p.maxTokens, this.contextSize)
    }
    const seq = await this.pool.acquire(signal)
    const tokens: number[] = []
    const decoder = new TextDecoderStream(this.model)
    let text = ''
    let finishReason: FinishReason = 'length'
    try {
      await seq.clearHistory()
      const it = seq.evaluate(promptTokens as Token[], {
        temperature: p.temperature,
        topK: p.topK,
        topP: p.topP,
        seed: p.seed,
        yieldEogToken: true,
        ...(grammar != null ? { grammarEvaluationState: grammarState(this.model, grammar) } : {})
      })
      for await (const token of it) {
        if (isAborted(signal)) {
          throw new GenerationAbortedError()
        }
        if (this.model.isEogToken(token)) {
          finishReason = 'eos'
          break
        }
        tokens.push(token)
        const piece = decoder.push(token)
        const before = text.length
        text += piece
        yield { token, text: piece }
        if (isAborted(signal)) {
          throw new GenerationAbortedError()
        }
        if (stop.length > 0 && piece.length > 0 && completesStop(text, before, stop)) {
          finishReason = 'stop'
          break
        }
        if (tokens.length >= p.maxTokens) {
          finishReason = 'length'
          break
        }
      }
      text += decoder.flush()
      return { tokens, text, finishReason, promptTokens: promptTokens.length, ...(chatTemplate != null ? { chatTemplate } : {}) }
    } finally {
      if (!seq.disposed) {
        await seq.clearHistory().catch(() => {})
      }
      this.pool.release(seq)
    }
  }

  /** Run a generation to its end and return the result. */
  async complete (prompt: PromptInput, params: GenerateParams = {}, signal?: AbortSignal): Promise<GenerationResult> {
    const it = this.generate(prompt, params, signal)
    while (true) {
      const r = await it.next()
      if (r.done === true) {
        return r.value
      }
    }
  }

  /** Free the context and the model. Idempotent; pending waiters get EngineClosedError. */
  async close (): Promise<void> {
    if (this.closing == null) {
      this.pool.close()
      this.closing = (async () => {
        await this.context.dispose().catch(() => {})
        await this.model.dispose().catch(() => {})
        log('closed %s', this.modelId)
      })()
    }
    return this.closing
  }
}

/** Flash attention and KV cache type of the context (validated). */
function cacheOptions (init: InferenceEngineInit): { flashAttention: boolean, kvCacheType: KvCacheType } {
  const type = init.kvCacheType ?? 'F16'
  if (type !== 'F16' && type !== 'F32') {
    throw new InvalidParamsError('kvCacheType', `must be F16 or F32, got ${String(type)}`)
  }
  return { flashAttention: init.flashAttention ?? FLASH_ATTENTION, kvCacheType: type }
}

/**
 * Load a GGUF model by path: validate the file (typed errors naming the
 * problem), hash it for the model id, load it with load progress, and create
 * the context with its sequences.
 */
export async function createInferenceEngine (init: InferenceEngineInit): Promise<LlamaInferenceEngine> {
  // validate the header first (typed errors), then hash the file while llama.cpp loads it
  const header = await inspectGguf(init.modelPath, { computeId: false })
  const modelIdP = modelIdOf(init.modelPath)
  modelIdP.catch(() => {})
  const llama = init.llama ?? await getSharedLlama(init.gpu ?? 'auto')
  const threads = init.threads ?? DEFAULT_THREADS
  const sequences = init.sequences ?? DEFAULT_SEQUENCES
  if (!Number.isInteger(threads) || threads < 1) {
    throw new InvalidParamsError('threads', `must be a positive integer, got ${threads}`)
  }
  if (!Number.isInteger(sequences) || sequences < 1) {
    throw new InvalidParamsError('sequences', `must be a positive integer, got ${sequences}`)
  }
  let model: LlamaModel
  const t0 = performance.now()
  try {
    model = await llama.loadModel({
      modelPath: init.modelPath,
      ...(init.gpuLayers != null ? { gpuLayers: init.gpuLayers } : {}),
      onLoadProgress: init.onLoadProgress,
      loadSignal: init.signal
    })
  } catch (err: any) {
    throw new ModelLoadError(init.modelPath, String(err?.message ?? err).split('\n')[0])
  }
  let summary: GgufSummary
  try {
    summary = { ...header, modelId: await modelIdP }
  } catch (err) {
    await model.dispose().catch(() => {})
    throw err
  }
  const contextSize = Math.min(init.contextSize ?? DEFAULT_CONTEXT_SIZE_TOKENS, model.trainContextSize)
  const batchSize = Math.min(init.batchSize ?? DEFAULT_BATCH_SIZE_TOKENS, contextSize)
  const { flashAttention, kvCacheType } = cacheOptions(init)
  let context: LlamaContext
  try {
    context = await model.createContext({
      contextSize,
      sequences,
      batchSize,
      threads,
      flashAttention,
      experimentalKvCacheKeyType: init.kvCacheType,
      experimentalKvCacheValueType: init.kvCacheType,
      createSignal: init.signal
    })
  } catch (err: any) {
    await model.dispose().catch(() => {})
    throw new ModelLoadError(init.modelPath, String(err?.message ?? err).split('\n')[0])
  }
  log('loaded %s (%s) in %d ms: %d threads, %d sequences, gpu %s, flash attention %s, KV cache %s', summary.modelId, summary.name ?? summary.architecture,
    Math.round(performance.now() - t0), threads, sequences, String(llama.gpu), flashAttention, kvCacheType)
  return new LlamaInferenceEngine({ summary, llama, model, context, threads, maxQueued: init.maxQueued ?? DEFAULT_MAX_QUEUED, batchSize, contextSize, flashAttention, kvCacheType })
}
