/**
 * The inference area: a GGUF model loaded by path, generation for miners,
 * the replay check for oracles, embeddings for the embedding-distance check,
 * hardware classification for the capability advertisement, and the
 * deterministic GGUF generator used for tests, benchmarks and the devnet.
 */
import { createInferenceEngine } from './engine.ts'
import type { InferenceEngineInit } from './engine.ts'
import type { InferenceEngine } from './types.ts'

export type { InferenceEngine } from './types.ts'

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
