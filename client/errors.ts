/** Typed errors of the client SDK; `code` is stable for HTTP and WebSocket mapping. */

export class TaskFailedError extends Error {
  static name = 'TaskFailedError'
  readonly code: string
  readonly taskId?: string

  constructor (code: string, message: string, taskId?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'TaskFailedError'
    this.code = code
    this.taskId = taskId
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
