/**
 * A miner's generation parameters and its runnability check, on the real
 * engine with the generated `tiny` model: a sampled task without a seed gets
 * the seed every node derives from the chain's seed of the task, so two
 * miners sample the same output and the oracle's replay accepts it; a task
 * that cannot fit the context is refused with its figures.
 */
import { expect } from 'aegir/chai'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { replayCheck } from '../../node/inference/replay.ts'
import { TaskNotRunnableError, checkRunnable, generationParams } from '../../node/roles/miner/generation.ts'
import { Decline } from '../../protocols/messages/index.ts'
import { samplingSeed } from '../../protocols/selection/index.ts'
import { modelDir, prompts } from '../inference/fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { TaskParams } from '../../protocols/messages/index.ts'
import type { ModelDir } from '../inference/fixtures.ts'

const chainSeed = Uint8Array.from({ length: 32 }, (_, i) => i * 7)
const params = (over: Partial<TaskParams> = {}): TaskParams => ({ modelId: 'm', maxTokens: 16, temperature: 0, topP: 0, topK: 0, seed: 0n, stop: [], ...over })

describe('miner generation: parameters, sampling seeds, runnability', function () {
  this.timeout(120_000)
  let models: ModelDir
  let a: LlamaInferenceEngine
  let b: LlamaInferenceEngine

  before(async () => {
    models = await modelDir()
    const llama = await getSharedLlama(false)
    // two engines, as two miners of the model have; the tiny model's context is 512 tokens
    a = await createInferenceEngine({ modelPath: await models.model('tiny', 1), llama, sequences: 2 })
    b = await createInferenceEngine({ modelPath: await models.model('tiny', 1), llama, sequences: 1 })
  })

  after(async () => {
    await a?.close()
    await b?.close()
    await disposeSharedLlamas()
    await models?.cleanup()
  })

  it('a sampled task without a seed gets the seed derived from the chain\'s seed and the task id', () => {
    const sampled = generationParams({ taskId: 5n, seed: chainSeed, params: params({ temperature: 1 }) })
    expect(sampled.seed).to.equal(samplingSeed(chainSeed, 5n))
    expect(sampled.seed).to.be.within(0, 2 ** 32 - 1)
    // another task samples differently
    expect(generationParams({ taskId: 6n, seed: chainSeed, params: params({ temperature: 1 }) }).seed).to.not.equal(sampled.seed)
    // the submitter's seed wins; greedy tasks need none
    expect(generationParams({ taskId: 5n, seed: chainSeed, params: params({ temperature: 1, seed: 99n }) }).seed).to.equal(99)
    expect(generationParams({ taskId: 5n, seed: chainSeed, params: params() }).seed).to.equal(undefined)
    // no chain seed in the announcement: none to derive, and the task cannot run sampled
    const none = generationParams({ taskId: 5n, params: params({ temperature: 1 }) })
    expect(none.seed).to.equal(undefined)
    const err = (() => { try { checkRunnable(a, 'hi', none) } catch (e) { return e as TaskNotRunnableError } })()
    expect(err?.name).to.equal('TaskNotRunnableError')
    expect(err?.reason).to.equal(Decline.Reason.INVALID_PARAMS)
    expect(err?.message).to.equal('seed: deterministic sampling with temperature > 0 needs a seed')
  })

  it('two miners sample the same tokens at temperature 1 with the derived seed, and the replay accepts them', async () => {
    const list = prompts(20, 3)
    let differ = 0
    for (let i = 0; i < list.length; i++) {
      const p = generationParams({ taskId: BigInt(i + 1), seed: chainSeed, params: params({ temperature: 1, maxTokens: 16 }) })
      const [x, y] = await Promise.all([a.complete(list[i], p), b.complete(list[i], p)])
      expect(y.tokens, list[i]).to.deep.equal(x.tokens)
      const greedy = await a.complete(list[i], { maxTokens: 16, deterministic: true })
      differ += greedy.tokens.join() === x.tokens.join() ? 0 : 1
      const verdict = await replayCheck(a, { prompt: list[i], params: p, output: x.tokens, finishReason: x.finishReason })
      expect(verdict.valid, `${list[i]}: ${verdict.reason} ${JSON.stringify(verdict.evidence)}`).to.equal(true)
    }
    // sampling did sample: most outputs are not the greedy ones
    expect(differ).to.be.greaterThan(list.length / 2)
  })

  it('a task too long for the context is refused with its figures', () => {
    const p = generationParams({ taskId: 1n, seed: chainSeed, params: params({ maxTokens: 64 }) })
    const prompt = 'the man said that water was cold '.repeat(60)
    const promptTokens = a.tokenizePrompt(prompt).length
    expect(promptTokens + 64).to.be.greaterThan(512)
    const err = (() => { try { checkRunnable(a, prompt, p) } catch (e) { return e as TaskNotRunnableError } })()
    expect(err?.reason).to.equal(Decline.Reason.CONTEXT_OVERFLOW)
    expect(err?.promptTokens).to.equal(promptTokens)
    expect(err?.contextTokens).to.equal(512)
    expect(err?.message).to.equal(`the prompt is ${promptTokens} tokens and max_tokens is 64: the task needs ${promptTokens + 64} tokens of context, the model has 512`)
    expect(checkRunnable(a, 'hi', p)).to.equal(a.tokenizePrompt('hi').length)
  })
})
