/**
 * Which engine and embedder an oracle checks a task with: the ones of the
 * task's own model. The table only keys its entries by model id, so plain
 * objects carrying a model id stand in for the loaded engines and embedders
 * here; test/lifecycle/models.spec.ts replays real outputs of two models.
 */
import { expect } from 'aegir/chai'
import { OracleModels } from '../../node/roles/oracle/models.ts'
import type { Embedder, LlamaInferenceEngine } from '../../node/inference/index.ts'

const A = `0x${'aa'.repeat(32)}`
const B = `0x${'bb'.repeat(32)}`
const C = `0x${'cc'.repeat(32)}`
const engine = (modelId: string): LlamaInferenceEngine => ({ modelId }) as unknown as LlamaInferenceEngine
const embedder = (modelId: string): Embedder => ({ modelId }) as unknown as Embedder

describe('oracle models', function () {
  it('checks each task with its own model\'s engine and embedder; a model without an engine gets neither engine nor replay', function () {
    const [ea, eb] = [engine(A), engine(B)]
    const [ma, mb] = [embedder(A), embedder(B)]
    const models = new OracleModels({ modelIds: [C], engine: ea, engines: [eb], embedders: { [A]: ma, [B]: mb } })
    expect(models.ids).to.deep.equal([C, A, B])
    expect(models.for(A)).to.deep.equal({ engine: ea, embedder: ma })
    expect(models.for(B).engine).to.equal(eb)
    expect(models.for(B).embedder).to.equal(mb)
    // model ids are hex digests: their case does not matter
    expect(models.for(B.toUpperCase().replace('0X', '0x')).engine).to.equal(eb)
    expect(models.for(C)).to.deep.equal({ engine: undefined, embedder: undefined })
    expect(models.for(undefined)).to.deep.equal({ engine: undefined, embedder: undefined })
    expect([A, B, C].map(m => models.canReplay(m))).to.deep.equal([true, true, false])
  })

  it('embeds every model\'s outputs with the one embedder given for all (--embedding-model), unless the model has its own', function () {
    const shared = embedder(C)
    const own = embedder(B)
    const models = new OracleModels({ engines: [engine(A), engine(B)], embedder: shared, embedders: { [B]: own } })
    expect(models.ids).to.deep.equal([A, B])
    expect(models.for(A).embedder).to.equal(shared)
    expect(models.for(B).embedder).to.equal(own)
    expect(models.for(C)).to.deep.equal({ engine: undefined, embedder: shared })
  })

  it('refuses two engines of one model', function () {
    expect(() => new OracleModels({ engines: [engine(A), engine(A.toUpperCase().replace('0X', '0x'))] })).to.throw().with.property('name', 'DuplicateModelEngineError')
  })
})
