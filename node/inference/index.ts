/**
 * The inference area: a GGUF model loaded by path, generation for miners,
 * the replay check for oracles, embeddings for the embedding-distance check,
 * hardware classification for the capability advertisement, and the
 * deterministic GGUF generator used for tests, benchmarks and the devnet.
 */
import { createInferenceEngine } from './engine.ts'
import type { ChatRenderer, RenderedPrompt } from './chat.ts'
import type { GeneratedToken, GenerateParams, GenerationResult, InferenceEngineInit } from './engine.ts'
import type { Hex32, GgufSummary } from './gguf/inspect.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'

/** What the miner and oracle roles use (LlamaInferenceEngine implements it). */
export interface InferenceEngine {
  /** sha256 of the GGUF file as 0x-prefixed bytes32 hex */
  readonly modelId: Hex32
  readonly modelPath: string
  readonly summary: GgufSummary
  readonly threads: number
  readonly sequences: number
  readonly contextSize: number
  readonly queued: number
  readonly closed: boolean
  /** how chat messages become prompt tokens (`chat.name`: the template a task reports) */
  readonly chat: Pick<ChatRenderer, 'name'>
  tokenizePrompt(prompt: string): number[]
  /** prompt tokens of a task's input, chat messages rendered with the model's template (generation and replay use it) */
  renderPrompt(input: PromptInput): RenderedPrompt
  detokenize(tokens: number[]): string
  generate(prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): AsyncGenerator<GeneratedToken, GenerationResult, undefined>
  complete(prompt: PromptInput, params?: GenerateParams, signal?: AbortSignal): Promise<GenerationResult>
  close(): Promise<void>
}

/** Load a model and return the engine (alias of createInferenceEngine with the narrow interface type). */
export async function loadInferenceEngine (init: InferenceEngineInit): Promise<InferenceEngine> {
  return createInferenceEngine(init)
}

export { createInferenceEngine, LlamaInferenceEngine, resolveParams } from './engine.ts'
export type { GeneratedToken, GenerateParams, GenerationResult, InferenceEngineInit, KvCacheType, ResolvedParams } from './engine.ts'
export { replayCheck, DEFAULT_REPLAY_POLICY } from './replay.ts'
export { checkGrammarSampling, taskGrammar, GrammarWalk } from './grammar.ts'
export type { TaskGrammar } from './grammar.ts'
export { chatRenderer, chatHistory, JINJA_TEMPLATE } from './chat.ts'
export type { ChatRenderer, RenderedPrompt } from './chat.ts'
export type { ReplayRequest, ReplayResult } from './replay.ts'
export { createEmbedder, cosineSimilarity, embeddingMismatch, embeddingOutliers, Embedder, EMBEDDING_REPLAY_MIN_COSINE, modelEmbedder } from './embeddings.ts'
export type { EmbedderInit } from './embeddings.ts'
export { probeHardware, benchmarkEngine, classifyHardware, measureHardware } from './hardware.ts'
export type { HardwareClass, HardwareProbe, HardwareBenchmark, HardwareReport } from './hardware.ts'
export { getSharedLlama, disposeSharedLlamas, availableBackends } from './llama.ts'
export { benchmarkCapability, capabilityFingerprint, hardwareFacts, measureCapability } from './capability.ts'
export type { Capability, HardwareFacts } from './capability.ts'
export { throttleEngine } from './throttle.ts'
export type { GpuChoice } from './llama.ts'
export { generateModel, GENERATOR_REVISION, inspectGguf, modelIdOf, presetParameters, isPresetName, PRESETS, PRESET_NAMES } from './gguf/index.ts'
export type { GgufSummary, Hex32, PresetName, TensorTypeName } from './gguf/index.ts'
export * from './errors.ts'
export type { ReplayVerdict, ReplayPolicy, ReplayEvidence, FinishReason, PositionScore } from '../../protocols/replay/index.ts'
