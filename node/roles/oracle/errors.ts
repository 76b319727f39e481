/**
 * Typed errors of the oracle role: one class per failure, identified by `name`.
 */

/** This oracle could not replay a miner's output (not reachable yet, or its reveal not seen yet): tried again a few times. */
export class OutputNotReplayedError extends Error {
  static name = 'OutputNotReplayedError'
  readonly miner: string

  constructor (miner: string) {
    super(`the output of ${miner} could not be replayed here`)
    this.name = 'OutputNotReplayedError'
    this.miner = miner
  }
}

/** Two of the oracle's engines hold the same model: each model is replayed with one engine. */
export class DuplicateModelEngineError extends Error {
  static name = 'DuplicateModelEngineError'
  readonly modelId: string

  constructor (modelId: string) {
    super(`two engines hold model ${modelId}; give one engine per model`)
    this.name = 'DuplicateModelEngineError'
    this.modelId = modelId
  }
}
