/**
 * Embeddings for the embedding-distance check (Cortensor's PoI): redundant
 * miners' outputs are embedded and compared by cosine similarity; outliers
 * below a threshold are flagged. The embedding model is configurable and
 * defaults to the engine's own model.
 */
import { logger } from '@libp2p/logger'
import { cosine } from '../../protocols/policy/index.ts'
import { DEFAULT_THREADS } from './constants.ts'
import { EngineClosedError, ModelLoadError } from './errors.ts'
import { inspectGguf } from './gguf/inspect.ts'
import { getSharedLlama } from './llama.ts'
import type { LlamaInferenceEngine } from './engine.ts'
import type { Hex32 } from './gguf/inspect.ts'
import type { GpuChoice } from './llama.ts'
import type { Llama, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp'

const log = logger('cortensor:inference:embeddings')

/** Cosine similarity in [-1, 1]; 0 when either vector is all zeros (the policy module's, so oracle and simulator agree). */
export const cosineSimilarity = cosine

/**
 * For each vector, its mean cosine similarity to the others; those below
 * `minSimilarity` are outliers. With fewer than 3 vectors nobody is an outlier
 * (two disagreeing outputs cannot say which one is wrong).
 */
export function embeddingOutliers (vectors: Array<ArrayLike<number>>, minSimilarity: number): { meanSimilarity: number[], outliers: number[] } {
  const n = vectors.length
  const meanSimilarity = vectors.map((v, i) => {
    if (n < 2) {
      return 1
    }
    let s = 0
    for (let j = 0; j < n; j++) {
      if (j !== i) {
        s += cosineSimilarity(v, vectors[j])
      }
    }
    return s / (n - 1)
  })
  const outliers = n < 3 ? [] : meanSimilarity.flatMap((s, i) => s < minSimilarity ? [i] : [])
  return { meanSimilarity, outliers }
}

export interface EmbedderInit {
  /** embed with this engine's model (the default when no modelPath is given) */
  engine?: LlamaInferenceEngine
  /** a separate embedding model (GGUF path) */
  modelPath?: string
  llama?: Llama
  gpu?: GpuChoice
  /** @default DEFAULT_THREADS */
  threads?: number
  /** tokens per text; longer texts are cut at the end; @default 512 */
  contextSize?: number
}

export class Embedder {
  readonly modelId: Hex32
  private readonly model: LlamaModel
  private readonly ownsModel: boolean
  private readonly context: LlamaEmbeddingContext
  private readonly contextSize: number
  private chain: Promise<unknown> = Promise.resolve()
  private closing?: Promise<void>

  constructor (parts: { modelId: Hex32, model: LlamaModel, ownsModel: boolean, context: LlamaEmbeddingContext, contextSize: number }) {
    this.contextSize = parts.contextSize
    this.modelId = parts.modelId
    this.model = parts.model
    this.ownsModel = parts.ownsModel
    this.context = parts.context
  }

  /** Embedding vector of a text (calls are serialised on the one embedding context). */
  async embed (text: string): Promise<number[]> {
    if (this.closing != null) {
      throw new EngineClosedError()
    }
    const run = this.chain.then(async () => {
      const tokens = this.model.tokenize(text)
      const e = await this.context.getEmbeddingFor(tokens.slice(0, this.contextSize))
      return [...e.vector]
    })
    this.chain = run.catch(() => {})
    return run
  }

  /** Cosine similarity of two texts' embeddings. */
  async similarity (a: string, b: string): Promise<number> {
    return cosineSimilarity(await this.embed(a), await this.embed(b))
  }

  async close (): Promise<void> {
    if (this.closing == null) {
      this.closing = (async () => {
        await this.chain
        await this.context.dispose().catch(() => {})
        if (this.ownsModel) {
          await this.model.dispose().catch(() => {})
        }
      })()
    }
    return this.closing
  }
}

/** An embedder over the engine's model, or over a separate GGUF given by path. */
export async function createEmbedder (init: EmbedderInit): Promise<Embedder> {
  const threads = init.threads ?? init.engine?.threads ?? DEFAULT_THREADS
  let model: LlamaModel
  let modelId: Hex32
  let ownsModel = false
  if (init.modelPath != null) {
    const summary = await inspectGguf(init.modelPath)
    const llama = init.llama ?? init.engine?.llama ?? await getSharedLlama(init.gpu ?? 'auto')
    try {
      model = await llama.loadModel({ modelPath: init.modelPath })
    } catch (err: any) {
      throw new ModelLoadError(init.modelPath, String(err?.message ?? err).split('\n')[0])
    }
    modelId = summary.modelId
    ownsModel = true
  } else if (init.engine != null) {
    model = init.engine.model
    modelId = init.engine.modelId
  } else {
    throw new RangeError('createEmbedder needs an engine or a modelPath')
  }
  const contextSize = Math.min(init.contextSize ?? 512, model.trainContextSize)
  const context = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads })
  log('embedding context on %s (%d threads)', modelId, threads)
  return new Embedder({ modelId, model, ownsModel, context, contextSize })
}
