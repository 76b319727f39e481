/**
 * Chat messages of an OpenAI request, checked field by field (errors name
 * the element: `messages[2].content`). The router does not render them: the
 * task carries the messages (protocols/prompt), and each miner renders them
 * with its model's own chat template, the replaying oracle the same way
 * (node/inference/chat.ts). `renderChat` is the plain transcript, the
 * rendering for a model without a template and the text task listings show.
 *
 * Content is a string, or an array of `{ type: 'text', text }` parts that
 * are joined without separator; other part types (images, audio, files) are
 * refused with a 400.
 */
import { CHAT_ROLES, isChatRole, MAX_CHAT_MESSAGES, MAX_CHAT_NAME_LENGTH, renderTranscript } from '../../../protocols/prompt/index.ts'
import { invalidParam } from './errors.ts'
import type { ChatMessage } from '../../../protocols/prompt/index.ts'

export type { ChatMessage } from '../../../protocols/prompt/index.ts'

export const MAX_MESSAGES = MAX_CHAT_MESSAGES

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
    if (!isChatRole(role)) {
      throw invalidParam(`${at}.role`, `must be one of ${CHAT_ROLES.join(', ')}`)
    }
    const content = textOf((m as Record<string, unknown>).content, `${at}.content`, role)
    const name = (m as Record<string, unknown>).name
    if (name != null && (typeof name !== 'string' || name.length > MAX_CHAT_NAME_LENGTH)) {
      throw invalidParam(`${at}.name`, `must be a string of at most ${MAX_CHAT_NAME_LENGTH} characters`, 'invalid_type')
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

/** The plain transcript of a chat (protocols/prompt). */
export function renderChat (messages: ChatMessage[]): string {
  return renderTranscript(messages)
}
