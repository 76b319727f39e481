/** Typed errors of the session-queue state machine. */

/** The event is not allowed in the task's current phase (or the miner's current status). */
export class IllegalTransitionError extends Error {
  static name = 'IllegalTransitionError'
  readonly phase: string
  readonly event: string

  constructor (phase: string, event: string, detail?: string) {
    super(`event ${event} is not allowed in ${phase}${detail != null ? `: ${detail}` : ''}`)
    this.name = 'IllegalTransitionError'
    this.phase = phase
    this.event = event
  }
}

/** The task already reached Settled or Expired; nothing more can happen to it. */
export class TaskFinishedError extends Error {
  static name = 'TaskFinishedError'

  constructor (phase: string, event: string) {
    super(`task is ${phase}; event ${event} ignored`)
    this.name = 'TaskFinishedError'
  }
}

/** The event names a miner that is not assigned to the task. */
export class UnknownMinerError extends Error {
  static name = 'UnknownMinerError'
  readonly miner: string

  constructor (miner: string) {
    super(`miner ${miner} is not assigned to this task`)
    this.name = 'UnknownMinerError'
    this.miner = miner
  }
}

/** The same event from the same miner arrived twice. */
export class DuplicateEventError extends Error {
  static name = 'DuplicateEventError'

  constructor (event: string, miner: string) {
    super(`duplicate ${event} from ${miner}`)
    this.name = 'DuplicateEventError'
  }
}

/** A reveal arrived before the reveal window opened (it would let others copy it). */
export class PrematureRevealError extends Error {
  static name = 'PrematureRevealError'

  constructor (miner: string) {
    super(`reveal from ${miner} before the reveal window opened`)
    this.name = 'PrematureRevealError'
  }
}

/** The event itself is malformed (empty miner list, stale round, …). */
export class InvalidEventError extends Error {
  static name = 'InvalidEventError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidEventError'
  }
}

/** A serialised state does not parse into a task state of this version. */
export class CorruptStateError extends Error {
  static name = 'CorruptStateError'

  constructor (reason: string) {
    super(`corrupt task state: ${reason}`)
    this.name = 'CorruptStateError'
  }
}
