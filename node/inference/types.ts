/**
 * The engine interface the roles use, apart from the area's index so the
 * area's own modules (capability, throttle) can name it without importing
 * the index that re-exports them.
 */
import type { ChatRenderer, RenderedPrompt } from './chat.ts'
import type { GeneratedToken, GenerateParams, GenerationResult } from './generation.ts'
import type { Hex32, GgufSummary } from './gguf/inspect.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'

/** What the miner and oracle roles use (LlamaInferenceEngine implements it). */
export interface InferenceEngine {
  /** sha256 of the GGUF file as 0x-prefixed bytes32 hex */
  readonly modelId: Hex32
  readonly modelPath: string
  readonly summary: GgufSummary
  readonly threads: number
  readonly sequences: number
  readonly contextSize: number
  readonly queued: number
  readonly closed: boolean
  /** how chat messages become prompt tokens (`chat.name`: the template a task reports) */
  readonly chat: Pick<ChatRenderer, 'name'>
  tokenizePrompt(prompt: string): number[]
  /** prompt tokens of a task's input, chat messages rendered with the model's template (generation and replay use it) */
  renderPrompt(input: PromptInput): RenderedPrompt
  detokenize(tokens: number[]): string
  generate(prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, undefined>
  complete(prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): Promise<GenerationResult>
  close(): Promise<void>
}
