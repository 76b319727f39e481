/**
 * Hardware classification (Cortensor's Cognitive module): probe CPU and GPU
 * (node-llama-cpp reports the GPU backend and VRAM), run a short benchmark on
 * the loaded model, and map the result to a hardware class and a suggested
 * level for the node's capability advertisement.
 */
import { cpus, totalmem } from 'node:os'
import { CPU_SMALL_MAX_CORES, GPU_LARGE_MIN_VRAM_BYTES, GPU_SMALL_MAX_VRAM_BYTES, HARDWARE_BENCH_PROMPT, HARDWARE_BENCH_TOKENS, HARDWARE_CLASSES, LEVEL_THRESHOLDS_GPARAM_TOKENS_PER_S } from './constants.ts'
import type { LlamaInferenceEngine } from './engine.ts'
import type { Hex32 } from './gguf/inspect.ts'
import type { Llama } from 'node-llama-cpp'

export type HardwareClass = typeof HARDWARE_CLASSES[number]

export interface HardwareProbe {
  cpuModel: string
  /** logical CPUs the OS reports */
  cpuCores: number
  /** cores llama.cpp counts for math */
  cpuMathCores: number
  ramBytes: number
  /** GPU backend in use ('cuda' | 'vulkan' | 'metal'), or false on CPU */
  gpu: string | false
  gpuDevices: string[]
  vramTotalBytes: number
  vramFreeBytes: number
}

export interface HardwareBenchmark {
  modelId: Hex32
  parameters: number
  threads: number
  tokens: number
  ms: number
  tokensPerSecond: number
  /** tokens/s × parameters / 1e9: comparable across model sizes */
  gparamTokensPerSecond: number
}

export interface HardwareReport {
  hardwareClass: HardwareClass
  /** 0–5 */
  level: number
  probe: HardwareProbe
  benchmark?: HardwareBenchmark
}

export async function probeHardware (llama: Llama): Promise<HardwareProbe> {
  const gpu = llama.gpu === false ? false : String(llama.gpu)
  let vram = { total: 0, free: 0 }
  let gpuDevices: string[] = []
  if (gpu !== false) {
    try {
      const state = await llama.getVramState()
      vram = { total: state.total, free: state.free }
      gpuDevices = await llama.getGpuDeviceNames()
    } catch {}
  }
  const list = cpus()
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCores: list.length,
    cpuMathCores: llama.cpuMathCores,
    ramBytes: totalmem(),
    gpu,
    gpuDevices,
    vramTotalBytes: vram.total,
    vramFreeBytes: vram.free
  }
}

/** Greedy generation of `tokens` tokens on the engine after a short warm-up; tokens/s of the timed run. */
export async function benchmarkEngine (engine: LlamaInferenceEngine, options: { tokens?: number, signal?: AbortSignal } = {}): Promise<HardwareBenchmark> {
  const tokens = options.tokens ?? HARDWARE_BENCH_TOKENS
  await engine.complete(HARDWARE_BENCH_PROMPT, { maxTokens: 4 }, options.signal)
  const t0 = performance.now()
  const r = await engine.complete(HARDWARE_BENCH_PROMPT, { maxTokens: tokens }, options.signal)
  const ms = performance.now() - t0
  const tokensPerSecond = r.tokens.length / (ms / 1000)
  const parameters = engine.summary.parameters
  return {
    modelId: engine.modelId,
    parameters,
    threads: engine.threads,
    tokens: r.tokens.length,
    ms,
    tokensPerSecond,
    gparamTokensPerSecond: tokensPerSecond * parameters / 1e9
  }
}

/** Pure: class from the probe, level from the benchmark (0 without one). */
export function classifyHardware (probe: HardwareProbe, benchmark?: HardwareBenchmark): { hardwareClass: HardwareClass, level: number } {
  let hardwareClass: HardwareClass
  if (probe.gpu === false) {
    hardwareClass = probe.cpuMathCores < CPU_SMALL_MAX_CORES ? 'cpu-small' : 'cpu'
  } else if (probe.vramTotalBytes < GPU_SMALL_MAX_VRAM_BYTES) {
    hardwareClass = 'gpu-small'
  } else if (probe.vramTotalBytes >= GPU_LARGE_MIN_VRAM_BYTES) {
    hardwareClass = 'gpu-large'
  } else {
    hardwareClass = 'gpu'
  }
  let level = 0
  if (benchmark != null) {
    for (const threshold of LEVEL_THRESHOLDS_GPARAM_TOKENS_PER_S) {
      if (benchmark.gparamTokensPerSecond >= threshold) {
        level++
      }
    }
  }
  return { hardwareClass, level }
}

/** Probe, benchmark the engine's model and classify: what the node advertises. */
export async function measureHardware (engine: LlamaInferenceEngine, options: { tokens?: number, signal?: AbortSignal } = {}): Promise<HardwareReport> {
  const probe = await probeHardware(engine.llama)
  const benchmark = await benchmarkEngine(engine, options)
  return { ...classifyHardware(probe, benchmark), probe, benchmark }
}
