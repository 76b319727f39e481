/**
 * A miner's measured capability: a short benchmark of its engine on its model
 * at start (time to the first token, decode tokens/s) and the hardware it ran
 * on (backend as node-llama-cpp reports it, GPU devices, VRAM, threads,
 * sequences). The result is cached on disk per model id and hardware
 * fingerprint, so a restart on the same machine does not benchmark again.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { CAPABILITY_BENCH_MAX_MS, CAPABILITY_BENCH_PROMPT, CAPABILITY_BENCH_TOKENS, CAPABILITY_FORMAT } from './constants.ts'
import type { InferenceEngine } from './types.ts'
import type { Llama } from 'node-llama-cpp'

/** The hardware facts a miner advertises beside its speed. */
export interface HardwareFacts {
  /** "cpu", "cuda", "vulkan" or "metal" */
  backend: string
  gpuDevices: string[]
  /** total VRAM, bytes (0 on CPU) */
  vramBytes: number
  cpuModel: string
  threads: number
  sequences: number
}

export interface Capability {
  modelId: string
  /** decode speed of the benchmark: tokens after the first ÷ the time after the first */
  tokensPerSecond: number
  /** from the call to the first token, prompt evaluation included */
  firstTokenMs: number
  /** tokens the benchmark generated */
  tokens: number
  facts: HardwareFacts
  /** sha256 (hex, 16 chars) of the model id and the facts: the cache key */
  fingerprint: string
  measuredAtMs: number
  /** read from the cache, not measured now */
  cached: boolean
}

/** Hardware facts of an engine: from its llama binding when it has one, else CPU. */
export async function hardwareFacts (engine: Pick<InferenceEngine, 'threads' | 'sequences'> & { llama?: Llama }): Promise<HardwareFacts> {
  const llama = engine.llama
  let backend = 'cpu'
  let gpuDevices: string[] = []
  let vramBytes = 0
  if (llama != null && llama.gpu !== false) {
    backend = String(llama.gpu)
    try {
      gpuDevices = await llama.getGpuDeviceNames()
      vramBytes = (await llama.getVramState()).total
    } catch {
      // a GPU that cannot say its names or VRAM is still the GPU backend
    }
  }
  return { backend, gpuDevices, vramBytes, cpuModel: cpus()[0]?.model ?? 'unknown', threads: engine.threads, sequences: engine.sequences }
}

/** The cache key of a capability: the model and every fact the speed depends on. */
export function capabilityFingerprint (modelId: string, facts: HardwareFacts): string {
  const canonical = JSON.stringify([CAPABILITY_FORMAT, modelId.toLowerCase(), facts.backend, facts.gpuDevices, facts.vramBytes, facts.cpuModel, facts.threads, facts.sequences])
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16)
}

/**
 * Benchmark the engine: a 4-token warm-up, then up to `tokens` greedy tokens
 * of a fixed prompt, stopped early after CAPABILITY_BENCH_MAX_MS (a slow
 * engine is measured on the tokens it gave by then).
 */
export async function benchmarkCapability (engine: Pick<InferenceEngine, 'generate' | 'complete'>, options: { tokens?: number, maxMs?: number, signal?: AbortSignal } = {}): Promise<{ tokensPerSecond: number, firstTokenMs: number, tokens: number }> {
  const maxTokens = options.tokens ?? CAPABILITY_BENCH_TOKENS
  const maxMs = options.maxMs ?? CAPABILITY_BENCH_MAX_MS
  await engine.complete(CAPABILITY_BENCH_PROMPT, { maxTokens: 4, deterministic: true }, options.signal)
  const stop = new AbortController()
  const signal = options.signal != null ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  const t0 = performance.now()
  let first = 0
  let last = 0
  let tokens = 0
  const gen = engine.generate(CAPABILITY_BENCH_PROMPT, { maxTokens, deterministic: true }, signal)
  try {
    for (let next = await gen.next(); next.done !== true; next = await gen.next()) {
      last = performance.now()
      if (tokens++ === 0) {
        first = last
      }
      if (last - t0 >= maxMs) {
        break
      }
    }
  } finally {
    stop.abort()
    await gen.return(undefined as never).catch(() => {})
  }
  options.signal?.throwIfAborted()
  const decodeMs = last - first
  // one token only (a model that stops at once): its speed is the first token's
  const tokensPerSecond = tokens > 1 && decodeMs > 0 ? (tokens - 1) / (decodeMs / 1000) : tokens / Math.max((first - t0) / 1000, 1e-3)
  return { tokensPerSecond, firstTokenMs: first - t0, tokens }
}

/**
 * The engine's capability: from `<dir>/<model id>-<fingerprint>.json` when a
 * benchmark of this model on this hardware is there, else measured now and
 * written there (`dir` undefined: measured, not cached).
 */
export async function measureCapability (engine: InferenceEngine & { llama?: Llama }, options: { dir?: string, signal?: AbortSignal, tokens?: number, maxMs?: number } = {}): Promise<Capability> {
  const facts = await hardwareFacts(engine)
  const fingerprint = capabilityFingerprint(engine.modelId, facts)
  const file = options.dir != null ? join(options.dir, `${engine.modelId.toLowerCase()}-${fingerprint}.json`) : undefined
  if (file != null) {
    const cached = await readCached(file, fingerprint)
    if (cached != null) {
      return { ...cached, facts, cached: true }
    }
  }
  const b = await benchmarkCapability(engine, options)
  const capability: Capability = { modelId: engine.modelId, ...b, facts, fingerprint, measuredAtMs: Date.now(), cached: false }
  if (file != null && options.dir != null) {
    await mkdir(options.dir, { recursive: true })
    // written whole, then renamed: a crash mid-write leaves no half file to read
    await writeFile(`${file}.tmp`, JSON.stringify(capability, null, 2))
    await rename(`${file}.tmp`, file)
  }
  return capability
}

async function readCached (file: string, fingerprint: string): Promise<Capability | undefined> {
  try {
    const c = JSON.parse(await readFile(file, 'utf8')) as Partial<Capability>
    if (c.fingerprint === fingerprint && typeof c.tokensPerSecond === 'number' && c.tokensPerSecond > 0 && typeof c.firstTokenMs === 'number' && c.firstTokenMs >= 0) {
      return c as Capability
    }
  } catch {
    // no cache file, or one this version cannot read: measure again
  }
  return undefined
}
