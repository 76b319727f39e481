/**
 * Typed errors of the miner's work machine: one class per failure,
 * identified by `name`.
 */
import type { MinerWorkEvent, MinerWorkPhase } from './types.ts'

/** An event the miner's work cannot take in its phase. */
export class IllegalMinerEventError extends Error {
  static name = 'IllegalMinerEventError'
  readonly phase: MinerWorkPhase
  readonly event: MinerWorkEvent['type']

  constructor (phase: MinerWorkPhase, event: MinerWorkEvent['type']) {
    super(`${event} is not possible in phase ${phase}`)
    this.name = 'IllegalMinerEventError'
    this.phase = phase
    this.event = event
  }
}

/** A decline for a round this miner has already declined. */
export class AlreadyDeclinedError extends Error {
  static name = 'AlreadyDeclinedError'
  readonly round: number

  constructor (round: number) {
    super(`round ${round} is already declined`)
    this.name = 'AlreadyDeclinedError'
    this.round = round
  }
}
