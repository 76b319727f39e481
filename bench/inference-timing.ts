/**
 * Timing helpers shared by the inference and replay benchmarks.
 */
import { percentile } from './report.ts'
import type { LlamaInferenceEngine } from '../node/inference/engine.ts'
import type { Token } from 'node-llama-cpp'

export const median = (xs: number[]): number => percentile(xs, 50)

/**
 * The prefill floor of a replay: `prompt + output` decoded in batches on one
 * of the engine's sequences with no next-token output at all, i.e. what a
 * replay of the same tokens costs before it fetches anything per position.
 */
export async function prefillFloorMs (engine: LlamaInferenceEngine, prompt: string, output: number[]): Promise<number> {
  const all = [...engine.tokenizePrompt(prompt), ...output] as Token[]
  return engine.withSequence(undefined, async (seq) => {
    const t0 = performance.now()
    await seq.evaluateWithoutGeneratingNewTokens(all)
    return performance.now() - t0
  })
}
