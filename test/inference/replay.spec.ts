import { expect } from 'aegir/chai'
import { DEFAULT_REPLAY_MAX_LOGIT_GAP } from '../../node/inference/constants.ts'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { replayCheck } from '../../node/inference/replay.ts'
import { judgeReplay } from '../../protocols/replay/index.ts'
import { modelDir, prompts } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { GenerationResult, LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { ReplayResult } from '../../node/inference/replay.ts'
import type { PositionScore, ReplayPolicy } from '../../protocols/replay/index.ts'

const HONEST_RUNS = 1000
const ATTACK_RUNS = 200
const MAX_TOKENS = 12

const policy: ReplayPolicy = { maxLogitGap: 0.02, minRelativeProbability: 1e-9, maxViolations: 0, maxEvidence: 4 }

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
      maxGap = Math.max(maxGap, v.maxPassingGap)
    }
    expect(invalid).to.equal(0)
    // calibration: the default tolerance leaves ≥ 100× headroom over what honest runs showed
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
        expect(v.evidence[0].logitGap).to.be.greaterThan(policy.maxLogitGap)
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

  it('judges synthetic scores with the pure policy (shared with the simulator)', () => {
    const pos = (index: number, claimedLogit: number): PositionScore => ({ index, claimed: 5, claimedLogit, topTokens: [9, 5], topLogits: [10, claimedLogit] })
    const claim = { outputLength: 2, maxTokens: 2, finishReason: 'length' as const }
    const greedy = { temperature: 0 }
    expect(judgeReplay({ positions: [pos(0, 10), pos(1, 9.99)], sampling: greedy, policy, claim }).valid).to.equal(true)
    const bad = judgeReplay({ positions: [pos(0, 10), pos(1, 9.5)], sampling: greedy, policy, claim })
    expect(bad.reason).to.equal('token-mismatch')
    expect(bad.evidence).to.deep.equal([{ index: 1, claimed: 5, expected: 9, logitGap: 0.5, rank: 2 }])
    // at temperature 1 a gap of 0.5 is an ordinary sample
    expect(judgeReplay({ positions: [pos(0, 10), pos(1, 9.5)], sampling: { temperature: 1 }, policy, claim }).valid).to.equal(true)
    // but not outside top-1 when topK = 1
    expect(judgeReplay({ positions: [pos(0, 10), pos(1, 9.5)], sampling: { temperature: 1, topK: 1 }, policy, claim }).valid).to.equal(false)
    expect(judgeReplay({ positions: [pos(0, 10)], sampling: greedy, policy, claim: { ...claim, outputLength: 1 } }).reason).to.equal('truncated')
    expect(judgeReplay({ positions: [pos(0, 10)], sampling: greedy, policy, claim: { ...claim, outputLength: 1, finishReason: 'eos' } }).reason).to.equal('eos-mismatch')
    expect(judgeReplay({ positions: [pos(0, 10)], sampling: greedy, policy, claim: { ...claim, outputLength: 1, finishReason: 'eos' }, end: pos(1, 10) }).valid).to.equal(true)
    expect(judgeReplay({ positions: [pos(0, 10)], sampling: greedy, policy: { ...policy, maxViolations: 1 }, claim: { ...claim, outputLength: 1, maxTokens: 1 } }).valid).to.equal(true)
  })
})
