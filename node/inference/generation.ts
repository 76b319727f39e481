/**
 * What a generation takes and gives: its parameters (checked and normalised
 * by `resolveParams`, what replay needs to judge an output), its tokens and
 * result, and the incremental detokenizer and stop-sequence test the engine
 * streams with.
 */
import { DEFAULT_MAX_TOKENS } from './constants.ts'
import { InvalidParamsError } from './errors.ts'
import type { FinishReason } from '../../protocols/replay/index.ts'
import type { LlamaModel, Token } from 'node-llama-cpp'

/** KV cache types an operator may choose (lossless enough for replay: bench/replay.bench.ts). */
export type KvCacheType = 'F16' | 'F32'

export interface GenerateParams {
  /** @default DEFAULT_MAX_TOKENS */
  maxTokens?: number
  /** 0 = greedy; @default 0 */
  temperature?: number
  topP?: number
  topK?: number
  seed?: number
  /** generation ends after the token that completes one of these strings */
  stop?: string[]
  /**
   * Redundant-miner mode: greedy, or seeded sampling (a seed is required when
   * temperature > 0). Threads and batch are fixed by the engine's init.
   */
  deterministic?: boolean
}

export interface GeneratedToken {
  token: number
  /** the text this token completes ('' while a multi-byte character is incomplete) */
  text: string
}

export interface GenerationResult {
  tokens: number[]
  text: string
  finishReason: FinishReason
  promptTokens: number
  /** the chat template the messages were rendered with (chat.ts); undefined for a plain prompt */
  chatTemplate?: string
}

/** Normalised parameters (what replay needs to judge an output). */
export interface ResolvedParams {
  maxTokens: number
  temperature: number
  topP?: number
  topK?: number
  seed?: number
  stop: string[]
}

export function resolveParams (params: GenerateParams = {}): ResolvedParams {
  const maxTokens = params.maxTokens ?? DEFAULT_MAX_TOKENS
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new InvalidParamsError('maxTokens', `must be a positive integer, got ${maxTokens}`)
  }
  const temperature = params.temperature ?? 0
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new InvalidParamsError('temperature', `must be ≥ 0, got ${temperature}`)
  }
  if (params.topP != null && !(params.topP > 0 && params.topP <= 1)) {
    throw new InvalidParamsError('topP', `must be in (0, 1], got ${params.topP}`)
  }
  if (params.topK != null && !(Number.isInteger(params.topK) && params.topK >= 0)) {
    throw new InvalidParamsError('topK', `must be a non-negative integer, got ${params.topK}`)
  }
  if (params.seed != null && !(Number.isInteger(params.seed) && params.seed >= 0)) {
    throw new InvalidParamsError('seed', `must be a non-negative integer, got ${params.seed}`)
  }
  if (params.deterministic === true && temperature > 0 && params.seed == null) {
    throw new InvalidParamsError('seed', 'deterministic sampling with temperature > 0 needs a seed')
  }
  const stop = (params.stop ?? []).filter(s => s.length > 0)
  return { maxTokens, temperature, topP: params.topP, topK: params.topK, seed: params.seed, stop }
}

/** Incremental detokenizer: holds back bytes of an incomplete UTF-8 character. */
export class TextDecoderStream {
  private readonly model: LlamaModel
  private pending: number[] = []
  private readonly done: number[] = []

  constructor (model: LlamaModel) {
    this.model = model
  }

  /** text completed by this token ('' while a character is incomplete) */
  push (token: number): string {
    this.pending.push(token)
    const text = this.model.detokenize(this.pending as Token[], false, this.done.slice(-8) as Token[])
    // a byte-fallback token alone may be the start of a multi-byte character (UTF-8 is at most 4 bytes)
    if (text.endsWith('\uFFFD') && this.pending.length < 4) {
      return ''
    }
    this.done.push(...this.pending)
    this.pending = []
    return text
  }

  /** whatever is still held back */
  flush (): string {
    if (this.pending.length === 0) {
      return ''
    }
    const text = this.model.detokenize(this.pending as Token[], false, this.done.slice(-8) as Token[])
    this.done.push(...this.pending)
    this.pending = []
    return text
  }
}

/** Whether `text` contains a stop sequence that ends after offset `before` (the new piece completes it). */
export function completesStop (text: string, before: number, stop: string[]): boolean {
  return stop.some(s => text.indexOf(s, Math.max(0, before - s.length + 1)) >= 0)
}
