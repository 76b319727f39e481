/**
 * A zero-cost inference engine for benchmarks of everything but inference
 * (the session queue, the mesh, the chain): every token is available at
 * once, derived from the prompt so redundant miners agree byte for byte.
 * It lives in bench/ rather than node/inference/ on purpose: it implements
 * the miners' `InferenceEngine` but answers nonsense instantly, so nothing a
 * node runs should be able to pick it up.
 */
import { createHash } from 'node:crypto'
import { resolveParams } from '../node/inference/index.ts'
import { PLAIN_TRANSCRIPT, promptText } from '../protocols/prompt/index.ts'
import type { GgufSummary, Hex32 } from '../node/inference/gguf/inspect.ts'
import type { GeneratedToken, GenerateParams, GenerationResult, InferenceEngine, RenderedPrompt } from '../node/inference/index.ts'
import type { PromptInput } from '../protocols/prompt/index.ts'

/** model id the zero-cost engine serves under (a session's model must match it) */
export const ZERO_COST_MODEL_ID: Hex32 = `0x${createHash('sha256').update('cortensor/zero-cost-engine/v1').digest('hex')}`

const FIRST_LETTER = 0x61
const LETTERS = 26

export class ZeroCostEngine implements InferenceEngine {
  readonly modelId = ZERO_COST_MODEL_ID
  readonly modelPath = '(zero-cost engine)'
  readonly summary: GgufSummary = { path: this.modelPath, modelId: ZERO_COST_MODEL_ID, architecture: 'none', parameters: 0, tensorCount: 0, sizeBytes: 0, tensorTypes: {} }
  readonly threads = 0
  readonly sequences = Number.POSITIVE_INFINITY
  readonly contextSize = Number.POSITIVE_INFINITY
  readonly queued = 0
  closed = false
  /** chats are rendered as the plain transcript */
  readonly chat = { name: PLAIN_TRANSCRIPT }

  /** one token per byte */
  tokenizePrompt (prompt: string): number[] {
    return [...new TextEncoder().encode(prompt)]
  }

  renderPrompt (input: PromptInput): RenderedPrompt {
    const tokens = this.tokenizePrompt(promptText(input))
    return typeof input === 'string' ? { tokens } : { tokens, chatTemplate: PLAIN_TRANSCRIPT }
  }

  detokenize (tokens: number[]): string {
    return new TextDecoder().decode(Uint8Array.from(tokens))
  }

  /** `maxTokens` lowercase letters, starting where the prompt's hash says. */
  async * generate (prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, undefined> {
    const { maxTokens } = resolveParams(params)
    const rendered = this.renderPrompt(prompt)
    const start = createHash('sha256').update(promptText(prompt)).digest()[0]
    const tokens: number[] = []
    for (let i = 0; i < maxTokens; i++) {
      signal?.throwIfAborted()
      const token = FIRST_LETTER + (start + i) % LETTERS
      tokens.push(token)
      yield { token, text: String.fromCharCode(token) }
    }
    return { tokens, text: this.detokenize(tokens), finishReason: 'length', promptTokens: rendered.tokens.length, ...(rendered.chatTemplate != null ? { chatTemplate: rendered.chatTemplate } : {}) }
  }

  async complete (prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): Promise<GenerationResult> {
    const gen = this.generate(prompt, params, signal)
    for (;;) {
      const next = await gen.next()
      if (next.done === true) {
        return next.value
      }
    }
  }

  async close (): Promise<void> {
    this.closed = true
  }
}
