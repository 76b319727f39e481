/**
 * One shared llama.cpp binding per process. Never builds or downloads: the
 * prebuilt binaries shipped in npm packages are used (CUDA/Vulkan/Metal where
 * present, CPU otherwise). llama.cpp's own log lines go to the debug logger.
 */
import { logger } from '@libp2p/logger'
import { getLlama, getLlamaGpuTypes, LlamaLogLevel } from 'node-llama-cpp'
import { GpuUnavailableError } from './errors.ts'
import type { Llama } from 'node-llama-cpp'

const log = logger('cortensor:inference:llama')

/** `auto`: a GPU when a prebuilt backend finds one, else the CPU; false: the CPU; or one backend by name. */
export type GpuChoice = 'auto' | false | 'cuda' | 'vulkan' | 'metal'

/** The backends whose prebuilt binaries load on this machine ('cpu' always does). */
export async function availableBackends (): Promise<string[]> {
  const types = await getLlamaGpuTypes('supported').catch(() => [false as const])
  return [...types.filter(t => t !== false).map(String), 'cpu']
}

/**
 * A Llama for exactly this choice: a named backend that has no binary here,
 * or that node-llama-cpp replaces with another (it falls back to the CPU
 * for metal off macOS), is GpuUnavailableError rather than a silent CPU.
 */
async function loadLlama (gpu: GpuChoice): Promise<Llama> {
  let llama: Llama
  try {
    llama = await getLlama({
      gpu,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        log('llama.cpp %s: %s', level, message.trimEnd())
      }
    })
  } catch (err: any) {
    if (gpu !== 'auto' && gpu !== false) {
      const detail = String(err?.message ?? err).split('\n')[0]
      throw new GpuUnavailableError(gpu, await availableBackends(), detail === 'NoBinaryFoundError' ? 'no prebuilt llama.cpp binary for it loads here' : detail)
    }
    throw err
  }
  if (gpu !== 'auto' && llama.gpu !== gpu) {
    await llama.dispose().catch(() => {})
    throw new GpuUnavailableError(gpu === false ? 'cpu' : gpu, await availableBackends(), `llama.cpp started on ${llama.gpu === false ? 'the CPU' : llama.gpu}`)
  }
  return llama
}

const shared = new Map<string, Promise<Llama>>()

/** The process-wide Llama for this GPU choice (loaded once, ~0.5 s). */
export async function getSharedLlama (gpu: GpuChoice = 'auto'): Promise<Llama> {
  const key = String(gpu)
  let p = shared.get(key)
  if (p == null) {
    p = loadLlama(gpu)
    shared.set(key, p)
    p.catch(() => shared.delete(key))
  }
  return p
}

/** Dispose every shared Llama (end of a test file or of the process). Idempotent. */
export async function disposeSharedLlamas (): Promise<void> {
  const all = [...shared.values()]
  shared.clear()
  for (const p of all) {
    try {
      const llama = await p
      if (!llama.disposed) {
        await llama.dispose()
      }
    } catch {}
  }
}
