/**
 * OpenAI request fields this network cannot honour. Each one changes what
 * the caller gets (tool calls instead of text, JSON instead of free text,
 * log-probabilities, audio, several choices, a biased vocabulary), so a
 * request that uses one is refused with a 400 `unsupported_parameter` naming
 * the field instead of being answered as if the field were absent. A field
 * at its neutral value (`tools: []`, `tool_choice: "none"`, `logprobs:
 * false`, `response_format: {"type": "text"}`, `modalities: ["text"]`, …)
 * asks for nothing and is accepted. Fields that leave the answer's shape
 * alone (penalties, `user`, `metadata`, `store`, `service_tier`,
 * `parallel_tool_calls`, `prediction`, `reasoning_effort`) stay accepted.
 */
import { unsupportedParam } from './errors.ts'
import type { Body } from './check.ts'

export type Dialect = 'chat' | 'text'

interface Rule {
  param: string
  dialects: readonly Dialect[]
  /** the value asks for nothing beyond plain text generation */
  neutral(v: unknown): boolean
  reason: string
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v != null && !Array.isArray(v)
const emptyList = (v: unknown): boolean => Array.isArray(v) && v.length === 0
const noneOrAuto = (v: unknown): boolean => v === 'none' || v === 'auto'
const never = (): boolean => false

const RULES: readonly Rule[] = [
  { param: 'tools', dialects: ['chat'], neutral: emptyList, reason: 'tool calling is not supported: miners generate plain text only' },
  { param: 'tool_choice', dialects: ['chat'], neutral: noneOrAuto, reason: 'tool calling is not supported: only "none" or "auto" (no tools) is accepted' },
  { param: 'functions', dialects: ['chat'], neutral: emptyList, reason: 'function calling is not supported: miners generate plain text only' },
  { param: 'function_call', dialects: ['chat'], neutral: noneOrAuto, reason: 'function calling is not supported: only "none" or "auto" (no functions) is accepted' },
  { param: 'response_format', dialects: ['chat'], neutral: v => isObject(v) && ['text', 'json_object', 'json_schema'].includes(v.type as string), reason: 'only {"type": "text"}, {"type": "json_object"} and {"type": "json_schema", "json_schema": {…}} are supported' },
  { param: 'logprobs', dialects: ['chat', 'text'], neutral: v => v === false || v === 0, reason: 'log-probabilities are not returned by this network' },
  { param: 'top_logprobs', dialects: ['chat'], neutral: v => v === 0, reason: 'log-probabilities are not returned by this network' },
  { param: 'logit_bias', dialects: ['chat', 'text'], neutral: v => isObject(v) && Object.keys(v).length === 0, reason: 'token biases are not supported: miners and the replay check sample from the model\'s own distribution' },
  { param: 'audio', dialects: ['chat'], neutral: never, reason: 'audio output is not supported: text only' },
  { param: 'modalities', dialects: ['chat'], neutral: v => Array.isArray(v) && v.every(m => m === 'text'), reason: 'only the "text" modality is supported' },
  { param: 'web_search_options', dialects: ['chat'], neutral: never, reason: 'web search is not supported' },
  { param: 'echo', dialects: ['text'], neutral: v => v === false, reason: 'echoing the prompt back is not supported' },
  { param: 'suffix', dialects: ['text'], neutral: v => v === '', reason: 'insertion (a suffix after the completion) is not supported' }
]

/** Throw a 400 `unsupported_parameter` for the first field of `b` that asks for something this network cannot do. */
export function refuseUnsupported (b: Body, dialect: Dialect): void {
  for (const rule of RULES) {
    const v = b[rule.param]
    // null counts as absent, as in OpenAI's API
    if (v === undefined || v === null || !rule.dialects.includes(dialect)) {
      continue
    }
    if (!rule.neutral(v)) {
      throw unsupportedParam(rule.param, rule.reason)
    }
  }
}
