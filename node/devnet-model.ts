/**
 * The model a devnet serves when none is given: the generated `small`
 * preset (seed 1), written once into a cache directory and reused.
 */
import { mkdir, rename, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { generateModel } from './inference/index.ts'

export const DEVNET_MODEL_PRESET = 'small'
export const DEVNET_MODEL_SEED = 1

export function modelCacheDir (env: Record<string, string | undefined> = process.env): string {
  return env.CORTENSOR_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cortensor')
}

export async function devnetModel (say: (line: string) => void): Promise<string> {
  const dir = join(modelCacheDir(), 'models')
  const path = join(dir, `cortensor-${DEVNET_MODEL_PRESET}-s${DEVNET_MODEL_SEED}.gguf`)
  try {
    await stat(path)
    return path
  } catch {}
  await mkdir(dir, { recursive: true })
  say(`generating the devnet model (${DEVNET_MODEL_PRESET} preset, seed ${DEVNET_MODEL_SEED}) into ${path}`)
  const t0 = Date.now()
  const tmp = `${path}.${process.pid}.tmp`
  await generateModel(tmp, { preset: DEVNET_MODEL_PRESET, seed: DEVNET_MODEL_SEED })
  await rename(tmp, path)
  say(`model generated in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  return path
}
