import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { cachedModel, devnetModel } from '../../node/devnet-model.ts'
import { inspectGguf } from '../../node/inference/index.ts'

describe('model cache (generated presets)', function () {
  let dir: string
  let before: string | undefined

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-model-cache-'))
    before = process.env.CORTENSOR_CACHE_DIR
    process.env.CORTENSOR_CACHE_DIR = dir
  })

  afterEach(async function () {
    if (before == null) {
      delete process.env.CORTENSOR_CACHE_DIR
    } else {
      process.env.CORTENSOR_CACHE_DIR = before
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('writes a preset once into the cache directory and reuses the file after', async function () {
    const lines: string[] = []
    const path = await cachedModel('tiny', (l) => { lines.push(l) })
    expect(path).to.equal(join(dir, 'models', 'cortensor-tiny-s1-r2.gguf'))
    expect(lines.some(l => l.includes('tiny preset'))).to.equal(true)
    const first = await stat(path)
    const summary = await inspectGguf(path)
    expect(summary.architecture).to.equal('llama')

    const again: string[] = []
    expect(await cachedModel('tiny', (l) => { again.push(l) })).to.equal(path)
    expect(again).to.deep.equal([])
    expect((await stat(path)).mtimeMs).to.equal(first.mtimeMs)
  })

  it('names the devnet model after its own preset, apart from the others', async function () {
    this.timeout(60_000)
    const lines: string[] = []
    const path = await devnetModel((l) => { lines.push(l) })
    expect(path).to.equal(join(dir, 'models', 'cortensor-small-s1-r2.gguf'))
    expect(lines[0]).to.match(/generating the devnet model \(small preset/)
    expect(await cachedModel('tiny', () => {})).to.not.equal(path)
  })
})
