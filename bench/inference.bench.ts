/**
 * Inference benchmarks (`node_modules/.bin/node bench/inference.bench.ts`):
 * engine overhead against node-llama-cpp called directly, replay ÷ generation
 * time on the small and medium presets, tokens/s by thread count, model load
 * time. Models are generated into a temp dir and removed at the end.
 * Timings are noisy on the shared 2-core machine: each figure is a median.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInferenceEngine } from '../node/inference/engine.ts'
import { generateModel } from '../node/inference/gguf/index.ts'
import { disposeSharedLlamas, getSharedLlama } from '../node/inference/llama.ts'
import { replayCheck } from '../node/inference/replay.ts'
import { median, prefillFloorMs } from './inference-timing.ts'
import { printFigures } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { PresetName } from '../node/inference/gguf/index.ts'
import type { Llama, Token } from 'node-llama-cpp'

const PROMPT = 'the man said that the water was very cold and people call it a long day'
const REPS = 3

/**
 * Engine vs node-llama-cpp directly on the same model file and settings
 * (1 sequence, greedy, no flash attention), runs interleaved so background
 * load on the shared machine hits both alike.
 */
async function overheadPair (llama: Llama, modelPath: string, threads: number, tokens: number, reps: number): Promise<{ direct: number, engine: number }> {
  const model = await llama.loadModel({ modelPath })
  const ctx = await model.createContext({ contextSize: 1024, batchSize: 512, threads, flashAttention: false, sequences: 1 })
  const seq = ctx.getSequence()
  const prompt = [model.tokens.bos as Token, ...model.tokenize(PROMPT)]
  const engine = await createInferenceEngine({ modelPath, llama, threads, contextSize: 1024, sequences: 1 })
  const direct: number[] = []
  const viaEngine: number[] = []
  try {
    for (let r = 0; r < reps; r++) {
      await seq.clearHistory()
      let n = 0
      let t0 = performance.now()
      for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
        void t
        if (++n >= tokens) {
          break
        }
      }
      direct.push(n / ((performance.now() - t0) / 1000))
      t0 = performance.now()
      const res = await engine.complete(PROMPT, { maxTokens: tokens })
      viaEngine.push(res.tokens.length / ((performance.now() - t0) / 1000))
    }
  } finally {
    await engine.close()
    await ctx.dispose()
    await model.dispose()
  }
  return { direct: median(direct), engine: median(viaEngine) }
}

/**
 * Generation on the miner's default engine (1 thread) against the replay on
 * an engine with `replayThreads`: a replay is one batched pass, which spreads
 * over cores where token-by-token generation on this machine does not.
 */
