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
