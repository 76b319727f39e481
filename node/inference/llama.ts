/**
 * One shared llama.cpp binding per process. Never builds or downloads: the
 * prebuilt binaries shipped in npm packages are used (CUDA/Vulkan/Metal where
 * present, CPU otherwise). llama.cpp's own log lines go to the debug logger.
 */
import { logger } from '@libp2p/logger'
import { getLlama, LlamaLogLevel } from 'node-llama-cpp'
import type { Llama } from 'node-llama-cpp'

const log = logger('cortensor:inference:llama')

export type GpuChoice = 'auto' | false

const shared = new Map<string, Promise<Llama>>()

/** The process-wide Llama for this GPU choice (loaded once, ~0.5 s). */
export async function getSharedLlama (gpu: GpuChoice = 'auto'): Promise<Llama> {
  const key = String(gpu)
  let p = shared.get(key)
  if (p == null) {
    p = getLlama({
      gpu,
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        log('llama.cpp %s: %s', level, message.trimEnd())
      }
    })
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
