/**
 * Errors the CLI turns into one line on stderr and exit code 2 (bad input).
 * Anything else that escapes a command exits 1 with its message only;
 * set DEBUG=cortensor:* to see the stack.
 */
export class CliUsageError extends Error {
  static name = 'CliUsageError'
  readonly exitCode = 2

  constructor (message: string) {
    super(message)
    this.name = 'CliUsageError'
  }
}

/** An option value that cannot be used; the message names the flag. */
export class InvalidOptionError extends CliUsageError {
  static name = 'InvalidOptionError'

  constructor (flag: string, reason: string) {
    super(`${flag}: ${reason}`)
    this.name = 'InvalidOptionError'
  }
}

export function isUsageError (err: unknown): err is CliUsageError {
  return err instanceof CliUsageError || (err as { exitCode?: unknown } | undefined)?.exitCode === 2
}

/** `node withdraw` found neither earnings nor an unlocked stake (exit code 1: not bad input, nothing to do). */
export class NothingToWithdrawError extends Error {
  static name = 'NothingToWithdrawError'

  constructor (node: string, detail: string) {
    super(`nothing to withdraw for ${node}: ${detail}`)
    this.name = 'NothingToWithdrawError'
  }
}

/** A command was interrupted (Ctrl-C) while it waited. */
export class InterruptedError extends Error {
  static name = 'InterruptedError'

  constructor () {
    super('interrupted')
    this.name = 'InterruptedError'
  }
}

/** `task submit` saw no peer subscribed to the model's task topic in time. */
export class NoTopicPeerError extends Error {
  static name = 'NoTopicPeerError'

  constructor (topic: string, waitedS: number) {
    super(`no peer on ${topic} after ${waitedS} s: is the bootstrap reachable and the network's miners serving this session's model?`)
    this.name = 'NoTopicPeerError'
  }
}
