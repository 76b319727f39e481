/**
 * Request bodies, checked by hand rather than with fastify's JSON schemas:
 * fastify's validator coerces types by default (`max_tokens: true` would
 * become 1, `null` would become 0), and an OpenAI-style error must name the
 * offending `param`. `null` counts as absent, as in OpenAI's API. Fields that
 * would change what the caller gets but cannot be honoured (tools,
 * log-probabilities, …) are refused (unsupported.ts); fields that leave the
 * answer alone (penalties, `user`, `metadata`, …) are accepted and not used.
 */
import { checkResponseFormat, UnsupportedSchemaError } from '../../../protocols/prompt/index.ts'
import { ApiError, invalidParam, unsupportedParam } from './errors.ts'
import { parseMessages, renderChat } from './prompt.ts'
import { refuseUnsupported } from './unsupported.ts'
import type { ResolvedRouterOptions } from './options.ts'
import type { ChatMessage } from './prompt.ts'
import type { SubmitParams } from '../../../client/types.ts'
import type { ResponseFormat } from '../../../protocols/prompt/index.ts'

export const MAX_STOP_SEQUENCES = 4
export const MAX_REFERENCE_LENGTH = 256

/** What every completion route hands to the task runner. */
export interface TaskRequest {
  /** the prompt, or a chat's plain transcript (what listings show and usage estimates count) */
  prompt: string
  /** a chat's messages: the task carries them, and miners render them with the model's template */
  messages?: ChatMessage[]
  /** a chat's response format (JSON, JSON matching a schema): the task carries it, miners generate under its grammar */
  responseFormat?: ResponseFormat
  /** an embedding task's texts (`/v1/embeddings`): miners compute their vectors instead of generating */
  embed?: string[]
  /** as requested; undefined: the session's model */
  model?: string
  stream: boolean
  /** OpenAI `stream_options.include_usage` */
  includeUsage: boolean
  /** the effective `max_tokens` (the router's or SDK's default when absent) */
  maxTokens: number
  params: Omit<SubmitParams, 'signal' | 'sessionId'>
}

export type Body = Record<string, unknown>

export function asBody (body: unknown): Body {
  if (typeof body === 'string') {
    throw new ApiError(400, 'invalid_request', 'request body must be a JSON object sent as Content-Type: application/json')
  }
  if (body == null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_request', 'request body must be a JSON object')
  }
  return body as Body
}

function present (b: Body, name: string): boolean {
  return b[name] !== undefined && b[name] !== null
}

export function optInteger (b: Body, name: string, min: number, max: number): number | undefined {
  if (!present(b, name)) {
    return undefined
  }
  const v = b[name]
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw invalidParam(name, `must be an integer (got ${describe(v)})`, 'invalid_type')
  }
  if (v < min || v > max) {
    throw invalidParam(name, `must be between ${min} and ${max} (got ${v})`)
  }
  return v
}

export function optNumber (b: Body, name: string, min: number, max: number): number | undefined {
  if (!present(b, name)) {
    return undefined
  }
  const v = b[name]
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw invalidParam(name, `must be a number (got ${describe(v)})`, 'invalid_type')
  }
  if (v < min || v > max) {
    throw invalidParam(name, `must be between ${min} and ${max} (got ${v})`)
  }
  return v
}

export function optBoolean (b: Body, name: string): boolean | undefined {
  if (!present(b, name)) {
    return undefined
  }
  const v = b[name]
  if (typeof v !== 'boolean') {
    throw invalidParam(name, `must be true or false (got ${describe(v)})`, 'invalid_type')
  }
  return v
}

export function optString (b: Body, name: string, maxLength: number): string | undefined {
  if (!present(b, name)) {
    return undefined
  }
  const v = b[name]
  if (typeof v !== 'string') {
    throw invalidParam(name, `must be a string (got ${describe(v)})`, 'invalid_type')
  }
  if (v.length > maxLength) {
    throw invalidParam(name, `must be at most ${maxLength} characters`)
  }
  return v
}

function optStop (b: Body): string[] | undefined {
  if (!present(b, 'stop')) {
    return undefined
  }
  const v = b.stop
  const list = typeof v === 'string' ? [v] : v
  if (!Array.isArray(list) || list.some(s => typeof s !== 'string')) {
    throw invalidParam('stop', 'must be a string or an array of strings', 'invalid_type')
  }
  if (list.length > MAX_STOP_SEQUENCES) {
    throw invalidParam('stop', `at most ${MAX_STOP_SEQUENCES} sequences`)
  }
  if (list.some(s => s === '' || s.length > 256)) {
    throw invalidParam('stop', 'each sequence must be 1 to 256 characters')
  }
  return list.length === 0 ? undefined : list
}

