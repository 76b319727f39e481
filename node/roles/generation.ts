/**
 * A task's generation on a miner: the task's parameters in deterministic
 * mode, a full engine queue waited out rather than failed, and every token
 * pushed to the task's token buffer as it comes, the text the decoder held
 * back until the end included.
 */
import type { MinerFaults } from './miner.ts'
import type { TokenBuffer } from './stream.ts'
import type { TaskParams } from '../../protocols/messages/index.ts'
import type { GenerateParams, GenerationResult, InferenceEngine } from '../inference/index.ts'

/** a generation refused by a full engine queue is tried again after this long */
const ENGINE_RETRY_MS = 100

/** The engine's parameters for a task's (deterministic mode; zeros and empty lists are unset). */
export function generationParams (p?: TaskParams): GenerateParams {
  return {
    maxTokens: p?.maxTokens,
    temperature: p?.temperature,
    topP: p?.topP !== 0 ? p?.topP : undefined,
    topK: p?.topK !== 0 ? p?.topK : undefined,
    seed: p?.seed !== 0n && p?.seed != null ? Number(p.seed) : undefined,
    stop: p?.stop != null && p.stop.length > 0 ? p.stop : undefined,
    deterministic: true
  }
}

/** Generate, pushing each token to `buffer`; the buffer is left open for the caller to complete. */
export async function generateInto (engine: InferenceEngine, prompt: string, params: GenerateParams, buffer: TokenBuffer, signal: AbortSignal, faults?: Pick<MinerFaults, 'tokenDelayMs'>): Promise<GenerationResult> {
  // a miner takes more tasks than its engine queues (a burst on a small pool): the task waits here
  // for room instead of failing, and the queue state machine's windows decide if it waited too long
  let gen
  let next
  for (;;) {
    try {
      gen = engine.generate(prompt, params, signal)
      next = await gen.next()
      break
    } catch (err: any) {
      if (err?.name !== 'QueueFullError' || signal.aborted) {
        throw err
      }
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
        const timer = setTimeout(done, ENGINE_RETRY_MS)
        signal.addEventListener('abort', done, { once: true })
      })
      signal.throwIfAborted()
    }
  }
  let result
  for (;; next = await gen.next()) {
    if (next.done === true) {
      result = next.value
      break
    }
    buffer.push(next.value.text, [next.value.token])
    if (faults?.tokenDelayMs != null) {
      await new Promise(resolve => setTimeout(resolve, faults?.tokenDelayMs))
    }
  }
  // the decoder may hold back the bytes of an incomplete character until the end: stream them too
  const streamed = buffer.frames.map(f => f.text).join('')
  if (result.text.length > streamed.length && result.text.startsWith(streamed)) {
    buffer.push(result.text.slice(streamed.length), [])
  }
  return result
}
