/**
 * The models an oracle validates and what it checks each one's tasks with:
 * a task is replayed (and its embedding task recomputed) with the engine of
 * the task's own model, and its disagreeing outputs are embedded with that
 * model's embedder, or with the one embedder given for every model (an
 * operator's `--embedding-model`). A task of a model the oracle follows
 * without an engine is checked as before any engine: structure and
 * redundancy only, `unverifiable` where a replay is needed.
 */
import { DuplicateModelEngineError } from './errors.ts'
import type { OracleInit } from './types.ts'
import type { Embedder, LlamaInferenceEngine } from '../../inference/index.ts'

/** What a task of one model is checked with; either may be missing. */
export interface ModelCheckers {
  engine?: LlamaInferenceEngine
  embedder?: Embedder
}

export class OracleModels {
  /** every model followed: the init's `modelIds`, then the engines' models not among them */
  readonly ids: string[]
  private readonly engines = new Map<string, LlamaInferenceEngine>()
  private readonly embedders = new Map<string, Embedder>()
  private readonly embedder?: Embedder

  constructor (init: Pick<OracleInit, 'modelIds' | 'engine' | 'engines' | 'embedder' | 'embedders'>) {
    for (const e of [...(init.engine != null ? [init.engine] : []), ...(init.engines ?? [])]) {
      const id = key(e.modelId)
      if (this.engines.has(id)) {
        throw new DuplicateModelEngineError(e.modelId)
      }
      this.engines.set(id, e)
    }
    for (const [modelId, embedder] of Object.entries(init.embedders ?? {})) {
      this.embedders.set(key(modelId), embedder)
    }
    this.embedder = init.embedder
    const ids = [...(init.modelIds ?? [])]
    for (const e of this.engines.values()) {
      if (!ids.some(m => key(m) === key(e.modelId))) {
        ids.push(e.modelId)
      }
    }
    this.ids = ids
  }

  /** The engine and the embedder for a task of `modelId`. */
  for (modelId: string | undefined): ModelCheckers {
    const id = key(modelId ?? '')
    return { engine: this.engines.get(id), embedder: this.embedders.get(id) ?? this.embedder }
  }

  /** Whether a task of `modelId` can be replayed here. */
  canReplay (modelId: string | undefined): boolean {
    return this.engines.has(key(modelId ?? ''))
  }
}

/** model ids are hex digests: compared without regard to case */
function key (modelId: string): string {
  return modelId.toLowerCase()
}
