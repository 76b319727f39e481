/**
 * Chat messages become one prompt with a plain transcript template, the same
 * for every model (the network's models carry no chat template the router
 * could trust):
 *
 * ```
 * System: <system or developer message>
 *
 * User: <user message>
 *
 * Assistant: <earlier assistant message>
 *
 * User: <user message>
 *
 * Assistant:
 * ```
 *
 * Each message is `<Role>: <content>` followed by a blank line; the prompt
 * ends with `Assistant:` so the model continues as the assistant. `developer`
 * renders as System, `tool` as Tool. A message's `name` is added in
 * parentheses (`User (alice): …`). Content is a string, or an array of
 * `{ type: 'text', text }` parts that are joined without separator; other
 * part types (images, audio, files) are refused with a 400.
 */
import { invalidParam } from './errors.ts'

/** A Map, not an object literal: a role named `constructor` or `__proto__` must not find a prototype key. */
const ROLE_LABEL = new Map<string, string>([
  ['system', 'System'],
  ['developer', 'System'],
  ['user', 'User'],
  ['assistant', 'Assistant'],
  ['tool', 'Tool'],
  ['function', 'Tool']
])

export const MAX_MESSAGES = 2048

export interface ChatMessage {
  role: string
  content: string
  name?: string
}

/** Validate OpenAI chat `messages`; errors name the offending element (`messages[2].content`). */
export function parseMessages (value: unknown): ChatMessage[] {
  if (!Array.isArray(value)) {
    throw invalidParam('messages', value === undefined ? 'is required' : 'must be an array of messages', value === undefined ? 'missing_required_parameter' : 'invalid_type')
  }
  if (value.length === 0) {
    throw invalidParam('messages', 'must contain at least one message')
  }
  if (value.length > MAX_MESSAGES) {
    throw invalidParam('messages', `at most ${MAX_MESSAGES} messages`)
  }
  return value.map((m, i) => {
    const at = `messages[${i}]`
    if (m == null || typeof m !== 'object' || Array.isArray(m)) {
      throw invalidParam(at, 'must be an object with role and content', 'invalid_type')
    }
    const role = (m as Record<string, unknown>).role
    if (typeof role !== 'string' || !ROLE_LABEL.has(role)) {
      throw invalidParam(`${at}.role`, `must be one of ${[...ROLE_LABEL.keys()].join(', ')}`)
    }
    const content = textOf((m as Record<string, unknown>).content, `${at}.content`, role)
    const name = (m as Record<string, unknown>).name
    if (name != null && (typeof name !== 'string' || name.length > 256)) {
      throw invalidParam(`${at}.name`, 'must be a string of at most 256 characters', 'invalid_type')
    }
    return name == null || name === '' ? { role, content } : { role, content, name }
  })
}

function textOf (content: unknown, at: string, role: string): string {
  if (typeof content === 'string') {
    return content
  }
  // an assistant message that only carried tool calls has null content
  if (content == null && role === 'assistant') {
    return ''
  }
  if (Array.isArray(content)) {
    return content.map((part, j) => {
      if (part == null || typeof part !== 'object') {
        throw invalidParam(`${at}[${j}]`, 'must be a content part object', 'invalid_type')
      }
      const p = part as Record<string, unknown>
      if (p.type !== 'text' || typeof p.text !== 'string') {
        throw invalidParam(`${at}[${j}]`, `only text parts are supported (got type ${JSON.stringify(p.type) ?? 'none'})`, 'unsupported_content')
      }
      return p.text
    }).join('')
  }
  throw invalidParam(at, content === undefined ? 'is required' : 'must be a string or an array of text parts', content === undefined ? 'missing_required_parameter' : 'invalid_type')
}

/** The prompt the miners run for a chat. */
export function renderChat (messages: ChatMessage[]): string {
  let out = ''
  for (const m of messages) {
    const label = ROLE_LABEL.get(m.role) ?? 'User'
    out += `${label}${m.name != null ? ` (${m.name})` : ''}: ${m.content}\n\n`
  }
  return `${out}Assistant:`
}
