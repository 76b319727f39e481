/**
 * Typed errors of gossip validation. Each is mapped to a gossipsub verdict in
 * `GOSSIP_ERROR_ACTIONS`: what the sender could not have sent honestly is
 * rejected (its peer score drops); what an honest peer may send late or twice
 * is ignored.
 */

/** The message is not signed by its author (strict signing is required). */
export class UnsignedMessageError extends Error {
  static name = 'UnsignedMessageError'

  constructor () {
    super('gossip message is not signed')
    this.name = 'UnsignedMessageError'
  }
}

/** The message claims an address that is not its signing peer's. */
export class ForgedSenderError extends Error {
  static name = 'ForgedSenderError'

  constructor (field: string, claimed: string, actual: string) {
    super(`${field} ${claimed} is not the sender ${actual}`)
    this.name = 'ForgedSenderError'
  }
}

/** A signature inside the message does not recover to its author. */
export class InvalidSignatureError extends Error {
  static name = 'InvalidSignatureError'

  constructor (reason: string) {
    super(reason)
    this.name = 'InvalidSignatureError'
  }
}

/** The message names a model its topic is not for. */
export class TopicMismatchError extends Error {
  static name = 'TopicMismatchError'

  constructor (reason: string) {
    super(reason)
    this.name = 'TopicMismatchError'
  }
}

/** The message is too old (deadline or timestamp passed). */
export class StaleMessageError extends Error {
  static name = 'StaleMessageError'

  constructor (reason: string) {
    super(reason)
    this.name = 'StaleMessageError'
  }
}

/** The same statement (kind, task, author, round) was already accepted. */
export class DuplicateMessageError extends Error {
  static name = 'DuplicateMessageError'

  constructor (key: string) {
    super(`duplicate ${key}`)
    this.name = 'DuplicateMessageError'
  }
}

/** The message refers to a task this node does not know (yet). */
export class UnknownTaskError extends Error {
  static name = 'UnknownTaskError'

  constructor (taskId: bigint) {
    super(`unknown task ${taskId}`)
    this.name = 'UnknownTaskError'
  }
}

/** An assignment from an oracle that is not the leader for this task. */
export class NotLeaderError extends Error {
  static name = 'NotLeaderError'

  constructor (address: string) {
    super(`${address} is not the leader`)
    this.name = 'NotLeaderError'
  }
}

/**
 * The message contradicts what only some nodes know: the chain (a task that
 * was never submitted, a false seed) or what an oracle holds (a commitment
 * another miner already made). Ignored, so gossipsub does not lower the
 * score of every peer that relayed it (a relay without that knowledge could
 * not tell); the validation wrapper scores its author instead
 * (`RecordContradictions`).
 */
export class ContradictsRecordError extends Error {
  static name = 'ContradictsRecordError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`${field}: ${reason}`)
    this.name = 'ContradictsRecordError'
    this.field = field
  }
}

/**
 * A heartbeat whose author's registration could not be read from the chain
 * now (the node's read budget is spent, or the read failed): ignored, and
 * nobody scored, until it can be read.
 */
export class RegistrationUnknownError extends Error {
  static name = 'RegistrationUnknownError'

  constructor (address: string) {
    super(`the registration of ${address} is not known yet`)
    this.name = 'RegistrationUnknownError'
  }
}

/**
 * A heartbeat of a miner registered on chain that the hub would not assign
 * now (it asked to unstake, or its stake fell below the minimum): ignored,
 * not held against it; it leaves the pools.
 */
export class NotAssignableError extends Error {
  static name = 'NotAssignableError'

  constructor (address: string) {
    super(`${address} is registered but not assignable now`)
    this.name = 'NotAssignableError'
  }
}

export type GossipAction = 'reject' | 'ignore'

/** Error name → verdict. Errors not listed are ignored (they may be our own fault) and logged. */
export const GOSSIP_ERROR_ACTIONS: Readonly<Record<string, GossipAction>> = {
  // the sender's fault: malformed, oversize, forged
  MalformedMessageError: 'reject',
  OversizeMessageError: 'reject',
  InvalidFieldError: 'reject',
  InvalidTopicError: 'reject',
  UnsignedMessageError: 'reject',
  ForgedSenderError: 'reject',
  InvalidSignatureError: 'reject',
  NotSecp256k1PeerError: 'reject',
  TopicMismatchError: 'reject',
  // honest peers may send these late, twice, or ahead of our view
  StaleMessageError: 'ignore',
  DuplicateMessageError: 'ignore',
  UnknownTaskError: 'ignore',
  // the author's fault, but relays could not tell: the wrapper scores the author (ContradictsRecordError)
  ContradictsRecordError: 'ignore',
  NotLeaderError: 'ignore',
  RegistrationUnknownError: 'ignore',
  NotAssignableError: 'ignore',
  IllegalTransitionError: 'ignore',
  TaskFinishedError: 'ignore',
  UnknownMinerError: 'ignore',
  DuplicateEventError: 'ignore',
  PrematureRevealError: 'ignore',
  InvalidEventError: 'ignore'
}
