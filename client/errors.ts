/** Typed errors of the client SDK; `code` is stable for HTTP and WebSocket mapping. */

/**
 * A task that did not settle. `code`: `timeout`, `expired`, `cancelled`,
 * `client-closed`, `no-accepted-output`, `result-unavailable`, and for a
 * task the assigned miners declined as one no miner of the model can run:
 * `context_length_exceeded` (prompt and max_tokens do not fit the model's
 * context; `promptTokens` and `contextTokens` say by how much) or
 * `invalid_params`.
 */
export class TaskFailedError extends Error {
  static name = 'TaskFailedError'
  readonly code: string
  readonly taskId?: string
  /** declined tasks: the prompt's tokens as the miners' model counts them */
  readonly promptTokens?: number
  /** declined tasks: the context one task may use on the miners */
  readonly contextTokens?: number
  /** tasks the network gave up (code `abandoned`): why, as the hub's `TaskAbandoned` log says (protocols/queue ABANDON_REASONS) */
  readonly reason?: string

  constructor (code: string, message: string, taskId?: string, options?: ErrorOptions & { promptTokens?: number, contextTokens?: number, reason?: string }) {
    super(message, options)
    this.name = 'TaskFailedError'
    this.code = code
    this.taskId = taskId
    this.promptTokens = options?.promptTokens
    this.contextTokens = options?.contextTokens
    this.reason = options?.reason
  }
}

export class InvalidSubmitParamsError extends Error {
  static name = 'InvalidSubmitParamsError'
  readonly param: string

  constructor (param: string, message: string) {
    super(`${param}: ${message}`)
    this.name = 'InvalidSubmitParamsError'
    this.param = param
  }
}

/**
 * No miner the leader's draw could pick for the session's task, as the
 * client's pool view sees it, so the task was not submitted (nothing paid,
 * nothing reserved): no live miner serves the model, or fewer than the
 * session's redundancy serve it or are free of other sessions'
 * reservations. `reason`: `no-miner-for-model`, `too-few-miners` or
 * `miners-reserved`; `retryAfterMs` estimates when a retry may succeed.
 */
export class NoEligibleMinerError extends Error {
  static name = 'NoEligibleMinerError'
  readonly code = 'no_eligible_miner'
  readonly reason: 'no-miner-for-model' | 'too-few-miners' | 'miners-reserved'
  /** miners the task needs (the session's redundancy) */
  readonly needed: number
  /** live miners of the model */
  readonly serving: number
  /** of those, free for this session */
  readonly available: number
  readonly retryAfterMs: number

  constructor (message: string, fields: { reason: NoEligibleMinerError['reason'], needed: number, serving: number, available: number, retryAfterMs: number }) {
    super(message)
    this.name = 'NoEligibleMinerError'
    this.reason = fields.reason
    this.needed = fields.needed
    this.serving = fields.serving
    this.available = fields.available
    this.retryAfterMs = fields.retryAfterMs
  }
}
