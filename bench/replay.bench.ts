/**
 * Replay verdict benchmark (`npm run bench -- replay`): honest outputs of the
 * generated small and medium presets, generated on one engine and replayed
 * with `replayCheck` on another (the same settings; flash attention on vs
 * off; KV cache F32 vs F16; on a GPU machine also CPU → GPU and GPU → CPU),
 * against cheats (another model, the smaller preset under the task's model
 * id, a q8_0 copy of the same weights, truncated and padded outputs). Prints
 * false positives and detection as N/M, the per-position gap distribution of
 * each class against the bands, and replay time against generation and the
 * prefill floor with the per-position fetch cost before and after.
 *
 * Options (`npm run bench -- replay --record-fixture f.json`, or to this file):
 * `--record-fixture <file>` writes the medium preset's honest outputs of the
 * backend's own pair as a replay fixture; `--quick` runs a quarter of the
 * outputs (a smoke run).
 *
 * The engine takes the GPU when one is present (`gpu: 'auto'`); the header
 * names the backend and device.
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createInferenceEngine } from '../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../node/inference/llama.ts'
import { DEFAULT_REPLAY_POLICY, replayCheck, replayLogitsFilter } from '../node/inference/replay.ts'
import { logitGap } from '../protocols/replay/index.ts'
import { modelDir, prompts } from '../test/inference/fixtures.ts'
import { engineDevice, replayFixture } from '../test/inference/replay-fixture.ts'
import { median, prefillFloorMs } from './inference-timing.ts'
import { printFigures, printTable } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { InferenceEngineInit, LlamaInferenceEngine } from '../node/inference/engine.ts'
import type { PresetName, TensorTypeName } from '../node/inference/gguf/index.ts'
import type { ReplayResult } from '../node/inference/replay.ts'
import type { FinishReason } from '../protocols/replay/index.ts'
import type { Llama, Token } from 'node-llama-cpp'

const { values: opts } = parseArgs({ options: { 'record-fixture': { type: 'string' }, quick: { type: 'boolean', default: false } } })
const SCALE = opts.quick === true ? 0.25 : 1
const n = (x: number): number => Math.max(2, Math.round(x * SCALE))

/**
 * Outputs per class, sized so the whole run stays under ~10 minutes on the
 * 2-core dev machine (medium generates ~100 tokens/s and prefills ~150 tokens/s
 * on 1 thread there) with ≥ 200 honest outputs on the CPU.
 */
const PLAN: Record<'small' | 'medium', { smaller: PresetName, tokens: number, honest: number, cheat: number, q8: number, structural: number }> = {
  small: { smaller: 'tiny', tokens: 128, honest: n(48), cheat: n(24), q8: n(40), structural: n(32) },
  medium: { smaller: 'small', tokens: 128, honest: n(24), cheat: n(12), q8: n(24), structural: n(8) }
}
/** Outputs per model whose replay is timed against the prefill floor and the previous fetch. */
const TIMED = n(8)
const PROMPT_SEED = 31
/** Filler a padded output ends with (a frequent word). */
const PAD_TEXT = ' the'
const PAD_TOKENS = 8

interface Sample { prompt: string, maxTokens: number, tokens: number[], finishReason: FinishReason, genMs: number }
interface Row { model: string, kind: 'honest' | 'cheat', what: string, pair: string, judged: number, invalid: number, reasons: Map<string, number>, positions: number, zero: number, strict: number, tie: number, outside: number, maxGap: number, maxTies: number }

const bandOf = { strict: DEFAULT_REPLAY_POLICY.maxLogitGap, tie: DEFAULT_REPLAY_POLICY.nearTieLogitGap }

let promptCursor = 0
function nextPrompts (count: number): string[] {
  const all = prompts(promptCursor + count, PROMPT_SEED)
  promptCursor += count
  return all.slice(-count)
}

async function generate (engine: LlamaInferenceEngine, list: string[], maxTokens: number): Promise<Sample[]> {
  const out: Sample[] = []
  for (const prompt of list) {
    const t0 = performance.now()
    const r = await engine.complete(prompt, { maxTokens })
    out.push({ prompt, maxTokens, tokens: r.tokens, finishReason: r.finishReason, genMs: performance.now() - t0 })
  }
  return out
}

