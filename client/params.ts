/** What a submission is checked against before anything is stored or paid: its input and its sampling parameters. */
import { InvalidPromptError, taskDoc } from '../protocols/prompt/index.ts'
import { InvalidSubmitParamsError } from './errors.ts'
import type { SubmitParams } from './types.ts'
import type { EmbedInput, PromptDoc, TaskInput } from '../protocols/prompt/index.ts'

export const DEFAULT_MAX_TOKENS = 64

/** The document of a submitted input: a non-empty prompt, chat messages that pass checkMessages, or texts to embed. */
export function submittedDoc (input: TaskInput): PromptDoc | EmbedInput {
  if (typeof input === 'string') {
    if (input.length === 0) {
      throw new InvalidSubmitParamsError('prompt', 'must be a non-empty string')
    }
    return taskDoc(input)
  }
  if (input == null || typeof input !== 'object') {
    throw new InvalidSubmitParamsError('prompt', 'must be a non-empty string, { messages } or { embed }')
  }
  try {
    return taskDoc(input)
  } catch (err) {
    if (err instanceof InvalidPromptError) {
      throw new InvalidSubmitParamsError(err.field, err.message.slice(err.field.length + 2))
    }
    throw err
  }
}

export function checkParams (p: SubmitParams): void {
  const int = (name: string, v: number | undefined, min: number, max: number): void => {
    if (v != null && (!Number.isInteger(v) || v < min || v > max)) {
      throw new InvalidSubmitParamsError(name, `must be an integer in [${min}, ${max}], got ${v}`)
    }
  }
  int('maxTokens', p.maxTokens, 1, 32_768)
  int('topK', p.topK, 0, 1_000_000)
  int('seed', p.seed, 0, Number.MAX_SAFE_INTEGER)
  if (p.temperature != null && !(p.temperature >= 0 && p.temperature <= 2)) {
    throw new InvalidSubmitParamsError('temperature', `must be in [0, 2], got ${p.temperature}`)
  }
  if (p.topP != null && !(p.topP > 0 && p.topP <= 1)) {
    throw new InvalidSubmitParamsError('topP', `must be in (0, 1], got ${p.topP}`)
  }
  if (p.timeoutMs != null && !(p.timeoutMs > 0)) {
    throw new InvalidSubmitParamsError('timeoutMs', `must be positive, got ${p.timeoutMs}`)
  }
}
