/**
 * Typed errors of the miner role: one class per failure, identified by `name`.
 */
import type { Decline } from '../../../protocols/messages/index.ts'

/** Why no miner of the model can run a task: its decline. */
export class TaskNotRunnableError extends Error {
  static name = 'TaskNotRunnableError'
  readonly reason: Decline.Reason
  readonly promptTokens: number
  readonly contextTokens: number

  constructor (reason: Decline.Reason, message: string, promptTokens: number, contextTokens: number) {
    super(message)
    this.name = 'TaskNotRunnableError'
    this.reason = reason
    this.promptTokens = promptTokens
    this.contextTokens = contextTokens
  }
}

/** A precommit for a task whose queue no longer takes one from this miner (replaced, timed out, not assigned). */
export class TooLateToPrecommitError extends Error {
  static name = 'TooLateToPrecommitError'
  /** the miner's slot status in the task's queue state, if it has a slot */
  readonly status?: string

  constructor (status?: string) {
    super(`too late to precommit (${status ?? 'not assigned'})`)
    this.name = 'TooLateToPrecommitError'
    this.status = status
  }
}
