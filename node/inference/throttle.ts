/**
 * An engine slowed down to a given decode speed: every token is held back
 * until `1000 / tokensPerSec` ms after the previous one. The slow-miner
 * fault (MinerFaults.throttleTokensPerSec) runs its engine through this, so
 * the miner's own benchmark, its generation and what oracles measure all see
 * the same slow engine.
 */
import type { GeneratedToken, GenerateParams, GenerationResult } from './generation.ts'
import type { InferenceEngine } from './types.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) {
    return
  }
  await new Promise<void>(resolve => {
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** `engine`, its generation no faster than `tokensPerSec` (everything else is the engine's own). */
export function throttleEngine<E extends InferenceEngine> (engine: E, tokensPerSec: number): E {
  const gapMs = 1000 / tokensPerSec
  async function * generate (prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, undefined> {
    const inner = engine.generate(prompt, params, signal)
    let last = performance.now()
    try {
      for (;;) {
        const next = await inner.next()
        if (next.done === true) {
          return next.value
        }
        // a timer may fire a fraction of a millisecond early (the event loop's clock is coarser than
        // performance.now()): sleep again until the gap has really passed, so the throttle is a true bound
        const due = last + gapMs
        while (performance.now() < due && signal?.aborted !== true) {
          await sleep(Math.max(1, Math.ceil(due - performance.now())), signal)
        }
        last = performance.now()
        // aborted while waiting: the engine's next step fails the way an abort of the engine does
        if (signal?.aborted === true) {
          await inner.next()
        }
        yield next.value
      }
    } finally {
      // an abort while waiting, or a consumer that stops early: the engine's generation ends too (it holds a sequence)
      await inner.return(undefined as never).catch(() => {})
    }
  }
  async function complete (prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): Promise<GenerationResult> {
    const gen = generate(prompt, params, signal)
    for (;;) {
      const next = await gen.next()
      if (next.done === true) {
        return next.value
      }
    }
  }
  return new Proxy(engine, {
    get (target, prop) {
      if (prop === 'generate') {
        return generate
      }
      if (prop === 'complete') {
        return complete
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}