async function judge (row: Row, replayer: LlamaInferenceEngine, samples: Sample[]): Promise<Row> {
  for (const s of samples) {
    const v: ReplayResult = await replayCheck(replayer, { prompt: s.prompt, params: { maxTokens: s.maxTokens }, output: s.tokens, finishReason: s.finishReason })
    row.judged++
    if (!v.valid) {
      row.invalid++
      row.reasons.set(v.reason, (row.reasons.get(v.reason) ?? 0) + 1)
    }
    for (const p of v.positions) {
      const gap = Number.isFinite(p.claimedLogit) ? logitGap(p) : Infinity
      row.positions++
      if (gap === 0) {
        row.zero++
      } else if (gap <= bandOf.strict) {
        row.strict++
      } else if (gap <= bandOf.tie) {
        row.tie++
      } else {
        row.outside++
      }
    }
    row.maxGap = Math.max(row.maxGap, v.maxGap)
    row.maxTies = Math.max(row.maxTies, v.nearTies)
  }
  return row
}

function row (model: string, kind: Row['kind'], what: string, pair: string): Row {
  return { model, kind, what, pair, judged: 0, invalid: 0, reasons: new Map(), positions: 0, zero: 0, strict: 0, tie: 0, outside: 0, maxGap: 0, maxTies: 0 }
}

type LogitsFilter = ReturnType<typeof replayLogitsFilter>

/** controlledEvaluate of the same tokens with this logits filter at every output position, timed. */
async function fetchMs (engine: LlamaInferenceEngine, s: Sample, filter: (claimed: number) => LogitsFilter): Promise<number> {
  const prompt = engine.tokenizePrompt(s.prompt)
  const all = [...prompt, ...s.tokens] as Token[]
  const first = prompt.length - 1
  return engine.withSequence(undefined, async (seq) => {
    const t0 = performance.now()
    await seq.controlledEvaluate(all.map((t, i) => i < first || i >= all.length - 1 ? t : [t, { generateNext: { logits: { filter: filter(all[i + 1]) } } }]))
    return performance.now() - t0
  })
}

/** The fetch before: the claimed logit and the top 2 (node-llama-cpp sorts the whole vocabulary at each position for any includeTop). */
const previousFilter = (claimed: number): LogitsFilter => ({ tokens: [claimed as Token], includeTop: 2 })
/** The fetch now, as replayCheck does it for greedy tasks. */
const currentFilter = (claimed: number): LogitsFilter => replayLogitsFilter(claimed, 0)

/**
 * Replay time against generation and the prefill floor, and the per-position
 * fetch now and before, on the same tokens; each sample `reps` times, the
 * order of the two fetches alternating.
 */
async function timing (model: string, engine: LlamaInferenceEngine, samples: Sample[], reps = 1): Promise<BenchFigure[]> {
  const t: Record<'gen' | 'rep' | 'floor' | 'now' | 'before' | 'posNow' | 'posBefore', number[]> = { gen: [], rep: [], floor: [], now: [], before: [], posNow: [], posBefore: [] }
  for (const [i, s] of samples.flatMap(s => new Array<Sample>(reps).fill(s)).entries()) {
    const t0 = performance.now()
    await replayCheck(engine, { prompt: s.prompt, params: { maxTokens: s.maxTokens }, output: s.tokens, finishReason: s.finishReason })
    t.rep.push(performance.now() - t0)
    t.gen.push(s.genMs)
    const floor = await prefillFloorMs(engine, s.prompt, s.tokens)
    let now: number
    let before: number
    if (i % 2 === 0) {
      now = await fetchMs(engine, s, currentFilter)
      before = await fetchMs(engine, s, previousFilter)
    } else {
      before = await fetchMs(engine, s, previousFilter)
      now = await fetchMs(engine, s, currentFilter)
    }
    t.floor.push(floor)
    t.now.push(now)
    t.before.push(before)
    t.posNow.push((now - floor) * 1000 / Math.max(1, s.tokens.length))
    t.posBefore.push((before - floor) * 1000 / Math.max(1, s.tokens.length))
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)])) as Record<keyof typeof t, number>
  const tokens = Math.round(median(samples.map(s => s.tokens.length)))
  return [
    { name: `replay, replayCheck (${model}, ${tokens} tokens)`, value: m.rep, unit: 'ms', baseline: { name: 'generation', value: m.gen }, goal: '≤ 0.10 on a GPU' },
    { name: `prefill floor, no outputs (${model}, same tokens)`, value: m.floor, unit: 'ms', baseline: { name: 'generation', value: m.gen }, goal: 'lower bound' },
    { name: `replay ÷ prefill floor (${model})`, value: m.rep, unit: 'ms', baseline: { name: 'prefill floor', value: m.floor }, goal: '≤ 2' },
    { name: `evaluation with best + claimed logits, now (${model})`, value: m.now, unit: 'ms', baseline: { name: 'prefill floor', value: m.floor }, goal: '≤ 2' },
    { name: `evaluation with top 2 + claimed logits, before (${model})`, value: m.before, unit: 'ms', baseline: { name: 'prefill floor', value: m.floor }, goal: '–' },
    { name: `per-position fetch cost above the floor, now (${model})`, value: m.posNow, unit: 'µs/position', baseline: { name: 'before', value: m.posBefore }, goal: '< 1' }
  ]
}