function describe (v: unknown): string {
  if (Array.isArray(v)) {
    return 'an array'
  }
  if (typeof v === 'number') {
    return String(v)
  }
  return typeof v
}

/** Sampling fields shared by every dialect. */
function sampling (b: Body, o: ResolvedRouterOptions, maxTokensField: number | undefined): { maxTokens: number, params: TaskRequest['params'] } {
  const params: TaskRequest['params'] = {}
  const maxTokens = maxTokensField ?? o.defaultMaxTokens
  if (maxTokens != null) {
    params.maxTokens = maxTokens
  }
  const temperature = optNumber(b, 'temperature', 0, 2)
  if (temperature != null) {
    params.temperature = temperature
  }
  const topP = optNumber(b, 'top_p', 0, 1)
  if (topP === 0) {
    throw invalidParam('top_p', 'must be greater than 0 and at most 1')
  }
  if (topP != null) {
    params.topP = topP
  }
  const topK = optInteger(b, 'top_k', 0, 100_000)
  if (topK != null) {
    params.topK = topK
  }
  const seed = optInteger(b, 'seed', 0, Number.MAX_SAFE_INTEGER)
  if (seed != null) {
    params.seed = seed
  }
  const stop = optStop(b)
  if (stop != null) {
    params.stop = stop
  }
  // the SDK's default when the router has none
  return { maxTokens: maxTokens ?? 64, params }
}

function maxTokensOf (b: Body, o: ResolvedRouterOptions, names: string[]): number | undefined {
  let value: number | undefined
  for (const name of names) {
    if (!present(b, name)) {
      continue
    }
    const v = b[name]
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw invalidParam(name, `must be a positive integer (got ${describe(v)})`, 'invalid_type')
    }
    if (v < 1) {
      throw invalidParam(name, `must be at least 1 (got ${v})`)
    }
    if (v > o.maxTokensLimit) {
      throw invalidParam(name, `must be at most ${o.maxTokensLimit} on this router (got ${v})`)
    }
    value ??= v
  }
  return value
}

function checkN (b: Body): void {
  const n = optInteger(b, 'n', 1, 128)
  if (n != null && n !== 1) {
    throw invalidParam('n', 'only n = 1 is supported (one completion per task)', 'unsupported_value')
  }
}

function streamFields (b: Body): { stream: boolean, includeUsage: boolean } {
  const stream = optBoolean(b, 'stream') ?? false
  let includeUsage = false
  if (present(b, 'stream_options')) {
    const so = b.stream_options
    if (typeof so !== 'object' || Array.isArray(so)) {
      throw invalidParam('stream_options', 'must be an object', 'invalid_type')
    }
    includeUsage = optBoolean(so as Body, 'include_usage') ?? false
  }
  return { stream, includeUsage }
}

function modelField (b: Body, required: boolean): string | undefined {
  const model = optString(b, 'model', 256)
  if (model == null && required) {
    throw invalidParam('model', 'is required (GET /v1/models lists the models served now)', 'missing_required_parameter')
  }
  return model
}

/** `POST /v1/chat/completions` */
export function parseChatRequest (body: unknown, o: ResolvedRouterOptions): TaskRequest {
  const b = asBody(body)
  refuseUnsupported(b, 'chat')
  const model = modelField(b, true)
  const messages = parseMessages(b.messages)
  const prompt = renderChat(messages)
  checkN(b)
  const { maxTokens, params } = sampling(b, o, maxTokensOf(b, o, ['max_completion_tokens', 'max_tokens']))
  const user = optString(b, 'user', MAX_REFERENCE_LENGTH)
  if (user != null) {
    params.clientReference = user
  }
  const responseFormat = parseResponseFormat(b)
  if (responseFormat != null && (params.temperature ?? 0) > 0) {
    throw invalidParam('temperature', 'a response_format other than text is generated greedily on this network: give temperature 0 or leave it out', 'unsupported_value')
  }
  return { prompt, messages, ...(responseFormat != null ? { responseFormat } : {}), model, ...streamFields(b), maxTokens, params }
}

/**
 * OpenAI's `response_format`: `text` (or absent) is free text; `json_object`
 * and `json_schema` (`json_schema: { name, schema, strict?, description? }`)
 * become the task's response format. A schema keyword the grammar cannot
 * enforce is a 400 `unsupported_parameter` naming the keyword and where it is.
 */
