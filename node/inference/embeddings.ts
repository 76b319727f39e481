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

  /** Tokens of context one text may use; a longer text is cut at the end by `embed`. */
  get maxTokens (): number {
    return this.contextSize
  }

  /** Tokens of a text as `embed` counts them. */
  tokenCount (text: string): number {
    return this.model.tokenize(text).length
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

const modelEmbedders = new WeakMap<LlamaInferenceEngine, Promise<Embedder>>()

/**
 * The embedder over an engine's own model, made once per engine: what an
 * embedding task (`/v1/embeddings`) is computed with by the miner and
 * recomputed with by the replaying oracle. It is disposed with the model.
 */
export async function modelEmbedder (engine: LlamaInferenceEngine): Promise<Embedder> {
  let p = modelEmbedders.get(engine)
  if (p == null) {
    p = createEmbedder({ engine })
    modelEmbedders.set(engine, p)
    p.catch(() => modelEmbedders.delete(engine))
  }
  return p
}

/**
 * Smallest cosine similarity between a claimed embedding vector and the
 * oracle's own recomputation for the claim to stand. The same model on the
 * same build recomputes a vector exactly (cosine 1: test/inference/embed.spec.ts);
 * numeric drift between engines moves logits by hundredths (notes/GPU.md),
 * far too little to move a pooled vector's direction by 1e-3, while another
 * model gives a different direction altogether (two seeds of the tiny preset:
 * cosine 0.11 at most over the test's texts). Not yet measured across GPU
 * and CPU.
 */
export const EMBEDDING_REPLAY_MIN_COSINE = 0.999

/**
 * Why claimed vectors are not the embeddings of `texts` on this model
 * (undefined when every one is within EMBEDDING_REPLAY_MIN_COSINE of the
 * recomputation).
 */
export async function embeddingMismatch (embedder: Embedder, texts: string[], claimed: unknown): Promise<string | undefined> {
  if (!Array.isArray(claimed) || claimed.length !== texts.length) {
    return `${Array.isArray(claimed) ? claimed.length : 'no'} vectors for ${texts.length} texts`
  }
  for (let i = 0; i < texts.length; i++) {
    const v = claimed[i]
    const own = await embedder.embed(texts[i])
    if (!Array.isArray(v) || v.length !== own.length || !v.every(x => typeof x === 'number' && Number.isFinite(x))) {
      return `vector ${i} is not ${own.length} finite numbers`
    }
    const c = cosineSimilarity(own, v)
    if (!(c >= EMBEDDING_REPLAY_MIN_COSINE)) {
      return `vector ${i} has cosine ${c.toFixed(6)} to the recomputed one (at least ${EMBEDDING_REPLAY_MIN_COSINE})`
    }
  }
  return undefined
}