function fmtGap (g: number): string {
  return Number.isFinite(g) ? g.toFixed(g >= 1 ? 1 : 4) : '∞'
}

async function main (): Promise<void> {
  const t0 = performance.now()
  const models = await modelDir()
  const llama = await getSharedLlama('auto')
  const cpu: Llama | undefined = llama.gpu === false ? undefined : await getSharedLlama(false)
  const engines: LlamaInferenceEngine[] = []
  const open = async (modelPath: string, init: Partial<InferenceEngineInit> = {}): Promise<LlamaInferenceEngine> => {
    const e = await createInferenceEngine({ modelPath, llama, contextSize: 1024, sequences: 1, ...init })
    engines.push(e)
    return e
  }
  const rows: Row[] = []
  const figures: BenchFigure[] = []
  let header = ''
  try {
    for (const preset of ['small', 'medium'] as const) {
      const plan = PLAN[preset]
      const path = await models.model(preset, 1)
      const replayer = await open(path)
      const { backend, device } = await engineDevice(replayer)
      header ||= `backend ${backend} (${device}), replayer: ${replayer.threads} thread(s), batch ${replayer.batchSize}, flash attention ${replayer.flashAttention ? 'on' : 'off'}`
      const be = backend
      const pairs: Array<{ name: string, gen: LlamaInferenceEngine, rep: LlamaInferenceEngine }> = [
        { name: `${be} → ${be}, same settings`, gen: replayer, rep: replayer },
        { name: `${be} flash attention on → off`, gen: await open(path, { flashAttention: true }), rep: replayer },
        { name: `${be} KV cache F32 → F16`, gen: await open(path, { kvCacheType: 'F32' }), rep: replayer }
      ]
      if (cpu != null) {
        const onCpu = await open(path, { llama: cpu })
        pairs.push({ name: `cpu → ${be}`, gen: onCpu, rep: replayer }, { name: `${be} → cpu`, gen: replayer, rep: onCpu })
      }
      let own: Sample[] = []
      for (const pair of pairs) {
        const samples = pair.gen === replayer && own.length > 0 ? own : await generate(pair.gen, nextPrompts(plan.honest), plan.tokens)
        if (pair.gen === replayer && own.length === 0) {
          own = samples
        }
        rows.push(await judge(row(preset, 'honest', 'honest', pair.name), pair.rep, samples))
      }
      if (preset === 'medium' && opts['record-fixture'] != null) {
        const fixture = await replayFixture(replayer, { preset, seed: 1 }, own.map(s => ({ prompt: s.prompt, params: { maxTokens: s.maxTokens }, tokens: s.tokens, finishReason: s.finishReason })))
        await writeFile(opts['record-fixture'], JSON.stringify(fixture) + '\n')
      }

      const cheats: Array<{ what: string, preset: PresetName, seed: number, type?: TensorTypeName, count: number }> = [
        { what: 'another model (same preset, seed 2)', preset, seed: 2, count: plan.cheat },
        { what: `smaller preset (${plan.smaller}) under the task's model id`, preset: plan.smaller, seed: 1, count: plan.cheat },
        { what: 'q8_0 copy of the same weights (seed 1)', preset, seed: 1, type: 'q8_0', count: plan.q8 }
      ]
      for (const c of cheats) {
        const gen = await open(await models.model(c.preset, c.seed, c.type))
        const samples = await generate(gen, nextPrompts(c.count), plan.tokens)
        rows.push(await judge(row(preset, 'cheat', c.what, `${be} → ${be}`), replayer, samples))
        await gen.close()
      }
      const base = own.slice(0, plan.structural).filter(s => s.tokens.length >= PAD_TOKENS * 2)
      const cut = (s: Sample): number[] => s.tokens.slice(0, Math.ceil(s.tokens.length * 0.75))
      const pad = replayer.tokenizePrompt(PAD_TEXT).at(-1) as number
      const structural: Array<[string, Sample[]]> = [
        ['truncated by a quarter, claims max tokens', base.map(s => ({ ...s, tokens: cut(s), finishReason: 'length' as const }))],
        ['truncated by a quarter, claims end of text', base.map(s => ({ ...s, tokens: cut(s), finishReason: 'eos' as const }))],
        [`padded: last ${PAD_TOKENS} tokens replaced by "${PAD_TEXT.trim()}"`, base.map(s => ({ ...s, tokens: [...s.tokens.slice(0, -PAD_TOKENS), ...new Array<number>(PAD_TOKENS).fill(pad)] }))],
        [`padded beyond max tokens (+${PAD_TOKENS} tokens)`, base.map(s => ({ ...s, tokens: [...s.tokens, ...new Array<number>(PAD_TOKENS).fill(pad)] }))]
      ]
      for (const [what, samples] of structural) {
        rows.push(await judge(row(preset, 'cheat', what, `${be} → ${be}`), replayer, samples))
      }
      figures.push(...await timing(preset, replayer, own.slice(0, TIMED)))
      for (const e of engines.splice(0)) {
        await e.close()
      }
    }
    // the tiny preset has the same vocabulary (the same per-position fetch) and a prefill floor
    // a fraction of it, as every preset has on a GPU: the per-position cost shows there
    const tiny = await open(await models.model('tiny', 1))
    figures.push(...await timing('tiny', tiny, await generate(tiny, nextPrompts(TIMED), PLAN.small.tokens), 4))

    const p = DEFAULT_REPLAY_POLICY
    process.stdout.write(`${header}\npolicy: strict band ${p.maxLogitGap}, near-tie band ${p.nearTieLogitGap}, near ties allowed ${p.maxNearTies} + 1 per ${p.nearTieTokensPerExtra} tokens, outside allowed ${p.maxViolations}\n\n`)
    printTable('replay verdicts (greedy)', ['model', 'outputs', 'generated → replayed', 'verdict', 'largest gap', 'max near ties / output', 'reasons'], rows.map(r => [
      r.model, r.what, r.pair, `${r.kind === 'honest' ? 'false positives' : 'detected'} ${r.invalid}/${r.judged}`,
      fmtGap(r.maxGap), String(r.maxTies), [...r.reasons].map(([k, v]) => `${k} ${v}`).join(', ') || '–'
    ]))
    printTable(`per-position logit gaps (best − claimed) against the bands (strict ${bandOf.strict}, near tie ${bandOf.tie})`, ['model', 'outputs', 'generated → replayed', 'positions', 'gap 0', `(0, ${bandOf.strict}]`, `(${bandOf.strict}, ${bandOf.tie}]`, `> ${bandOf.tie}`], rows.map(r => [
      r.model, r.what, r.pair, String(r.positions), String(r.zero), String(r.strict), String(r.tie), String(r.outside)
    ]))
    const honest = rows.filter(r => r.kind === 'honest')
    const gapFigures: BenchFigure[] = []
    for (const model of ['small', 'medium']) {
      const largest = Math.max(...honest.filter(r => r.model === model).map(r => r.maxGap))
      gapFigures.push({ name: `largest honest gap (${model}, every pair)`, value: largest, unit: 'logits', baseline: { name: 'near-tie band', value: bandOf.tie }, goal: '< 1' })
      gapFigures.push({ name: `largest honest gap (${model}) against the strict band`, value: largest, unit: 'logits', baseline: { name: 'strict band', value: bandOf.strict }, goal: '–' })
    }
    const fp = honest.reduce((a, r) => a + r.invalid, 0)
    const total = honest.reduce((a, r) => a + r.judged, 0)
    printFigures(`honest outputs: false positives ${fp}/${total}`, gapFigures)
    printFigures('replay time (same tokens on both sides)', figures)
    process.stdout.write(`run time ${((performance.now() - t0) / 1000).toFixed(0)} s${opts['record-fixture'] != null ? `; fixture written to ${opts['record-fixture']}` : ''}\n`)
  } finally {
    for (const e of engines) {
      await e.close()
    }
    await disposeSharedLlamas()
    await models.cleanup()
  }
}

await main()
