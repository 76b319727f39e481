import { expect } from 'aegir/chai'
import { DEFAULT_REPLAY_MAX_LOGIT_GAP, DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP } from '../../node/inference/constants.ts'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { DEFAULT_REPLAY_POLICY, replayCheck } from '../../node/inference/replay.ts'
import { modelDir, prompts } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { GenerationResult, InferenceEngineInit, LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { ReplayResult } from '../../node/inference/replay.ts'
import type { ReplayPolicy } from '../../protocols/replay/index.ts'

const HONEST_RUNS = 1000
const ATTACK_RUNS = 200
const MAX_TOKENS = 12

/** The oracle's default policy (strict band, near-tie band and budget from node/inference/constants.ts). */
const policy: ReplayPolicy = { ...DEFAULT_REPLAY_POLICY, maxEvidence: 4 }

describe('inference/replay', function () {
  this.timeout(300_000)
  let models: ModelDir
  let engine: LlamaInferenceEngine
  let other: LlamaInferenceEngine
  const honest: Array<{ prompt: string, result: GenerationResult }> = []

  before(async () => {
    models = await modelDir()
    const llama = await getSharedLlama(false)
    engine = await createInferenceEngine({ modelPath: await models.model('tiny', 1), llama, contextSize: 128, sequences: 2 })
    other = await createInferenceEngine({ modelPath: await models.model('tiny', 2), llama, contextSize: 128, sequences: 1 })
    const list = prompts(HONEST_RUNS)
    const run = async (p: string): Promise<GenerationResult> => engine.complete(p, { maxTokens: MAX_TOKENS })
    for (let i = 0; i < list.length; i += 2) {
      const pair = list.slice(i, i + 2)
      const results = await Promise.all(pair.map(run))
      pair.forEach((prompt, j) => honest.push({ prompt, result: results[j] }))
    }
  })

  after(async () => {
    await engine?.close()
    await other?.close()
    await disposeSharedLlamas()
    await models.cleanup()
  })

  async function check (prompt: string, output: number[], finishReason: GenerationResult['finishReason'], maxTokens = MAX_TOKENS): Promise<ReplayResult> {
    return replayCheck(engine, { prompt, params: { maxTokens }, output, finishReason, policy })
  }

  it(`gives no false positive over ${HONEST_RUNS} honest outputs, with honest drift far below the tolerance`, async () => {
    let invalid = 0
    let maxGap = 0
    for (const { prompt, result } of honest) {
      const v = await check(prompt, result.tokens, result.finishReason)
      if (!v.valid) {
        invalid++
      }
      maxGap = Math.max(maxGap, v.maxGap)
    }
    expect(invalid).to.equal(0)
    // calibration: on one engine the strict band leaves ≥ 100× headroom over what honest runs showed
    expect(maxGap).to.be.below(DEFAULT_REPLAY_MAX_LOGIT_GAP / 100)
  })

  it(`catches ≥ 99 % of ${ATTACK_RUNS} outputs from a different model`, async () => {
    let caught = 0
    for (const { prompt } of honest.slice(0, ATTACK_RUNS)) {
      const r = await other.complete(prompt, { maxTokens: MAX_TOKENS })
      const v = await check(prompt, r.tokens, r.finishReason)
      if (!v.valid) {
        caught++
        expect(v.reason).to.equal('token-mismatch')
        expect(v.evidence[0].logitGap).to.be.greaterThan(policy.nearTieLogitGap)
        expect(v.evidence[0].severity).to.equal('outside')
      }
    }
    expect(caught / ATTACK_RUNS).to.be.at.least(0.99)
  })

  it(`catches ≥ 99 % of ${ATTACK_RUNS} outputs with one tampered token, and points at it`, async () => {
    let caught = 0
    let pointed = 0
    let s = 99
    const rand = (n: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s % n }
    for (const { prompt, result } of honest.slice(0, ATTACK_RUNS)) {
      const out = [...result.tokens]
      const at = rand(out.length)
      let t = 3 + rand(1000)
      if (t === out[at]) {
        t++
      }
      out[at] = t
      const v = await check(prompt, out, result.finishReason)
      if (!v.valid) {
        caught++
        if (v.evidence[0].index === at) {
          pointed++
        }
      }
    }
    expect(caught / ATTACK_RUNS).to.be.at.least(0.99)
    expect(pointed).to.equal(caught)
  })

  it('catches truncated and extended outputs', async () => {
    let caught = 0
    let total = 0
    for (const { prompt, result } of honest.slice(0, 100)) {
      const cut = result.tokens.slice(0, -3)
      for (const v of [
        await check(prompt, cut, 'length'), // stopped early, claims max tokens
        await check(prompt, cut, 'eos'), // claims the model ended there
        await check(prompt, [...result.tokens, ...result.tokens.slice(0, 2)], 'length'), // longer than max tokens
        await check(prompt, [...result.tokens.slice(0, -2), 17, 42], 'length') // last tokens made up
      ]) {
        total++
        if (!v.valid) {
          caught++
        }
      }
    }
    expect(caught / total).to.be.at.least(0.99)
    const v = await check(honest[0].prompt, honest[0].result.tokens.slice(0, -3), 'length')
    expect(v.reason).to.equal('truncated')
    const e = await check(honest[0].prompt, [...honest[0].result.tokens, 5], 'length')
    expect(e.reason).to.equal('extended')
  })

  it('accepts an honest output ended by a stop sequence and rejects a claimed stop that is not there', async () => {
    const free = await engine.complete('the water is hot', { maxTokens: 30 })
    const stop = free.text.slice(15, 18)
    const r = await engine.complete('the water is hot', { maxTokens: 30, stop: [stop] })
    expect(r.finishReason).to.equal('stop')
    const ok = await replayCheck(engine, { prompt: 'the water is hot', params: { maxTokens: 30, stop: [stop] }, output: r.tokens, finishReason: 'stop', policy })
    expect(ok.valid).to.equal(true)
    const bad = await replayCheck(engine, { prompt: 'the water is hot', params: { maxTokens: 30, stop: [stop] }, output: r.tokens.slice(0, -1), finishReason: 'stop', policy })
    expect(bad.reason).to.equal('truncated')
  })

  it('accepts honest sampled outputs within top-k and rejects tokens outside it', async () => {
    const params = { maxTokens: MAX_TOKENS, temperature: 0.8, topK: 5, seed: 7 }
    let invalid = 0
    for (const { prompt } of honest.slice(0, 50)) {
      const r = await engine.complete(prompt, params)
      const v = await replayCheck(engine, { prompt, params, output: r.tokens, finishReason: r.finishReason, policy })
      if (!v.valid) {
        invalid++
      }
    }
    expect(invalid).to.equal(0)
    // the greedy output of another model is rarely inside this model's top 5 everywhere
    let caught = 0
    for (const { prompt } of honest.slice(0, 50)) {
      const r = await other.complete(prompt, { maxTokens: MAX_TOKENS })
      const v = await replayCheck(engine, { prompt, params, output: r.tokens, finishReason: r.finishReason, policy })
      if (!v.valid) {
        caught++
      }
    }
    expect(caught / 50).to.be.at.least(0.98)
  })

  it('accepts honest samples at temperature 0.8 whatever their seed, and rejects an unrelated output', async () => {
    // no top-k given: the sampler's defaults (node-llama-cpp: top-k 40, top-p 0.95), as on the miner
    const params = { maxTokens: 48, temperature: 0.8 }
    const zs: number[] = []
    for (const [i, { prompt }] of honest.slice(0, 40).entries()) {
      const r = await engine.complete(prompt, { ...params, seed: 1000 + i })
      const v = await replayCheck(engine, { prompt, params, output: r.tokens, finishReason: r.finishReason, policy })
      expect(v.reason, `honest sample ${i}: z ${v.sampleZ}`).to.equal('valid')
      zs.push(v.sampleZ ?? NaN)
    }
    // the z of honest samples is centred on 0 with unit spread, far below the limit
    const mean = zs.reduce((a, b) => a + b, 0) / zs.length
    expect(Math.abs(mean)).to.be.below(0.7)
    expect(Math.max(...zs)).to.be.below(policy.maxSampleZ / 2)
    // the same model's sample for another prompt, and plain English text: tokens this prompt's sampler could not draw
    let caught = 0
    for (const [i, { prompt }] of honest.slice(0, 40).entries()) {
      const r = await engine.complete(honest[(i + 1) % 40].prompt, { ...params, seed: 2000 + i })
      const v = await replayCheck(engine, { prompt, params: { ...params, maxTokens: r.tokens.length }, output: r.tokens, finishReason: 'length', policy })
      if (!v.valid) {
        caught++
      }
    }
    expect(caught).to.equal(40)
    const english = engine.tokenizePrompt('The river was calm that morning, and the people of the town walked along it to the market.').slice(0, 20)
    const v = await replayCheck(engine, { prompt: honest[0].prompt, params: { ...params, maxTokens: english.length }, output: english, finishReason: 'length', policy })
    expect(v.reason).to.equal('token-mismatch')
  })
})

describe('inference/replay: engine settings and cheats (small preset)', function () {
  this.timeout(300_000)
  const RUNS = 24
  const TOKENS = 48
  let models: ModelDir
  let replayer: LlamaInferenceEngine
  const list = prompts(RUNS, 13)

  before(async () => {
    models = await modelDir()
    replayer = await createInferenceEngine({ modelPath: await models.model('small', 1), llama: await getSharedLlama(false), contextSize: 256, sequences: 1 })
  })

  after(async () => {
    await replayer?.close()
    await disposeSharedLlamas()
    await models.cleanup()
  })

  async function pathOf (preset: 'tiny' | 'small', seed: number): Promise<string> {
    return models.model(preset, seed)
  }

  async function outputsOf (modelPath: string, init: Partial<InferenceEngineInit> = {}): Promise<Array<{ prompt: string, result: GenerationResult }>> {
    const engine = await createInferenceEngine({ modelPath, llama: await getSharedLlama(false), contextSize: 256, sequences: 1, ...init })
    try {
      const out = []
      for (const prompt of list) {
        out.push({ prompt, result: await engine.complete(prompt, { maxTokens: TOKENS }) })
      }
      return out
    } finally {
      await engine.close()
    }
  }

  async function verdicts (outputs: Array<{ prompt: string, result: GenerationResult }>): Promise<ReplayResult[]> {
    const out = []
    for (const { prompt, result } of outputs) {
      out.push(await replayCheck(replayer, { prompt, params: { maxTokens: TOKENS }, output: result.tokens, finishReason: result.finishReason }))
    }
    return out
  }

  for (const [name, init] of [['flash attention on', { flashAttention: true }], ['a F32 KV cache', { kvCacheType: 'F32' }]] as const) {
    it(`passes every honest output generated with ${name} (replayed with the defaults)`, async () => {
      const vs = await verdicts(await outputsOf(await pathOf('small', 1), init))
      expect(vs.filter(v => !v.valid).map(v => v.reason)).to.deep.equal([])
      expect(Math.max(...vs.map(v => v.maxGap))).to.be.below(DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP)
    })
  }

  for (const [name, preset, seed] of [['another model (seed 2)', 'small', 2], ['the smaller preset (tiny) under the small model\'s id', 'tiny', 1]] as const) {
    it(`fails every output of ${name} with a position outside the near-tie band`, async () => {
      const outputs = await outputsOf(await pathOf(preset, seed))
      const vs = await verdicts(outputs)
      vs.forEach((v, i) => {
        // an empty output (the model ended at once) is judged at its end-of-text position
        expect(v.reason).to.equal(outputs[i].result.tokens.length > 0 ? 'token-mismatch' : 'eos-mismatch')
        expect(v.evidence[0].severity).to.equal('outside')
        expect(v.evidence[0].logitGap).to.be.greaterThan(DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP)
      })
    })
  }
})
