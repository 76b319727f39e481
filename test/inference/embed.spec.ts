import { expect } from 'aegir/chai'
import { cosineSimilarity, createInferenceEngine, embeddingMismatch, EMBEDDING_REPLAY_MIN_COSINE, modelEmbedder } from '../../node/inference/index.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { embeddingOutput, embeddingReplay } from '../../node/roles/shared/embedding-task.ts'
import { Decline } from '../../protocols/messages/index.ts'
import { modelDir, prompts } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'

describe('inference: embedding tasks and their replay', function () {
  this.timeout(120_000)
  let models: ModelDir
  let engine: LlamaInferenceEngine
  let other: LlamaInferenceEngine
  const texts = prompts(8, 21)

  before(async () => {
    models = await modelDir()
    const llama = await getSharedLlama(false)
    engine = await createInferenceEngine({ modelPath: await models.model('tiny', 1), llama, contextSize: 128, sequences: 1 })
    other = await createInferenceEngine({ modelPath: await models.model('tiny', 2), llama, contextSize: 128, sequences: 1 })
  })

  after(async () => {
    await engine?.close()
    await other?.close()
    await disposeSharedLlamas()
    await models.cleanup()
  })

  it('an honest output replays exactly (cosine 1); another model\'s vectors, another text\'s, a wrong count and generated text fail', async () => {
    const honest = await embeddingOutput(engine, { embed: texts }, '1', engine.modelId)
    expect(honest.tokens).to.deep.equal([])
    expect(honest.embeddings).to.have.length(texts.length)
    expect(honest.promptTokens).to.be.greaterThan(texts.length)
    // a second computation is bit-identical (what lets redundant miners agree by CID)
    const again = await embeddingOutput(engine, { embed: texts }, '1', engine.modelId)
    expect(again.embeddings).to.deep.equal(honest.embeddings)
    expect(await embeddingReplay(engine, { embed: texts }, honest)).to.equal(undefined)

    const fromOther = await embeddingOutput(other, { embed: texts }, '1', engine.modelId)
    let best = -1
    for (let i = 0; i < texts.length; i++) {
      best = Math.max(best, cosineSimilarity((honest.embeddings as number[][])[i], (fromOther.embeddings as number[][])[i]))
    }
    // the bound sits far above what another model gives (printed for the constant's comment)
    process.stdout.write(`      largest cosine between the two models' vectors of one text: ${best.toFixed(4)}\n`)
    expect(best).to.be.lessThan(EMBEDDING_REPLAY_MIN_COSINE)
    expect(await embeddingReplay(engine, { embed: texts }, fromOther)).to.match(/^vector 0 has cosine/)

    const shuffled = { ...honest, embeddings: [...(honest.embeddings as number[][])].reverse() }
    expect(await embeddingReplay(engine, { embed: texts }, shuffled)).to.match(/has cosine/)
    expect(await embeddingReplay(engine, { embed: texts }, { ...honest, embeddings: honest.embeddings?.slice(1) })).to.equal(`${texts.length - 1} vectors for ${texts.length} texts`)
    expect(await embeddingReplay(engine, { embed: texts }, { ...honest, text: 'x' })).to.equal('an embedding output holds generated text')
    expect(await embeddingMismatch(await modelEmbedder(engine), ['a'], [[1, Number.NaN]])).to.match(/finite numbers/)
  })

  it('declines a text longer than the embedding context instead of cutting it', async () => {
    const max = (await modelEmbedder(engine)).maxTokens
    const err = await embeddingOutput(engine, { embed: ['ok', 'word '.repeat(max * 2)] }, '1', engine.modelId).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('TaskNotRunnableError')
    expect(err?.reason).to.equal(Decline.Reason.CONTEXT_OVERFLOW)
    expect(err?.message).to.match(/^text 1 is \d+ tokens/)
  })
})
