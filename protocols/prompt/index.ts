/**
 * What a task asks the model: a plain prompt, or chat messages that the
 * miner and the replaying oracle render with the model's own chat template
 * (node/inference/chat.ts). The prompt document in Helia is dag-json
 * `{ prompt }` or `{ messages }`; its CID is what the chain commits to, so
 * the messages themselves (not one rendering of them) are the task.
 *
 * The plain transcript (`renderTranscript`) is the rendering for a model
 * whose GGUF has no chat template, and the text a task shows people
 * (listings, dashboards, usage estimates) whatever model runs it.
 *
 * Browser-safe: the SDK, the router and the page build and check documents
 * with these functions.
 */

import { checkResponseFormat } from './format.ts'
import type { ResponseFormat } from './format.ts'

export { checkResponseFormat, grammarSchema, parseSchema, InvalidResponseFormatError, UnsupportedSchemaError, MAX_SCHEMA_LENGTH } from './format.ts'
export type { ResponseFormat } from './format.ts'

/** Roles a chat message may have (OpenAI's). */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const
export type ChatRole = typeof CHAT_ROLES[number]

/** Most messages in one chat (the router's limit too). */
export const MAX_CHAT_MESSAGES = 2048
/** Longest `name` of a message, in characters (OpenAI's limit is 64; names longer than this are refused). */
export const MAX_CHAT_NAME_LENGTH = 256

/** The name a task reports for the plain transcript (no chat template, or a plain prompt rendered as a chat). */
export const PLAIN_TRANSCRIPT = 'plain'

export interface ChatMessage {
  role: ChatRole
  content: string
  /** the participant's name; absent (never undefined) when not given, as dag-json refuses undefined */
  name?: string
}

/**
 * A task's input: a prompt run as it is, or chat messages rendered with the
 * model's template, optionally with the format the answer must have (JSON,
 * or JSON matching a schema: format.ts).
 */
export type PromptInput = string | ChatInput

export interface ChatInput {
  messages: ChatMessage[]
  /** absent (never undefined) for free text */
  responseFormat?: ResponseFormat
}

/** The prompt document: exactly one of `prompt` or `messages` (with its optional response format). */
export type PromptDoc = { prompt: string } | ChatInput

/**
 * An embedding task's input: the texts whose embedding vectors the miners
 * compute with the task's model (OpenAI's `/v1/embeddings`). Its document is
 * `{ embed: [...] }`, committed on chain like a prompt document.
 */
export interface EmbedInput {
  embed: string[]
}

/** What a task asks for: generation (a prompt or a chat) or embeddings. */
export type TaskInput = PromptInput | EmbedInput

/** Most texts one embedding task carries (OpenAI allows 2048 per request; a task's output document must stay small). */
export const MAX_EMBED_INPUTS = 256

export function isEmbedInput (input: unknown): input is EmbedInput {
  return input != null && typeof input === 'object' && 'embed' in input
}

/** Check the texts of an embedding task: a non-empty list of non-empty strings. */
export function checkEmbedInputs (value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidPromptError('embed', 'must be a non-empty array of strings')
  }
  if (value.length > MAX_EMBED_INPUTS) {
    throw new InvalidPromptError('embed', `at most ${MAX_EMBED_INPUTS} texts`)
  }
  value.forEach((t, i) => {
    if (typeof t !== 'string' || t.length === 0) {
      throw new InvalidPromptError(`embed[${i}]`, 'must be a non-empty string')
    }
  })
  return [...value]
}

/** The document of any task input (what the SDK stores and the chain commits to). */
export function taskDoc (input: TaskInput): PromptDoc | EmbedInput {
  return isEmbedInput(input) ? { embed: checkEmbedInputs(input.embed) } : promptDoc(input)
}

/** The input a fetched task document asks for: an embedding task, or a prompt or chat (parsePromptDoc). */
export function parseTaskDoc (doc: unknown): TaskInput {
  if (doc != null && typeof doc === 'object' && !Array.isArray(doc) && (doc as Record<string, unknown>).embed !== undefined) {
    const d = doc as Record<string, unknown>
    if (Object.keys(d).length !== 1) {
      throw new InvalidPromptError('prompt document', 'an embedding task has only `embed`')
    }
    return { embed: checkEmbedInputs(d.embed) }
  }
  return parsePromptDoc(doc)
}

/** The text of any task input as people see it (listings): the prompt, the chat's transcript, or the texts to embed one per line. */
export function taskText (input: TaskInput): string {
  return isEmbedInput(input) ? input.embed.join('\n') : promptText(input)
}

/** A prompt document (or one of its messages) does not have the shape a task needs. */
export class InvalidPromptError extends Error {
  static name = 'InvalidPromptError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`${field}: ${reason}`)
    this.name = 'InvalidPromptError'
    this.field = field
  }
}

