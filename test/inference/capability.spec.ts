import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { capabilityFingerprint, createInferenceEngine, measureCapability, throttleEngine } from '../../node/inference/index.ts'
import { modelDir } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/index.ts'

describe('inference/capability: the miner\'s start-up benchmark', function () {
  this.timeout(120_000)
  let models: ModelDir
  let engine: LlamaInferenceEngine
  let dir: string

  before(async () => {
    models = await modelDir()
    engine = await createInferenceEngine({ modelPath: await models.model('tiny', 1), threads: 1, sequences: 2 })
    dir = await mkdtemp(join(tmpdir(), 'cortensor-capability-'))
  })

  after(async () => {
    await engine?.close()
    await models?.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('measures tokens/s and time to first token, with the hardware node-llama-cpp reports', async () => {
    const c = await measureCapability(engine, { dir })
    expect(c.cached).to.equal(false)
    expect(c.modelId).to.equal(engine.modelId)
    expect(c.tokens).to.be.greaterThan(1)
    expect(c.tokensPerSecond).to.be.greaterThan(0)
    expect(c.firstTokenMs).to.be.greaterThan(0)
    expect(c.facts.backend).to.equal(engine.llama.gpu === false ? 'cpu' : String(engine.llama.gpu))
    expect(c.facts.threads).to.equal(1)
    expect(c.facts.sequences).to.equal(2)
    expect(c.fingerprint).to.equal(capabilityFingerprint(engine.modelId, c.facts))
  })

  it('reads the benchmark back from the cache for the same model and hardware', async () => {
    const first = await measureCapability(engine, { dir })
    const again = await measureCapability(engine, { dir })
    expect(again.cached).to.equal(true)
    expect(again.tokensPerSecond).to.equal(first.tokensPerSecond)
    expect(again.firstTokenMs).to.equal(first.firstTokenMs)
    expect(await readdir(dir)).to.deep.equal([`${engine.modelId.toLowerCase()}-${first.fingerprint}.json`])
    // other hardware facts (threads here) are another cache entry
    expect(capabilityFingerprint(engine.modelId, { ...first.facts, threads: 2 })).to.not.equal(first.fingerprint)
  })

  it('a throttled generation stopped midway gives its engine sequence back', async () => {
    const one = await createInferenceEngine({ modelPath: await models.model('tiny', 1), threads: 1, sequences: 1 })
    try {
      const slow = throttleEngine(one, 20)
      const abort = new AbortController()
      const gen = slow.generate('one two three', { maxTokens: 40, deterministic: true }, abort.signal)
      await gen.next()
      abort.abort()
      const err = await gen.next().then(() => undefined, (e: any) => e)
      expect(err?.name).to.equal('GenerationAbortedError')
      // the only sequence is free again: another generation runs to its end
      const r = await slow.complete('four five', { maxTokens: 4, deterministic: true }, AbortSignal.timeout(10_000))
      expect(r.tokens).to.have.length(4)
    } finally {
      await one.close()
    }
  })

  it('measures a throttled engine at the throttle\'s speed', async () => {
    const slow = throttleEngine(engine, 40)
    const c = await measureCapability(slow, { tokens: 12 })
    // 40 tokens/s at most (timers fire late, never early); how far below depends on the machine's load
    expect(c.tokensPerSecond).to.be.at.most(40.5)
    expect(c.tokensPerSecond).to.be.greaterThan(0)
    const fast = await measureCapability(engine)
    expect(fast.tokensPerSecond).to.be.greaterThan(c.tokensPerSecond * 5)
  })
})
