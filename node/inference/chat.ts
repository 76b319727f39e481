/**
 * Chat messages to prompt tokens with the model's own chat template: the
 * Jinja template in the GGUF (`tokenizer.chat_template`), rendered by
 * node-llama-cpp's JinjaTemplateChatWrapper. The miner's generation and the
 * oracle's replay both call `renderPrompt`, so an honest output replays on
 * exactly the tokens it was generated from; the template is part of the
 * hashed model file, so every holder of a model id renders alike.
 *
 * What is template text (the turn markers) is tokenized with special tokens
 * on, what the caller wrote is not: a user who types `<|im_start|>` gets
 * those characters, not the control token. The model's BOS comes first when
 * its tokenizer asks for one and the template did not write it (llama.cpp's
 * server does the same).
 *
 * Roles: system and developer are system turns, user a user turn, assistant
 * a model turn; a tool or function message (whose call the router never
 * produces) is a user turn that starts `Tool: ` (`Tool (name): `), as in the
 * plain transcript. A chat always ends with the assistant's turn opened (the
 * template's generation prompt); a chat whose last message is the
 * assistant's continues that message. Adjacent messages of one role are
 * joined, as node-llama-cpp does for templates that require alternation.
 *
 * A model without a template, or with one node-llama-cpp cannot parse, gets
 * the plain transcript (protocols/prompt `renderTranscript`).
 */
import { logger } from '@libp2p/logger'
import { JinjaTemplateChatWrapper, resolveChatWrapper } from 'node-llama-cpp'
import { PLAIN_TRANSCRIPT, renderTranscript, roleLabel } from '../../protocols/prompt/index.ts'
import { ChatTemplateError } from './errors.ts'
import type { ChatMessage } from '../../protocols/prompt/index.ts'
import type { ChatHistoryItem, LlamaModel } from 'node-llama-cpp'

const log = logger('cortensor:inference:chat')

/** The name a task reports for a template node-llama-cpp does not recognise as a known format. */
export const JINJA_TEMPLATE = 'JinjaTemplate'

export interface RenderedPrompt {
  tokens: number[]
  /** the template a chat was rendered with; undefined for a plain prompt */
  chatTemplate?: string
}

/** Renders chat messages to the tokens a model is prompted with. */
export interface ChatRenderer {
  /**
   * `ChatML`, `Llama 3.1`, …: the format node-llama-cpp recognises the
   * model's template as; `JinjaTemplate` for one it does not; `plain` when
   * the model has no usable template
   */
  readonly name: string
  render(messages: ChatMessage[]): number[]
}

/** The model's chat renderer: its own template when the GGUF has one that parses, else the plain transcript. */
export function chatRenderer (model: LlamaModel, tokenizePlain: (text: string) => number[]): ChatRenderer {
  const template = templateOf(model)
  if (template == null) {
    return plainRenderer(tokenizePlain)
  }
  let wrapper: JinjaTemplateChatWrapper
  try {
    wrapper = new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer })
  } catch (err: any) {
    log.error('the chat template of %s does not parse, chats get the plain transcript: %s', model.filename ?? 'the model', err?.message ?? err)
    return plainRenderer(tokenizePlain)
  }
  const name = formatName(model)
  const bos = model.tokens.bos
  const addBos = bos != null && model.tokens.shouldPrependBosToken
  return {
    name,
    render: (messages) => {
      let text
      try {
        text = wrapper.generateContextState({ chatHistory: chatHistory(messages) }).contextText
      } catch (err: any) {
        throw new ChatTemplateError(name, String(err?.message ?? err).split('\n')[0])
      }
      const tokens: number[] = text.tokenize(model.tokenizer)
      return addBos && tokens[0] !== bos ? [bos, ...tokens] : tokens
    }
  }
}

function plainRenderer (tokenizePlain: (text: string) => number[]): ChatRenderer {
  return { name: PLAIN_TRANSCRIPT, render: (messages) => tokenizePlain(renderTranscript(messages)) }
}

function templateOf (model: LlamaModel): string | undefined {
  const template: unknown = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template
  return typeof template === 'string' && template.trim() !== '' ? template : undefined
}

/** The format node-llama-cpp recognises the model's template as (its chat wrapper's name), or JINJA_TEMPLATE. */
function formatName (model: LlamaModel): string {
  try {
    const resolved = resolveChatWrapper({
      fileInfo: model.fileInfo,
      tokenizer: model.tokenizer,
      bosString: model.tokens.bosString,
      warningLogs: false,
      fallbackToOtherWrappersOnJinjaError: false
    })
    return resolved == null || resolved instanceof JinjaTemplateChatWrapper ? JINJA_TEMPLATE : resolved.wrapperName
  } catch {
    return JINJA_TEMPLATE
  }
}

/** The messages as node-llama-cpp's chat history, ending with the assistant's (open) turn. */
export function chatHistory (messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
    switch (m.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text: m.content }
      case 'assistant':
        return { type: 'model', response: [m.content] }
      case 'tool':
      case 'function':
        return { type: 'user', text: `${roleLabel(m)}: ${m.content}` }
      default:
        return { type: 'user', text: m.content }
    }
  })
  history.push({ type: 'model', response: [] })
  return history
}

/** Tokens of `input` for this model: a plain prompt as it is, chat messages through `renderer`. */
export function renderPromptWith (renderer: ChatRenderer, tokenizePlain: (text: string) => number[], input: string | { messages: ChatMessage[] }): RenderedPrompt {
  if (typeof input === 'string') {
    return { tokens: tokenizePlain(input) }
  }
  return { tokens: renderer.render(input.messages), chatTemplate: renderer.name }
}
