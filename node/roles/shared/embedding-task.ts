/**
 * Embedding tasks (`{ embed: [...] }` documents, OpenAI's `/v1/embeddings`):
 * the miner computes one vector per text with the task's model and stores
 * them in its output document, which then commits, reveals and settles like
 * any output (redundant honest miners store byte-identical vectors, so they
 * agree by CID). The replaying oracle recomputes the vectors with the same
 * model and compares them by cosine similarity.
 */
import { Decline } from '../../../protocols/messages/index.ts'
import { LlamaInferenceEngine, embeddingMismatch, modelEmbedder } from '../../inference/index.ts'
import { TaskNotRunnableError } from '../miner/generation.ts'
import type { OutputDoc } from '../../../protocols/blocks/index.ts'
import type { EmbedInput } from '../../../protocols/prompt/index.ts'
import type { InferenceEngine } from '../../inference/index.ts'

/**
 * Tokens an embedding task pays each accepted miner for (the hub pays tokens
 * × the session's price per token): a flat one, whatever the texts' length,
 * so the task is priced like a one-token completion and fits `max_tokens: 1`.
 */
export const EMBEDDING_TASK_TOKENS = 1

/** Tokens the hub pays a miner for this output: its generated tokens, or EMBEDDING_TASK_TOKENS for an embedding output. */
export function paidTokens (doc: Pick<OutputDoc, 'tokens' | 'embeddings'>): number {
  return doc.embeddings != null ? EMBEDDING_TASK_TOKENS : doc.tokens.length
}

/** The engine as one that can embed; an engine without a llama.cpp model (a benchmark stand-in) cannot run embedding tasks. */
function llamaEngine (engine: InferenceEngine): LlamaInferenceEngine {
  if (!(engine instanceof LlamaInferenceEngine)) {
    throw new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, 'this engine computes no embeddings', 0, engine.contextSize)
  }
  return engine
}

/** Compute an embedding task's output document; a text longer than the embedding context is declined, never cut. */
export async function embeddingOutput (engine: InferenceEngine, input: EmbedInput, taskId: string, modelId: string, signal?: AbortSignal): Promise<OutputDoc> {
  const embedder = await modelEmbedder(llamaEngine(engine))
  let promptTokens = 0
  for (const [i, text] of input.embed.entries()) {
    const n = embedder.tokenCount(text)
    if (n > embedder.maxTokens) {
      throw new TaskNotRunnableError(Decline.Reason.CONTEXT_OVERFLOW, `text ${i} is ${n} tokens, the embedding context holds ${embedder.maxTokens}`, n, embedder.maxTokens)
    }
    promptTokens += n
  }
  const embeddings: number[][] = []
  for (const text of input.embed) {
    signal?.throwIfAborted()
    embeddings.push(await embedder.embed(text))
  }
  return { taskId, modelId, text: '', tokens: [], finishReason: 'length', promptTokens, embeddings }
}

/** Why an embedding task's output is not what this oracle's model computes (undefined when it is). */
export async function embeddingReplay (engine: InferenceEngine, input: EmbedInput, doc: OutputDoc): Promise<string | undefined> {
  if (doc.tokens.length > 0 || doc.text !== '') {
    return 'an embedding output holds generated text'
  }
  return embeddingMismatch(await modelEmbedder(llamaEngine(engine)), input.embed, doc.embeddings)
}