export function parseResponseFormat (b: Body): ResponseFormat | undefined {
  if (!present(b, 'response_format')) {
    return undefined
  }
  const rf = b.response_format as Body
  if (rf.type === 'text') {
    return undefined
  }
  if (rf.type === 'json_object') {
    return { type: 'json_object' }
  }
  const js = rf.json_schema
  if (js == null || typeof js !== 'object' || Array.isArray(js)) {
    throw invalidParam('response_format.json_schema', 'is required with type json_schema: an object with name and schema', 'missing_required_parameter')
  }
  const name = (js as Body).name
  if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
    throw invalidParam('response_format.json_schema.name', 'must be 1 to 64 letters, digits, underscores or dashes')
  }
  const schema = (js as Body).schema
  if (schema == null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw invalidParam('response_format.json_schema.schema', 'must be a JSON schema object', schema == null ? 'missing_required_parameter' : 'invalid_type')
  }
  try {
    return checkResponseFormat({ type: 'json_schema', schema: JSON.stringify(schema) })
  } catch (err: any) {
    if (err instanceof UnsupportedSchemaError) {
      throw unsupportedParam('response_format.json_schema.schema', err.message)
    }
    throw invalidParam('response_format.json_schema.schema', String(err?.message ?? err))
  }
}

/** `POST /v1/completions` */
export function parseCompletionRequest (body: unknown, o: ResolvedRouterOptions): TaskRequest {
  const b = asBody(body)
  refuseUnsupported(b, 'text')
  const model = modelField(b, true)
  let prompt: string
  const p = b.prompt
  if (typeof p === 'string') {
    prompt = p
  } else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') {
    prompt = p[0]
  } else if (p === undefined || p === null) {
    throw invalidParam('prompt', 'is required', 'missing_required_parameter')
  } else {
    throw invalidParam('prompt', 'must be a string (or an array of one string); token arrays and batches are not supported', 'invalid_type')
  }
  checkN(b)
  if (optInteger(b, 'best_of', 1, 128) != null && b.best_of !== 1) {
    throw invalidParam('best_of', 'only best_of = 1 is supported', 'unsupported_value')
  }
  const { maxTokens, params } = sampling(b, o, maxTokensOf(b, o, ['max_tokens']))
  const user = optString(b, 'user', MAX_REFERENCE_LENGTH)
  if (user != null) {
    params.clientReference = user
  }
  return { prompt, model, ...streamFields(b), maxTokens, params }
}

/**
 * `POST /api/v1/completions[/:sessionId]` and the WebSocket's `submit`:
 * Cortensor's fields (`prompt`, `stream`, `max_tokens`, `temperature`,
 * `top_p`, `top_k`, `timeout` in seconds, `client_reference`) plus `seed`,
 * `stop` and an optional `model` that must be the session's. Instead of
 * `prompt`, `messages` (OpenAI's chat messages) asks for a chat that miners
 * render with the model's own template.
 */
export function parseCortensorRequest (body: unknown, o: ResolvedRouterOptions): TaskRequest {
  const b = asBody(body)
  let prompt = b.prompt
  let messages: ChatMessage[] | undefined
  if (present(b, 'messages')) {
    if (present(b, 'prompt')) {
      throw invalidParam('messages', 'give prompt or messages, not both')
    }
    messages = parseMessages(b.messages)
    prompt = renderChat(messages)
  }
  if (typeof prompt !== 'string') {
    throw invalidParam('prompt', prompt == null ? 'is required (or messages)' : 'must be a string', prompt == null ? 'missing_required_parameter' : 'invalid_type')
  }
  const model = modelField(b, false)
  const { maxTokens, params } = sampling(b, o, maxTokensOf(b, o, ['max_tokens']))
  const timeout = optNumber(b, 'timeout', 0.001, 24 * 3600)
  if (timeout != null) {
    params.timeoutMs = Math.round(timeout * 1000)
  }
  const ref = optString(b, 'client_reference', MAX_REFERENCE_LENGTH)
  if (ref != null) {
    params.clientReference = ref
  }
  return { prompt, ...(messages != null ? { messages } : {}), model, stream: optBoolean(b, 'stream') ?? false, includeUsage: false, maxTokens, params }
}

/**
 * An id in a body field (`session_id`): a decimal string, or a non-negative
 * safe integer. Anything else (`[1]`, `true`, `1.5`, `"0x1"`) is a 400, never
 * coerced through `String()`.
 */
export function parseIdField (value: unknown, param: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value)
  }
  if (typeof value === 'string' && /^\d{1,78}$/.test(value)) {
    return BigInt(value)
  }
  throw invalidParam(param, `must be a decimal integer id, as a string or a number (got ${describe(value)})`, 'invalid_type')
}

/** A decimal id in a path (`:sessionId`, `:taskId`). */
export function parseId (value: unknown, param: string): bigint {
  if (typeof value !== 'string' || !/^\d{1,78}$/.test(value)) {
    throw invalidParam(param, 'must be a decimal integer id')
  }
  return BigInt(value)
}
