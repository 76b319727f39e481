/**
 * Replay fixtures: honest greedy outputs of a generated model, recorded on
 * some engine (a GPU, or the CPU with other settings), that the CPU engine
 * must judge valid. Written by bench/record-replay-fixture.ts (and
 * `npm run bench -- replay --record-fixture <file>`), replayed by
 * replay-fixtures.spec.ts from the replay-fixtures/ folder beside this file.
 */
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { PRESET_NAMES } from '../../node/inference/gguf/index.ts'
import type { LlamaInferenceEngine } from '../../node/inference/engine.ts'
import type { Hex32, PresetName, TensorTypeName } from '../../node/inference/gguf/index.ts'
import type { FinishReason } from '../../protocols/replay/index.ts'

export const REPLAY_FIXTURE_DIR = fileURLToPath(new URL('./replay-fixtures/', import.meta.url))

export interface ReplayFixtureOutput {
  prompt: string
  params: { maxTokens: number }
  tokens: number[]
  finishReason: FinishReason
}

export interface ReplayFixture {
  version: 1
  /** the generated model: `model generate --preset P --seed S [--type T]` gives a file with this id everywhere */
  model: { preset: PresetName, seed: number, type?: TensorTypeName, modelId: Hex32 }
  /** the engine the outputs were generated on */
  generatedOn: {
    /** node-llama-cpp's backend: 'cuda', 'vulkan', 'metal' or 'cpu' */
    backend: string
    /** GPU device names, or the CPU model */
    device: string
    flashAttention: boolean
    kvCacheType: string
    threads: number
    batchSize: number
  }
  outputs: ReplayFixtureOutput[]
}

/** Backend and device of an engine, as fixtures and the replay benchmark print them. */
export async function engineDevice (engine: LlamaInferenceEngine): Promise<{ backend: string, device: string }> {
  const gpu = engine.llama.gpu
  if (gpu === false) {
    return { backend: 'cpu', device: cpus()[0]?.model ?? 'unknown CPU' }
  }
  const names = await engine.llama.getGpuDeviceNames().catch(() => [])
  return { backend: gpu, device: names.length > 0 ? names.join(', ') : 'unknown GPU' }
}

/** A fixture of these honest outputs, generated on `engine` from the given model. */
export async function replayFixture (engine: LlamaInferenceEngine, model: Omit<ReplayFixture['model'], 'modelId'>, outputs: ReplayFixtureOutput[]): Promise<ReplayFixture> {
  const { backend, device } = await engineDevice(engine)
  return {
    version: 1,
    model: { ...model, modelId: engine.modelId },
    generatedOn: {
      backend,
      device,
      flashAttention: engine.flashAttention,
      kvCacheType: engine.kvCacheType,
      threads: engine.threads,
      batchSize: engine.batchSize
    },
    outputs
  }
}

/** Check a parsed fixture file's shape (a broken fixture fails the test that reads it, naming the problem). */
export function parseReplayFixture (json: unknown, name: string): ReplayFixture {
  const bad = (what: string): never => {
    throw new TypeError(`replay fixture ${name}: ${what}`)
  }
  const f = json as ReplayFixture
  if (f == null || typeof f !== 'object' || f.version !== 1) {
    bad('not a version 1 fixture')
  }
  if (!PRESET_NAMES.includes(f.model?.preset) || !Number.isInteger(f.model?.seed) || !/^0x[0-9a-f]{64}$/.test(f.model?.modelId ?? '')) {
    bad('model must name a preset, a seed and the model id')
  }
  if (!Array.isArray(f.outputs) || f.outputs.length === 0) {
    bad('no outputs')
  }
  for (const [i, o] of f.outputs.entries()) {
    if (typeof o.prompt !== 'string' || !Number.isInteger(o.params?.maxTokens) || !Array.isArray(o.tokens) ||
      !o.tokens.every(t => Number.isInteger(t)) || !['length', 'eos', 'stop'].includes(o.finishReason)) {
      bad(`output ${i} must have prompt, params.maxTokens, tokens and finishReason`)
    }
  }
  return f
}
