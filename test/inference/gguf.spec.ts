import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { readGgufFileInfo } from 'node-llama-cpp'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { describeModel, generateModel, inspectGguf, modelIdOf, PRESETS, presetParameters, writeGguf } from '../../node/inference/gguf/index.ts'
import { disposeSharedLlamas } from '../../node/inference/llama.ts'
import { modelDir } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'

async function expectRejection (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err: any) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('inference/gguf generator', () => {
  let models: ModelDir

  before(async () => {
    models = await modelDir()
  })

  after(async () => {
    await disposeSharedLlamas()
    await models.cleanup()
  })

  it('writes byte-identical files for the same preset and seed, different ones for another seed', async () => {
    const a = join(models.dir, 'a.gguf')
    const b = join(models.dir, 'b.gguf')
    const c = join(models.dir, 'c.gguf')
    await generateModel(a, { preset: 'tiny', seed: 42 })
    await generateModel(b, { preset: 'tiny', seed: 42 })
    await generateModel(c, { preset: 'tiny', seed: 43 })
    expect(Buffer.compare(await readFile(a), await readFile(b))).to.equal(0)
    expect(await modelIdOf(a)).to.equal(await modelIdOf(b))
    expect(await modelIdOf(a)).to.not.equal(await modelIdOf(c))
    expect(await modelIdOf(a)).to.match(/^0x[0-9a-f]{64}$/)
  })

  it('keeps the tiny preset under 1 MB and parses back with node-llama-cpp\'s GGUF reader', async () => {
    const path = await models.model('tiny', 1)
    expect((await stat(path)).size).to.be.below(1024 * 1024)
    const info = await readGgufFileInfo(path, { readTensorInfo: true })
    expect(info.version).to.equal(3)
    const meta: any = info.metadata
    expect(meta.general.architecture).to.equal('llama')
    expect(meta.llama.embedding_length).to.equal(PRESETS.tiny.embedding)
    expect(meta.llama.block_count).to.equal(PRESETS.tiny.blocks)
    expect(meta.tokenizer.ggml.tokens).to.include('<0xE6>')
    expect(info.tensorInfo?.map(t => t.name)).to.include.members(['token_embd.weight', 'output.weight', 'blk.1.ffn_down.weight'])
    const summary = await inspectGguf(path)
    expect(summary.parameters).to.equal(presetParameters('tiny'))
    expect(summary.contextLength).to.equal(512)
  })

  it('writes F16 and Q8_0 variants that llama.cpp loads and runs', async () => {
    for (const type of ['f16', 'q8_0'] as const) {
      const path = await models.model('tiny', 1, type)
      const summary = await inspectGguf(path)
      expect(Object.keys(summary.tensorTypes)).to.include(type === 'f16' ? 'F16' : 'Q8_0')
      const engine = await createInferenceEngine({ modelPath: path, gpu: false, contextSize: 128, sequences: 1 })
      try {
        const r = await engine.complete('the water', { maxTokens: 8 })
        expect(r.tokens).to.have.length(8)
      } finally {
        await engine.close()
      }
    }
  })

  it('refuses a file with the wrong magic bytes, naming the problem', async () => {
    const path = join(models.dir, 'magic.gguf')
    const bytes = await readFile(await models.model('tiny', 1))
    bytes.write('GGML', 0)
    await writeFile(path, bytes)
    const err = await expectRejection(inspectGguf(path))
    expect(err.name).to.equal('GgufBadMagicError')
    const err2 = await expectRejection(createInferenceEngine({ modelPath: path, gpu: false }))
    expect(err2.name).to.equal('GgufBadMagicError')
  })

  it('refuses truncated files, in the header and in the tensor data', async () => {
    const bytes = await readFile(await models.model('tiny', 1))
    for (const cut of [3, 200, 5000, bytes.length - 64]) {
      const path = join(models.dir, `trunc-${cut}.gguf`)
      await writeFile(path, bytes.subarray(0, cut))
      const err = await expectRejection(createInferenceEngine({ modelPath: path, gpu: false }))
      expect(err.name, `cut at ${cut}`).to.equal('GgufTruncatedError')
    }
  })

  it('refuses a file that lacks a tensor the architecture needs, naming the tensor', async () => {
    const path = join(models.dir, 'missing.gguf')
    const { metadata, tensors } = describeModel(PRESETS.tiny, 1, 'broken')
    await writeGguf(path, { metadata, tensors: tensors.filter(t => t.name !== 'blk.1.ffn_up.weight') })
    const err = await expectRejection(createInferenceEngine({ modelPath: path, gpu: false }))
    expect(err.name).to.equal('GgufMissingTensorError')
    expect(err.message).to.include('blk.1.ffn_up.weight')
  })

  it('refuses a missing file and a wrong tensor shape with typed errors', async () => {
    const err = await expectRejection(createInferenceEngine({ modelPath: join(models.dir, 'nope.gguf'), gpu: false }))
    expect(err.name).to.equal('ModelNotFoundError')
    const path = join(models.dir, 'shape.gguf')
    const { metadata, tensors } = describeModel(PRESETS.tiny, 1, 'broken')
    tensors[0].shape = [...tensors[0].shape].reverse()
    await writeGguf(path, { metadata, tensors })
    const err2 = await expectRejection(createInferenceEngine({ modelPath: path, gpu: false }))
    expect(err2.name).to.equal('ModelLoadError')
  })
})
