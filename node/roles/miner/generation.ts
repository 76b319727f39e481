/**
 * A task's generation on a miner: the task's parameters in deterministic
 * mode (a sampled task without a seed samples with the seed every node
 * derives from the chain's seed of the task), a check that the task can run
 * on this engine at all, a full engine queue waited out rather than failed,
 * and every token pushed to the task's token buffer as it comes, the text the
 * decoder held back until the end included.
 */
import pRetry from 'p-retry'
import { Decline } from '../../../protocols/messages/index.ts'
import { samplingSeed } from '../../../protocols/selection/index.ts'
import { QueueFullError } from '../../inference/errors.ts'
import { checkGrammarSampling, resolveParams } from '../../inference/index.ts'
import { ENGINE_RETRY_MS } from './constants.ts'
import { TaskNotRunnableError } from './errors.ts'
import type { MinerBehaviour } from './types.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { PromptInput } from '../../../protocols/prompt/index.ts'
import type { GenerateParams, GenerationResult, InferenceEngine } from '../../inference/index.ts'
import type { TokenBuffer } from '../shared/stream.ts'

export { TaskNotRunnableError } from './errors.ts'

/**
 * The engine's parameters for a task (deterministic mode; zeros and empty
 * lists are unset). A task that samples (temperature > 0) with no seed gets
 * the seed derived from the chain's seed of the task (`samplingSeed`); with
 * no chain seed in the announcement it has none and cannot run.
 */
export function generationParams (m: Pick<TaskQueued, 'params' | 'seed' | 'taskId'>): GenerateParams {
  const p = m.params
  return {
    maxTokens: p?.maxTokens,
    temperature: p?.temperature,
    topP: p?.topP !== 0 ? p?.topP : undefined,
    topK: p?.topK !== 0 ? p?.topK : undefined,
    seed: taskSeed(m),
    stop: p?.stop != null && p.stop.length > 0 ? p.stop : undefined,
    deterministic: true
  }
}

/** The task's own seed, else for a sampled task the one derived from the chain's seed of the task. */
function taskSeed (m: Pick<TaskQueued, 'params' | 'seed' | 'taskId'>): number | undefined {
  const p = m.params
  if (p?.seed != null && p.seed !== 0n) {
    return Number(p.seed)
  }
  if ((p?.temperature ?? 0) > 0 && m.seed != null && m.seed.byteLength > 0) {
    return samplingSeed(m.seed, m.taskId)
  }
  return undefined
}

/**
 * Throw TaskNotRunnableError when the task cannot run on this engine whatever
 * the miner does: parameters the engine refuses, chat messages the model's
 * template cannot render, or a prompt and max_tokens that do not fit one
 * sequence's context. Returns the prompt's token count.
 */
export function checkRunnable (engine: Pick<InferenceEngine, 'renderPrompt' | 'contextSize'>, prompt: PromptInput, params: GenerateParams): number {
  const contextTokens = engine.contextSize
  try {
    resolveParams(params)
    checkGrammarSampling(prompt, params.temperature)
  } catch (err: any) {
    throw new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, String(err?.message ?? err), 0, contextTokens)
  }
  let promptTokens: number
  try {
    promptTokens = engine.renderPrompt(prompt).tokens.length
  } catch (err: any) {
    if (err?.name !== 'ChatTemplateError') {
      throw err
    }
    // every miner of the model renders with the same template: none can run this chat
    throw new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, String(err.message), 0, contextTokens)
  }
  const maxTokens = params.maxTokens ?? 0
  if (promptTokens + maxTokens > contextTokens) {
    throw new TaskNotRunnableError(Decline.Reason.CONTEXT_OVERFLOW,
      `the prompt is ${promptTokens} tokens and max_tokens is ${maxTokens}: the task needs ${promptTokens + maxTokens} tokens of context, the model has ${contextTokens}`,
      promptTokens, contextTokens)
  }
  return promptTokens
}

/** Generate, pushing each token to `buffer`; the buffer is left open for the caller to complete. */
export async function generateInto (engine: InferenceEngine, prompt: PromptInput, params: GenerateParams, buffer: TokenBuffer, signal: AbortSignal, behaviour?: Pick<MinerBehaviour, 'afterToken' | 'beforeFirstToken'>): Promise<GenerationResult> {
  // a miner takes more tasks than its engine queues (a burst on a small pool): the task waits here
  // for room instead of failing, and the queue state machine's windows decide if it waited too long
  const { gen, next: first } = await pRetry(async () => {
    const gen = engine.generate(prompt, params, signal)
    return { gen, next: await gen.next() }
  }, {
    retries: Infinity,
    minTimeout: ENGINE_RETRY_MS,
    maxTimeout: ENGINE_RETRY_MS,
    factor: 1,
    randomize: false,
    signal,
    shouldRetry: ({ error }) => error instanceof QueueFullError && !signal.aborted
  })
  let next = first
  let result
  await behaviour?.beforeFirstToken(signal)
  for (;; next = await gen.next()) {
    if (next.done === true) {
      result = next.value
      break
    }
    buffer.push(next.value.text, [next.value.token])
    await behaviour?.afterToken(signal)
  }
  // the decoder may hold back the bytes of an incomplete character until the end: stream them too
  const streamed = buffer.frames.map(f => f.text).join('')
  if (result.text.length > streamed.length && result.text.startsWith(streamed)) {
    buffer.push(result.text.slice(streamed.length), [])
  }
  return result
}