async function replayRatio (llama: Llama, modelPath: string, tokens: number, replayThreads = 1): Promise<{ genMs: number, replayMs: number, floorMs: number, valid: boolean }> {
  const generator = await createInferenceEngine({ modelPath, llama, contextSize: 1024, sequences: 1 })
  const engine = replayThreads === 1 ? generator : await createInferenceEngine({ modelPath, llama, contextSize: 1024, sequences: 1, threads: replayThreads })
  try {
    const gen: number[] = []
    const rep: number[] = []
    const floor: number[] = []
    let valid = true
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now()
      const res = await generator.complete(PROMPT, { maxTokens: tokens })
      gen.push(performance.now() - t0)
      const t1 = performance.now()
      const v = await replayCheck(engine, { prompt: PROMPT, params: { maxTokens: tokens }, output: res.tokens, finishReason: res.finishReason })
      rep.push(performance.now() - t1)
      valid &&= v.valid
      floor.push(await prefillFloorMs(engine, PROMPT, res.tokens))
    }
    return { genMs: median(gen), replayMs: median(rep), floorMs: median(floor), valid }
  } finally {
    await engine.close()
    if (generator !== engine) {
      await generator.close()
    }
  }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cortensor-bench-inference-'))
  try {
    const llama = await getSharedLlama('auto')
    const paths: Partial<Record<PresetName, string>> = {}
    const genMs: Partial<Record<PresetName, number>> = {}
    for (const preset of ['small', 'medium'] as const) {
      const t0 = performance.now()
      paths[preset] = join(dir, `${preset}.gguf`)
      await generateModel(paths[preset], { preset, seed: 1 })
      genMs[preset] = performance.now() - t0
    }
    const small = paths.small as string
    const medium = paths.medium as string

    // load time: engine (validate + sha256 + load + context) vs llama.cpp load alone
    const load: BenchFigure[] = []
    for (const [name, path] of [['small', small], ['medium', medium]] as const) {
      const direct: number[] = []
      const viaEngine: number[] = []
      for (let r = 0; r < REPS; r++) {
        let t0 = performance.now()
        const m = await llama.loadModel({ modelPath: path })
        direct.push(performance.now() - t0)
        await m.dispose()
        t0 = performance.now()
        const e = await createInferenceEngine({ modelPath: path, llama, contextSize: 1024, sequences: 1 })
        viaEngine.push(performance.now() - t0)
        await e.close()
      }
      load.push({ name: `model load, engine (${name})`, value: median(viaEngine), unit: 'ms', baseline: { name: 'llama.loadModel alone', value: median(direct) } })
    }
    load.push({ name: 'generate small preset file', value: genMs.small ?? 0, unit: 'ms' })
    load.push({ name: 'generate medium preset file', value: genMs.medium ?? 0, unit: 'ms' })

    // engine overhead vs node-llama-cpp directly, same settings (1 thread, greedy, no flash attention)
    const overhead: BenchFigure[] = []
    for (const [name, path] of [['small', small], ['medium', medium]] as const) {
      const r = await overheadPair(llama, path, 1, 128, 5)
      overhead.push({ name: `engine tokens/s (${name}, 128 tokens)`, value: r.engine, unit: 'tok/s', baseline: { name: 'node-llama-cpp direct', value: r.direct }, goal: '≥ 0.97' })
    }

    // replay ÷ generation
    const replay: BenchFigure[] = []
    for (const [name, path] of [['small', small], ['medium', medium]] as const) {
      for (const tokens of [64, 256]) {
        const r = await replayRatio(llama, path, tokens)
        replay.push({ name: `replay time (${name}, ${tokens} tokens${r.valid ? '' : ', VERDICT INVALID'})`, value: r.replayMs, unit: 'ms', baseline: { name: 'generation', value: r.genMs }, goal: '≤ 0.10' })
        replay.push({ name: `prefill floor, no outputs (${name}, ${tokens} tokens)`, value: r.floorMs, unit: 'ms', baseline: { name: 'generation', value: r.genMs }, goal: 'lower bound of replay' })
      }
    }
    // an oracle may give its replays every core: the batched pass scales where generation does not
    const cores = availableParallelism()
    if (cores > 1) {
      const r = await replayRatio(llama, medium, 256, cores)
      replay.push({ name: `replay time on ${cores} threads (medium, 256 tokens${r.valid ? '' : ', VERDICT INVALID'})`, value: r.replayMs, unit: 'ms', baseline: { name: 'generation on 1 thread', value: r.genMs }, goal: '≤ 0.10' })
    }

    // tokens/s by threads (more threads than cores collapses: few tokens for those so the bench stays short)
    const threads: BenchFigure[] = []
    let base = 0
    for (const [n, tokens] of [[1, 64], [2, 32], [4, 4]] as const) {
      const r = await overheadPair(llama, small, n, tokens, n === 4 ? 1 : 3)
      if (n === 1) {
        base = r.engine
      }
      threads.push({ name: `tokens/s, ${n} thread${n > 1 ? 's' : ''} (small, ${tokens} tokens)`, value: r.engine, unit: 'tok/s', baseline: { name: '1 thread', value: base }, goal: 'best → DEFAULT_THREADS' })
    }

    printFigures(`inference: engine vs node-llama-cpp (gpu: ${String(llama.gpu)})`, overhead)
    printFigures('inference: replay ÷ generation', replay)
    printFigures('inference: threads', threads)
    printFigures('inference: model load', load)
  } finally {
    await disposeSharedLlamas()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
