import { expect } from 'aegir/chai'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { GrammarWalk, taskGrammar } from '../../node/inference/grammar.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { endOfGenerationTokens, replayCheck } from '../../node/inference/replay.ts'
import { modelDir, prompts } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { ChatInput } from '../../protocols/prompt/index.ts'

const MAX_TOKENS = 120
/**
 * bounded everywhere (an enum, a boolean, an integer), so the generated model completes the value within
 * MAX_TOKENS; no free string: the generated model's byte tokens may spell invalid UTF-8 inside one
 */
const SCHEMA = { type: 'object', properties: { answer: { enum: ['yes', 'no'] }, ok: { type: 'boolean' }, score: { type: 'integer' } }, required: ['answer', 'ok', 'score'], additionalProperties: false }

function chat (content: string, schema: unknown = SCHEMA): ChatInput {
  return { messages: [{ role: 'user', content }], responseFormat: { type: 'json_schema', schema: JSON.stringify(schema) } }
}

/** What a schema-conforming value of SCHEMA looks like, checked by hand (no validator library in the project). */
function matchesSchema (value: any): boolean {
  return value != null && typeof value === 'object' && Object.keys(value).sort().join(',') === 'answer,ok,score' &&
    ['yes', 'no'].includes(value.answer) && typeof value.ok === 'boolean' && Number.isInteger(value.score)
}

describe('inference/grammar', function () {
  this.timeout(300_000)
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

  it('generates JSON that parses and matches the schema, and its replay passes', async () => {
    for (const p of prompts(6, 11)) {
      const result = await engine.complete(chat(p), { maxTokens: MAX_TOKENS })
      expect(result.finishReason, result.text).to.not.equal('length')
      const value = JSON.parse(result.text)
      expect(matchesSchema(value), result.text).to.equal(true)
      const verdict = await replayCheck(engine, { prompt: chat(p), params: { maxTokens: MAX_TOKENS }, output: result.tokens, finishReason: result.finishReason })
      expect(verdict.reason).to.equal('valid')
      expect(verdict.maxGap).to.equal(0)
    }
  })

  it('json_object output parses as a JSON object or is cut at max_tokens inside one', async () => {
    const input: ChatInput = { messages: [{ role: 'user', content: 'give me json' }], responseFormat: { type: 'json_object' } }
    const result = await engine.complete(input, { maxTokens: 40 })
    expect(result.text.startsWith('{')).to.equal(true)
    if (result.finishReason !== 'length') {
      expect(JSON.parse(result.text)).to.be.an('object')
    }
    const verdict = await replayCheck(engine, { prompt: input, params: { maxTokens: 40 }, output: result.tokens, finishReason: result.finishReason })
    expect(verdict.reason).to.equal('valid')
  })

  it('fails the replay of a claimed token the grammar forbids, even where the unconstrained model would pick it', async () => {
    const p = prompts(1, 3)[0]
    const honest = await engine.complete(chat(p), { maxTokens: MAX_TOKENS })
    // the same chat without the format: free text the model prefers, never a JSON object here
    const free = await engine.complete({ messages: chat(p).messages }, { maxTokens: MAX_TOKENS })
    expect(free.text.startsWith('{')).to.equal(false)
    const asJson = await replayCheck(engine, { prompt: chat(p), params: { maxTokens: MAX_TOKENS }, output: free.tokens, finishReason: free.finishReason })
    expect(asJson.valid).to.equal(false)
    expect(asJson.reason).to.equal('token-mismatch')
    expect(asJson.evidence[0].index).to.equal(0)
    expect(asJson.positions[0].claimedLogit).to.equal(-Infinity)
    // and the free text replays fine as the free-text task it is
    const asText = await replayCheck(engine, { prompt: { messages: chat(p).messages }, params: { maxTokens: MAX_TOKENS }, output: free.tokens, finishReason: free.finishReason })
    expect(asText.reason).to.equal('valid')
    // one token of the honest JSON swapped for a letter where the grammar wants a quote or a brace
    const tampered = [...honest.tokens]
    const brace = tampered.findIndex((t, i) => i > 0 && engine.detokenize([t]) === '"')
    tampered[brace] = engine.tokenizePrompt('x').at(-1) as number
    const v = await replayCheck(engine, { prompt: chat(p), params: { maxTokens: MAX_TOKENS }, output: tampered, finishReason: honest.finishReason })
    expect(v.valid).to.equal(false)
    expect(v.evidence.some(e => e.index === brace && e.logitGap === Infinity)).to.equal(true)
  })

  it('fails an output cut short of a complete value that claims to have ended', async () => {
    const p = prompts(1, 5)[0]
    const honest = await engine.complete(chat(p), { maxTokens: MAX_TOKENS })
    const cut = honest.tokens.slice(0, 3)
    const v = await replayCheck(engine, { prompt: chat(p), params: { maxTokens: MAX_TOKENS }, output: cut, finishReason: 'eos' })
    expect(v.reason).to.equal('eos-mismatch')
  })

  it('refuses sampled grammar tasks, naming temperature', async () => {
    const err = await engine.complete(chat('hi'), { maxTokens: 8, temperature: 0.5, seed: 1 }).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('InvalidParamsError')
    expect(err?.message).to.match(/temperature/)
    const rerr = await replayCheck(engine, { prompt: chat('hi'), params: { maxTokens: 8, temperature: 0.5 }, output: [], finishReason: 'length' }).then(() => undefined, (e: any) => e)
    expect(rerr?.name).to.equal('InvalidParamsError')
  })

  it('walks tokens through the grammar with node-llama-cpp\'s grammar state', async () => {
    const g = await taskGrammar(engine.llama, chat('x'))
    expect(g?.stop).to.deep.equal(['\n\n\n\n'])
    const walk = GrammarWalk.of(engine.llama, engine.model, g as any)
    const brace = engine.tokenizePrompt('{').at(-1) as number
    const x = engine.tokenizePrompt('x').at(-1) as number
    expect(walk.allows(brace)).to.equal(true)
    expect(walk.allows(x)).to.equal(false)
    expect(endOfGenerationTokens(engine).some(t => walk.allows(t))).to.equal(false)
    walk.accept(brace)
    expect(walk.allows(brace)).to.equal(false)
  })
})
