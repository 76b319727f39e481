/**
 * Request bodies: checked against their schemas (schemas.ts, check.ts), then
 * turned into what the task runner takes. Checks a schema cannot say stay
 * here as code: which fields come first (refused fields, `prompt` or
 * `messages`), and rules across fields. Fields that would change what the
 * caller gets but cannot be honoured (tools, log-probabilities, …) are
 * refused (unsupported.ts); fields that leave the answer alone (penalties,
 * `user`, `metadata`, …) are accepted and not used.
 */
import { checkResponseFormat, UnsupportedSchemaError } from '../../../protocols/prompt/index.ts'
import { bodyCheck, checkBody, describe, registerCoded } from './check.ts'
import { invalidParam, unsupportedParam } from './errors.ts'
import { parseMessages, renderChat } from './prompt.ts'
import { bodySchemas } from './schemas.ts'
import { refuseUnsupported } from './unsupported.ts'
import type { Body, BodyCheck } from './check.ts'
import type { ResolvedRouterOptions } from './options.ts'
import type { ChatMessage } from './prompt.ts'
import type { SubmitParams } from '../../../client/types.ts'
import type { ResponseFormat } from '../../../protocols/prompt/index.ts'

export { asBody } from './check.ts'
export type { Body } from './check.ts'
export { MAX_REFERENCE_LENGTH, MAX_STOP_SEQUENCES } from './schemas.ts'

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

export interface RouterBodies { chat: BodyCheck, text: BodyCheck, cortensor: BodyCheck, embeddings: BodyCheck }

const BODIES = new WeakMap<ResolvedRouterOptions, RouterBodies>()

/** The body checks of a router with these options (compiled once). */
export function routerBodies (o: ResolvedRouterOptions): RouterBodies {
  let bodies = BODIES.get(o)
  if (bodies == null) {
    const s = bodySchemas(o.maxTokensLimit)
    bodies = {
      chat: bodyCheck(s.chat, b => { refuseUnsupported(b, 'chat') }, [{ after: 'response_format', check: greedyFormat }]),
      text: bodyCheck(s.text, b => { refuseUnsupported(b, 'text') }),
      cortensor: bodyCheck(s.cortensor, promptOrMessages),
      embeddings: bodyCheck(s.embeddings)
    }
    BODIES.set(o, bodies)
  }
  return bodies
}

registerCoded('ChatMessages', parseMessages)
registerCoded('ResponseFormat', parseResponseFormat)

function present (b: Body, name: string): boolean {
  return b[name] !== undefined && b[name] !== null
}

/** A Cortensor body has `prompt` or `messages`, checked before anything else. */
function promptOrMessages (b: Body): void {
  if (present(b, 'messages') && present(b, 'prompt')) {
    throw invalidParam('messages', 'give prompt or messages, not both')
  }
  if (!present(b, 'messages') && !present(b, 'prompt')) {
    throw invalidParam('prompt', 'is required (or messages)', 'missing_required_parameter')
  }
}

/** A response format other than text is generated greedily. */
function greedyFormat (b: Body): void {
  if (parseResponseFormat(b.response_format) != null && ((b.temperature as number | null | undefined) ?? 0) > 0) {
    throw invalidParam('temperature', 'a response_format other than text is generated greedily on this network: give temperature 0 or leave it out', 'unsupported_value')
  }
}

/** Sampling fields shared by every dialect (a checked body). */
function sampling (b: Body, o: ResolvedRouterOptions, maxTokensField: unknown): { maxTokens: number, params: TaskRequest['params'] } {
  const params: TaskRequest['params'] = {}
  const maxTokens = (maxTokensField as number | undefined) ?? o.defaultMaxTokens
  if (maxTokens != null) {
    params.maxTokens = maxTokens
  }
  const fields = { temperature: 'temperature', top_p: 'topP', top_k: 'topK', seed: 'seed' } as const
  for (const [name, param] of Object.entries(fields)) {
    if (present(b, name)) {
      params[param] = b[name] as number
    }
  }
  if (present(b, 'stop')) {
    const stop = typeof b.stop === 'string' ? [b.stop] : b.stop as string[]
    if (stop.length > 0) {
      params.stop = stop
    }
  }
  // the SDK's default when the router has none
  return { maxTokens: maxTokens ?? 64, params }
}

function streamFields (b: Body): { stream: boolean, includeUsage: boolean } {
  return { stream: b.stream === true, includeUsage: (b.stream_options as Body | null | undefined)?.include_usage === true }
}

function reference (b: Body, name: string, params: TaskRequest['params']): void {
  if (present(b, name)) {
    params.clientReference = b[name] as string
  }
}

/** `POST /v1/chat/completions` */
export function parseChatRequest (body: unknown, o: ResolvedRouterOptions): TaskRequest {
  return chatTask(checkBody(routerBodies(o).chat, body), o)
}

/** A checked chat body → its task. */
export function chatTask (b: Body, o: ResolvedRouterOptions): TaskRequest {
  const messages = parseMessages(b.messages)
  const { maxTokens, params } = sampling(b, o, b.max_completion_tokens ?? b.max_tokens)
  reference(b, 'user', params)
  const responseFormat = parseResponseFormat(b.response_format)
  return { prompt: renderChat(messages), messages, ...(responseFormat != null ? { responseFormat } : {}), model: b.model as string, ...streamFields(b), maxTokens, params }
}

/**
 * OpenAI's `response_format`: `text` (or absent) is free text; `json_object`
 * and `json_schema` (`json_schema: { name, schema, strict?, description? }`)
 * become the task's response format. A schema keyword the grammar cannot
 * enforce is a 400 `unsupported_parameter` naming the keyword and where it is.
 */
export function parseResponseFormat (value: unknown): ResponseFormat | undefined {
  if (value == null) {
    return undefined
  }
  const rf = value as Body
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
  return completionTask(checkBody(routerBodies(o).text, body), o)
}

/** A checked completions body → its task. */
export function completionTask (b: Body, o: ResolvedRouterOptions): TaskRequest {
  const prompt = typeof b.prompt === 'string' ? b.prompt : (b.prompt as string[])[0]
  const { maxTokens, params } = sampling(b, o, b.max_tokens)
  reference(b, 'user', params)
  return { prompt, model: b.model as string, ...streamFields(b), maxTokens, params }
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
  const b = checkBody(routerBodies(o).cortensor, body)
  const messages = present(b, 'messages') ? parseMessages(b.messages) : undefined
  const prompt = messages != null ? renderChat(messages) : b.prompt as string
  const { maxTokens, params } = sampling(b, o, b.max_tokens)
  if (present(b, 'timeout')) {
    params.timeoutMs = Math.round(b.timeout as number * 1000)
  }
  reference(b, 'client_reference', params)
  const model = present(b, 'model') ? b.model as string : undefined
  return { prompt, ...(messages != null ? { messages } : {}), model, stream: b.stream === true, includeUsage: false, maxTokens, params }
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
