/**
 * The model a devnet serves when none is given: the generated `small`
 * preset (seed 1), written once into a cache directory and reused. Other
 * presets (the benchmarks' `medium`) are cached the same way.
 */
import { mkdir, rename, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { generateModel, GENERATOR_REVISION } from './inference/index.ts'
import type { PresetName } from './inference/index.ts'

export const DEVNET_MODEL_PRESET = 'small'
export const DEVNET_MODEL_SEED = 1

export function modelCacheDir (env: Record<string, string | undefined> = process.env): string {
  return env.CORTENSOR_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cortensor')
}

export async function devnetModel (say: (line: string) => void): Promise<string> {
  return cachedModel(DEVNET_MODEL_PRESET, say)
}

/** The generated `preset` (seed 1) in the cache directory, written on first use (one file per generator revision). */
export async function cachedModel (preset: PresetName, say: (line: string) => void): Promise<string> {
  const dir = join(modelCacheDir(), 'models')
  const path = join(dir, `cortensor-${preset}-s${DEVNET_MODEL_SEED}-r${GENERATOR_REVISION}.gguf`)
  try {
    await stat(path)
    return path
  } catch {}
  await mkdir(dir, { recursive: true })
  say(`generating the ${preset === DEVNET_MODEL_PRESET ? 'devnet model' : 'model'} (${preset} preset, seed ${DEVNET_MODEL_SEED}) into ${path}`)
  const t0 = Date.now()
  const tmp = `${path}.${process.pid}.tmp`
  await generateModel(tmp, { preset, seed: DEVNET_MODEL_SEED })
  await rename(tmp, path)
  say(`model generated in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  return path
}
