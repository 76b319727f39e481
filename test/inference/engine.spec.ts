import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { createEmbedder, cosineSimilarity, embeddingOutliers } from '../../node/inference/embeddings.ts'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { classifyHardware, measureHardware } from '../../node/inference/hardware.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { modelDir } from './fixtures.ts'
import type { ModelDir } from './fixtures.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { HardwareProbe } from '../../node/inference/hardware.ts'
import type { Llama } from 'node-llama-cpp'

const CHILD = fileURLToPath(new URL('./determinism-child.ts', import.meta.url))
const PROMPT = 'the man said that the water was very cold'

async function runChild (modelPath: string): Promise<{ modelId: string, greedy: number[], seeded: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, modelPath, PROMPT], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += String(d) })
    child.stderr.on('data', (d) => { err += String(d) })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`child exited ${code}: ${err}`))
        return
      }
      resolve(JSON.parse(out))
    })
  })
}

async function expectRejection (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err: any) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('inference/engine', () => {
  let models: ModelDir
  let llama: Llama
  let engine: LlamaInferenceEngine
  let tiny: string

  before(async () => {
    models = await modelDir()
    tiny = await models.model('tiny', 1)
    llama = await getSharedLlama(false)
    engine = await createInferenceEngine({ modelPath: tiny, llama, contextSize: 512, sequences: 2, maxQueued: 1 })
  })

  after(async () => {
    await engine?.close()
    await disposeSharedLlamas()
    await models.cleanup()
  })

  it('generates identical tokens in two separate processes (greedy and seeded)', async () => {
    const [a, b] = await Promise.all([runChild(tiny), runChild(tiny)])
    expect(a.greedy).to.have.length(48)
    expect(a.greedy).to.deep.equal(b.greedy)
    expect(a.seeded).to.deep.equal(b.seeded)
    expect(a.seeded).to.not.deep.equal(a.greedy)
    expect(a.modelId).to.equal(engine.modelId)
    // and the same as this process
    const here = await engine.complete(PROMPT, { maxTokens: 48, deterministic: true })
    expect(here.tokens).to.deep.equal(a.greedy)
  })

  it('reports load progress and a stable model id', async () => {
    const seen: number[] = []
    const e = await createInferenceEngine({ modelPath: tiny, llama, contextSize: 128, sequences: 1, onLoadProgress: (f) => seen.push(f) })
    try {
      expect(e.modelId).to.equal(engine.modelId)
      expect(seen.length).to.be.greaterThan(0)
      expect(seen[seen.length - 1]).to.equal(1)
    } finally {
      await e.close()
      await e.close()
    }
    expect(e.closed).to.equal(true)
    const err = await expectRejection(e.complete('x', { maxTokens: 2 }))
    expect(err.name).to.equal('EngineClosedError')
  })

  it('streams tokens with text pieces that concatenate to the output text, stops at max tokens', async () => {
    const pieces: string[] = []
    const tokens: number[] = []
    const it = engine.generate(PROMPT, { maxTokens: 20 })
    let r = await it.next()
    while (r.done !== true) {
      pieces.push(r.value.text)
      tokens.push(r.value.token)
      r = await it.next()
    }
    expect(r.value.finishReason).to.equal('length')
    expect(r.value.tokens).to.deep.equal(tokens)
    expect(pieces.join('')).to.equal(r.value.text)
    expect(r.value.text).to.equal(engine.detokenize(tokens))
  })

  it('round-trips any UTF-8 text through the byte-fallback vocabulary', () => {
    const text = 'naïve café — 日本語 🙂 the river'
    const tokens = engine.tokenizePrompt(text)
    expect(engine.detokenize(tokens).trim()).to.equal(text)
  })

  it('ends at a stop sequence, including the token that completes it', async () => {
    const free = await engine.complete(PROMPT, { maxTokens: 40 })
    // choose a stop string from the free output's middle so it must be hit
    const stop = free.text.slice(20, 24)
    const stopped = await engine.complete(PROMPT, { maxTokens: 40, stop: [stop] })
    expect(stopped.finishReason).to.equal('stop')
    expect(stopped.text).to.include(stop)
    expect(stopped.tokens.length).to.be.lessThan(free.tokens.length)
    expect(free.tokens.slice(0, stopped.tokens.length)).to.deep.equal(stopped.tokens)
  })

  it('runs concurrent generations on separate sequences without mixing tokens', async () => {
    const prompts = ['the water is hot', 'people call it a long day', 'one small city under light']
    const solo = []
    for (const p of prompts) {
      solo.push((await engine.complete(p, { maxTokens: 24 })).tokens)
    }
    // 2 sequences + 1 queued
    const together = await Promise.all(prompts.map(async p => engine.complete(p, { maxTokens: 24 })))
    expect(together.map(r => r.tokens)).to.deep.equal(solo)
  })

  it('throws QueueFullError when every sequence is busy and the queue is at its bound', async () => {
    const controllers = [new AbortController(), new AbortController()]
    const busy = controllers.map(c => engine.generate(PROMPT, { maxTokens: 400 }, c.signal))
    await Promise.all(busy.map(async g => g.next())) // both sequences held
    const queued = engine.complete(PROMPT, { maxTokens: 2 })
    expect(engine.queued).to.equal(1)
    const err = await expectRejection(engine.complete(PROMPT, { maxTokens: 2 }))
    expect(err.name).to.equal('QueueFullError')
    await Promise.all(busy.map(async g => g.return(undefined as any)))
    expect((await queued).tokens).to.have.length(2)
  })

  it('cancellation ends the generation and frees its sequence', async () => {
    const controller = new AbortController()
    let count = 0
    const err = await expectRejection((async () => {
      for await (const piece of engine.generate(PROMPT, { maxTokens: 400 }, controller.signal)) {
        expect(piece.token).to.be.a('number')
        if (++count === 5) {
          controller.abort()
        }
      }
    })())
    expect(err.name).to.equal('GenerationAbortedError')
    expect(count).to.equal(5)
    // both sequences are free again: two generations start at once
    const results = await Promise.all([engine.complete(PROMPT, { maxTokens: 3 }), engine.complete(PROMPT, { maxTokens: 3 })])
    expect(results.map(r => r.tokens.length)).to.deep.equal([3, 3])
    // an aborted waiter leaves the queue
    const holders = [engine.generate(PROMPT, { maxTokens: 400 }), engine.generate(PROMPT, { maxTokens: 400 })]
    await Promise.all(holders.map(async h => h.next()))
    const c2 = new AbortController()
    const waiting = engine.complete(PROMPT, { maxTokens: 2 }, c2.signal)
    c2.abort()
    expect((await expectRejection(waiting)).name).to.equal('GenerationAbortedError')
    expect(engine.queued).to.equal(0)
    await Promise.all(holders.map(async h => h.return(undefined as any)))
  })

  it('rejects bad parameters with the parameter named', async () => {
    expect((await expectRejection(engine.complete(PROMPT, { maxTokens: 0 }))).name).to.equal('InvalidParamsError')
    const e = await expectRejection(engine.complete(PROMPT, { temperature: 0.7, deterministic: true }))
    expect((e as any).param).to.equal('seed')
    expect((await expectRejection(engine.complete(PROMPT, { maxTokens: 5000 }))).name).to.equal('ContextOverflowError')
  })

  it('embeds outputs with the same model and compares them by cosine similarity', async () => {
    const embedder = await createEmbedder({ engine })
    try {
      const a = await embedder.embed('the water was very cold')
      const b = await embedder.embed('the water was very cold')
      const c = await embedder.embed('children walk along the river at night')
      expect(a).to.have.length(64)
      expect(a).to.deep.equal(b)
      expect(cosineSimilarity(a, b)).to.be.closeTo(1, 1e-9)
      expect(cosineSimilarity(a, c)).to.be.below(0.999)
      expect(embedder.modelId).to.equal(engine.modelId)
    } finally {
      await embedder.close()
    }
    // a separate embedding model by path
    const other = await createEmbedder({ modelPath: await models.model('tiny', 2), llama })
    try {
      expect(other.modelId).to.not.equal(engine.modelId)
      expect(await other.embed('x')).to.have.length(64)
    } finally {
      await other.close()
    }
  })

  it('flags the embedding outlier among redundant outputs', () => {
    const { outliers, meanSimilarity } = embeddingOutliers([[1, 0.1, 0], [0.9, 0.2, 0], [1, 0, 0.1], [0, 0, 1]], 0.5)
    expect(outliers).to.deep.equal([3])
    expect(meanSimilarity[0]).to.be.greaterThan(0.6)
    expect(embeddingOutliers([[1, 0], [0, 1]], 0.5).outliers).to.deep.equal([])
  })

  it('classifies this machine and the GPU ladder', async () => {
    const report = await measureHardware(engine, { tokens: 16 })
    expect(report.probe.gpu).to.equal(false)
    expect(report.hardwareClass).to.equal(report.probe.cpuMathCores < 4 ? 'cpu-small' : 'cpu')
    expect(report.benchmark?.tokensPerSecond).to.be.greaterThan(0)
    expect(report.level).to.be.within(0, 5)
    const gib = 1024 ** 3
    const base: HardwareProbe = { ...report.probe, gpu: 'cuda', vramTotalBytes: 4 * gib }
    expect(classifyHardware(base).hardwareClass).to.equal('gpu-small')
    expect(classifyHardware({ ...base, vramTotalBytes: 12 * gib }).hardwareClass).to.equal('gpu')
    expect(classifyHardware({ ...base, vramTotalBytes: 48 * gib }).hardwareClass).to.equal('gpu-large')
    const bench = { ...report.benchmark!, gparamTokensPerSecond: 5 }
    expect(classifyHardware(base, bench).level).to.equal(2)
    expect(classifyHardware(base, { ...bench, gparamTokensPerSecond: 1000 }).level).to.equal(5)
    expect(classifyHardware(base, { ...bench, gparamTokensPerSecond: 0.01 }).level).to.equal(0)
  })
})
