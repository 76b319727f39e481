/**
 * The router's errors. Every failure a caller sees is an `ApiError`: an HTTP
 * status plus an OpenAI-style body `{ error: { message, type, code, param } }`,
 * the same shape over REST, inside an SSE stream and on the WebSocket.
 */
import { InvalidSubmitParamsError, NoEligibleMinerError, TaskFailedError } from '../../../client/errors.ts'
import { ContractRuleError } from '../../../contracts/errors.ts'

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error'

export interface ApiErrorBody {
  error: {
    message: string
    type: ApiErrorType
    code: string
    param: string | null
  }
}

export interface ApiErrorInit {
  type?: ApiErrorType
  param?: string | null
  headers?: Record<string, string>
}

export class ApiError extends Error {
  static name = 'ApiError'
  readonly status: number
  readonly type: ApiErrorType
  readonly code: string
  readonly param: string | null
  /** extra response headers (Retry-After, x-should-retry) */
  readonly headers: Record<string, string>

  constructor (status: number, code: string, message: string, init: ApiErrorInit = {}) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.type = init.type ?? defaultType(status)
    this.param = init.param ?? null
    this.headers = init.headers ?? {}
  }

  toBody (): ApiErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } }
  }
}

function defaultType (status: number): ApiErrorType {
  switch (status) {
    case 401: return 'authentication_error'
    case 402: return 'insufficient_quota'
    case 403: return 'permission_error'
    case 404: return 'not_found_error'
    case 429: return 'rate_limit_error'
    case 502: case 503: return 'upstream_error'
    case 504: return 'timeout_error'
    default: return status >= 500 ? 'server_error' : 'invalid_request_error'
  }
}

export function invalidParam (param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, code, `${param}: ${message}`, { param })
}

/** A request field the router cannot honour and will not ignore, because it changes what the caller gets. */
export function unsupportedParam (param: string, message: string): ApiError {
  return new ApiError(400, 'unsupported_parameter', `${param}: ${message}`, { param })
}

/**
 * Task failures are not worth retrying blindly: a retry is a new task charged
 * to the session. `x-should-retry: false` tells the official OpenAI clients
 * not to retry them (they retry 5xx by default).
 */
const NO_RETRY = { 'x-should-retry': 'false' }

/** The SDK's parameter names → the API's. */
const SDK_PARAMS: Record<string, string> = { maxTokens: 'max_tokens', topP: 'top_p', topK: 'top_k', timeoutMs: 'timeout', clientReference: 'client_reference' }

/** A chain rule that refused the task at submit (contracts/errors.ts: the Solidity error's name). */
function fromContractRule (rule: string, message: string): ApiError {
  const code = rule.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase()
  switch (rule) {
    case 'InsufficientDeposit':
    case 'SessionTaskLimit':
      return new ApiError(402, code, message, { type: 'insufficient_quota', headers: NO_RETRY })
    case 'UnknownSession':
      return new ApiError(404, 'session_not_found', message)
    case 'SessionIsClosed':
    case 'SessionExpired':
    case 'NotSessionOwner':
      return new ApiError(403, code, message, { type: 'permission_error', headers: NO_RETRY })
    case 'InvalidMaxTokens':
      return new ApiError(400, 'invalid_value', message, { param: 'max_tokens' })
    default:
      return new ApiError(502, code !== '' ? code : 'chain_error', `the chain refused the task: ${message}`, { headers: NO_RETRY })
  }
}

/** A task the SDK failed (TaskFailedError), by its code. */
function fromTaskFailure (code: string, message: string): ApiError {
  switch (code) {
    case 'client-closed':
      return new ApiError(503, 'router_stopping', 'the router is shutting down; retry on another router')
    // the assigned miners declined the task: it cannot run on the model, retrying it cannot help
    case 'context_length_exceeded':
      return new ApiError(400, code, message, { param: 'messages', headers: NO_RETRY })
    case 'invalid_params':
      return new ApiError(400, 'invalid_value', message, { headers: NO_RETRY })
    // the network gave the task up (its miners left, too few revealed, ...) and returned the deposit: a retry may succeed
    case 'abandoned':
      return new ApiError(503, 'task_abandoned', message, { headers: { 'retry-after': '1' } })
    case 'timeout':
    case 'expired':
      return new ApiError(504, code, `task did not finish in time: ${message}`, { headers: NO_RETRY })
    default:
      return new ApiError(502, code !== '' ? code : 'task_failed', `task failed: ${message}`, { headers: NO_RETRY })
  }
}

/**
 * Turn anything thrown while serving a request into an ApiError: fastify's
 * own request errors (body parsing, limits), the client SDK's and the
 * hub's typed errors (matched by class) and, last, unexpected bugs (500,
 * message hidden).
 */
export function toApiError (err: unknown): ApiError {
  if (err instanceof ApiError) {
    return err
  }
  const e = err as { name?: string, code?: unknown, message?: string, statusCode?: unknown, param?: unknown } | undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const code = typeof e?.code === 'string' ? e.code : ''

  // fastify's request errors
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'request_too_large', 'request body is larger than the router accepts')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'request body is empty; a JSON object is expected')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'send the request body as application/json')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_content_length', 'Content-Length does not match the body')
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'bad_url', 'the URL is not valid (a broken percent-encoding?)')
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(414, 'url_too_long', 'a path segment of the URL is too long')
    default:
      // any other fastify error is handled by its status code below
  }
  if (code.startsWith('FST_')) {
    const status = typeof e?.statusCode === 'number' ? e.statusCode : 500
    return status >= 400 && status < 500 ? new ApiError(status, 'invalid_request', message) : new ApiError(500, 'internal_error', 'internal error')
  }

  // the client SDK's errors, by class
  if (err instanceof InvalidSubmitParamsError) {
    const param = Object.hasOwn(SDK_PARAMS, err.param) ? SDK_PARAMS[err.param] : err.param
    return new ApiError(400, 'invalid_value', message, { param })
  }
  // a platform abort (the request's signal) or the SDK's cancellation
  if ((err instanceof Error && err.name === 'AbortError') || (err instanceof TaskFailedError && err.code === 'cancelled')) {
    return new ApiError(499, 'cancelled', 'the request was cancelled', { type: 'invalid_request_error' })
  }
  // no miner can take the session's task now (nothing was paid): say why and when to retry
  if (err instanceof NoEligibleMinerError) {
    const retryAfterS = Math.max(1, Math.ceil(err.retryAfterMs / 1000))
    return new ApiError(503, 'no_eligible_miner', message, { headers: { 'retry-after': String(retryAfterS) } })
  }
  if (err instanceof ContractRuleError) {
    return fromContractRule(err.rule, message)
  }
  if (err instanceof TaskFailedError) {
    return fromTaskFailure(err.code, message)
  }
  // a platform timeout (AbortSignal.timeout)
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new ApiError(504, 'timeout', `task did not finish in time: ${message}`, { headers: NO_RETRY })
  }

  // other errors raised by fastify or its plugins with a client status
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, 'invalid_request', message)
  }
  return new ApiError(500, 'internal_error', 'internal error')
}
