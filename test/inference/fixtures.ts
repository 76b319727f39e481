/**
 * Shared fixtures of the inference tests: generated models in a temp dir
 * (removed by `cleanup`), one shared Llama per test file.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateModel } from '../../node/inference/gguf/index.ts'
import type { PresetName, TensorTypeName } from '../../node/inference/gguf/index.ts'

export interface ModelDir {
  dir: string
  model(preset: PresetName, seed: number, type?: TensorTypeName): Promise<string>
  cleanup(): Promise<void>
}

export async function modelDir (): Promise<ModelDir> {
  const dir = await mkdtemp(join(tmpdir(), 'cortensor-inference-'))
  const made = new Map<string, Promise<string>>()
  return {
    dir,
    model: async (preset, seed, type) => {
      const key = `${preset}-${seed}-${type ?? 'default'}`
      let p = made.get(key)
      if (p == null) {
        const path = join(dir, `${key}.gguf`)
        p = generateModel(path, { preset, seed, type }).then(() => path)
        made.set(key, p)
      }
      return p
    },
    cleanup: async () => { await rm(dir, { recursive: true, force: true }) }
  }
}

/** A deterministic prompt generator over plain words (so prompts vary but tests repeat). */
export function prompts (count: number, seed = 7): string[] {
  const words = 'the man said that water was very cold and people call it a long day when we work on the river near home in one small city under light'.split(' ')
  let s = seed >>> 0
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const n = 3 + Math.floor(next() * 10)
    const w: string[] = []
    for (let j = 0; j < n; j++) {
      w.push(words[Math.floor(next() * words.length)])
    }
    out.push(w.join(' '))
  }
  return out
}
