import { expect } from 'aegir/chai'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { endOfGenerationTokens, replayCheck } from '../../node/inference/replay.ts'
import { modelDir, prompts } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { Token } from 'node-llama-cpp'

describe('inference/replay: the end of an eos output', function () {
  this.timeout(120_000)
  let models: ModelDir
  let engine: LlamaInferenceEngine

  before(async () => {
    models = await modelDir()
    engine = await createInferenceEngine({ modelPath: await models.model('tiny', 1), llama: await getSharedLlama(false), contextSize: 256, sequences: 1 })
  })

  after(async () => {
    await engine?.close()
    await disposeSharedLlamas()
    await models.cleanup()
  })

  it('knows every end-of-generation token of the model (EOS and the chat template\'s end of turn)', () => {
    const eog = endOfGenerationTokens(engine)
    expect(eog).to.include(engine.model.tokens.eos)
    expect(eog).to.include(engine.model.tokens.eot)
    expect(eog.length).to.equal(2)
  })

  it('scores the end against the best of the model\'s end-of-generation tokens, not EOS alone', async () => {
    const eog = endOfGenerationTokens(engine)
    let eotBest = 0
    for (const p of prompts(40, 13)) {
      const input = { messages: [{ role: 'user' as const, content: p }] }
      const out = (await engine.complete(input, { maxTokens: 6 })).tokens
      const v = await replayCheck(engine, { prompt: input, params: { maxTokens: 6 }, output: out, finishReason: 'eos' })
      // the logits of every end token right after the output, read independently
      const all = [...engine.renderPrompt(input).tokens, ...out]
      const logits = await engine.withSequence(undefined, async (seq) => {
        const res = await seq.controlledEvaluate(all.map((t, i) => i < all.length - 1 ? t as Token : [t as Token, { generateNext: { logits: { filter: { tokens: eog as Token[] } } } }]))
        return res[all.length - 1]?.next.logits as Map<number, number>
      })
      const best = eog.reduce((a, b) => (logits.get(b) as number) > (logits.get(a) as number) ? b : a)
      expect(v.end?.claimed).to.equal(best)
      // the two passes batch differently: equal up to float noise
      expect(v.end?.claimedLogit).to.be.closeTo(logits.get(best) as number, 1e-4)
      if (best !== engine.model.tokens.eos) {
        eotBest++
      }
    }
    // the case the EOS-only scoring got wrong occurs in this sample
    expect(eotBest).to.be.greaterThan(0)
  })
})