const ROLE_SET = new Set<string>(CHAT_ROLES)

export function isChatRole (role: unknown): role is ChatRole {
  return typeof role === 'string' && ROLE_SET.has(role)
}

/** Check chat messages (from a document or an SDK caller); returns them without extra fields. */
export function checkMessages (value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidPromptError('messages', 'must be a non-empty array of messages')
  }
  if (value.length > MAX_CHAT_MESSAGES) {
    throw new InvalidPromptError('messages', `at most ${MAX_CHAT_MESSAGES} messages`)
  }
  return value.map((m: unknown, i) => {
    const at = `messages[${i}]`
    if (m == null || typeof m !== 'object' || Array.isArray(m)) {
      throw new InvalidPromptError(at, 'must be an object with role and content')
    }
    const { role, content, name } = m as Record<string, unknown>
    if (!isChatRole(role)) {
      throw new InvalidPromptError(`${at}.role`, `must be one of ${CHAT_ROLES.join(', ')}`)
    }
    if (typeof content !== 'string') {
      throw new InvalidPromptError(`${at}.content`, 'must be a string')
    }
    if (name != null && (typeof name !== 'string' || name.length > MAX_CHAT_NAME_LENGTH)) {
      throw new InvalidPromptError(`${at}.name`, `must be a string of at most ${MAX_CHAT_NAME_LENGTH} characters`)
    }
    return name == null || name === '' ? { role, content } : { role, content, name }
  })
}

/** The document that stores `input` (what the SDK puts in Helia and announces). */
export function promptDoc (input: PromptInput): PromptDoc {
  return typeof input === 'string' ? { prompt: input } : chatInput(input.messages, input.responseFormat)
}

/** Checked chat input; a response format of the wrong shape is an InvalidPromptError naming it. */
function chatInput (messages: unknown, format: unknown): ChatInput {
  const checked = checkMessages(messages)
  if (format === undefined || format === null) {
    return { messages: checked }
  }
  try {
    return { messages: checked, responseFormat: checkResponseFormat(format) }
  } catch (err: any) {
    throw new InvalidPromptError('responseFormat', String(err.message))
  }
}

/** The input a fetched prompt document asks for; InvalidPromptError when it is neither shape. */
export function parsePromptDoc (doc: unknown): PromptInput {
  if (doc == null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InvalidPromptError('prompt document', 'must be an object')
  }
  const d = doc as Record<string, unknown>
  if (d.embed !== undefined) {
    throw new InvalidPromptError('prompt document', 'is an embedding task, not a prompt')
  }
  if (d.prompt !== undefined && d.messages !== undefined) {
    throw new InvalidPromptError('prompt document', 'has both prompt and messages')
  }
  if (d.responseFormat !== undefined && d.messages === undefined) {
    throw new InvalidPromptError('prompt document', 'a response format needs chat messages')
  }
  if (typeof d.prompt === 'string') {
    return d.prompt
  }
  if (d.messages !== undefined) {
    return chatInput(d.messages, d.responseFormat)
  }
  throw new InvalidPromptError('prompt document', 'has neither a prompt string nor messages')
}

/** A Map, not an object literal: a role named `constructor` must not find a prototype key. */
const ROLE_LABEL = new Map<string, string>([
  ['system', 'System'],
  ['developer', 'System'],
  ['user', 'User'],
  ['assistant', 'Assistant'],
  ['tool', 'Tool'],
  ['function', 'Tool']
])

/**
 * The plain transcript of a chat, the same for every model:
 *
 * ```
 * System: <system or developer message>
 *
 * User: <user message>
 *
 * Assistant:
 * ```
 *
 * Each message is `<Role>: <content>` followed by a blank line; the text
 * ends with `Assistant:` so the model continues as the assistant.
 * `developer` renders as System, `tool` and `function` as Tool; a message's
 * `name` is added in parentheses (`User (alice): …`).
 */
export function renderTranscript (messages: ChatMessage[]): string {
  let out = ''
  for (const m of messages) {
    out += `${roleLabel(m)}: ${m.content}\n\n`
  }
  return `${out}Assistant:`
}

/** `User`, `System`, `Tool (lookup)`: how the plain transcript names a message's author. */
export function roleLabel (m: Pick<ChatMessage, 'role' | 'name'>): string {
  return `${ROLE_LABEL.get(m.role) ?? 'User'}${m.name != null ? ` (${m.name})` : ''}`
}

/** The text of an input as people see it: the prompt, or the chat's plain transcript. */
export function promptText (input: PromptInput): string {
  return typeof input === 'string' ? input : renderTranscript(input.messages)
}
