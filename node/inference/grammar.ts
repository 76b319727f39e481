/**
 * Grammar-constrained output: a chat task's response format
 * (protocols/prompt/format.ts) as a llama.cpp grammar. `json_object` is
 * node-llama-cpp's JSON grammar, `json_schema` its JSON-schema grammar; the
 * miner generates under it and the replaying oracle walks the claimed tokens
 * through the same grammar (replay.ts), so a token the grammar forbids is
 * never a candidate and a claimed one fails the output.
 *
 * Grammar output is greedy only: with temperature > 0 llama.cpp samples
 * first and applies the grammar only when the draw is forbidden, a
 * distribution the replay cannot recompute per position at a cost near
 * prefill. A sampled task with a response format is refused everywhere
 * (router, miner, replay) with an error naming `temperature`.
 *
 * node-llama-cpp keeps the step-by-step grammar checks (can this token come
 * next, accept it) internal to its chat code; `GrammarWalk` reaches them
 * through the binding in this one place. test/inference/grammar.spec.ts
 * fails if an upgrade moves them.
 */
import { LlamaGrammarEvaluationState } from 'node-llama-cpp'
import { grammarSchema, parseSchema } from '../../protocols/prompt/index.ts'
import { InvalidParamsError } from './errors.ts'
import type { PromptInput, ResponseFormat } from '../../protocols/prompt/index.ts'
import type { Llama, LlamaGrammar, LlamaModel } from 'node-llama-cpp'

/** A response format's grammar with the stop strings node-llama-cpp pairs with it. */
export interface TaskGrammar {
  grammar: LlamaGrammar
  /**
   * strings that end the generation (the JSON grammars end the value with
   * four newlines; node-llama-cpp's chat stops there): added to the task's
   * stop sequences by the miner and by the replay alike
   */
  stop: string[]
}

interface AddonSamplerStatics {
  canBeNextTokenForGrammarEvaluationState(state: unknown, token: number): boolean
  acceptGrammarEvaluationStateToken(state: unknown, token: number): void
}

const cache = new WeakMap<Llama, Map<string, Promise<TaskGrammar>>>()

/** The response format a task's input asks for (undefined: free text). */
export function formatOf (input: PromptInput): ResponseFormat | undefined {
  return typeof input === 'string' ? undefined : input.responseFormat
}

/** Grammar output is greedy only (see the file comment). */
export function checkGrammarSampling (input: PromptInput, temperature: number | undefined): void {
  if (formatOf(input) != null && (temperature ?? 0) > 0) {
    throw new InvalidParamsError('temperature', 'a response format (JSON output) is generated greedily: temperature must be 0')
  }
}

/** The grammar of a task's response format, built once per Llama binding and format; undefined for free text. */
export async function taskGrammar (llama: Llama, input: PromptInput): Promise<TaskGrammar | undefined> {
  const format = formatOf(input)
  if (format == null) {
    return undefined
  }
  const key = format.type === 'json_schema' ? `schema:${format.schema}` : format.type
  let perLlama = cache.get(llama)
  if (perLlama == null) {
    perLlama = new Map()
    cache.set(llama, perLlama)
  }
  let p = perLlama.get(key)
  if (p == null) {
    p = buildGrammar(llama, format)
    perLlama.set(key, p)
    p.catch(() => perLlama.delete(key))
  }
  return p
}

async function buildGrammar (llama: Llama, format: ResponseFormat): Promise<TaskGrammar> {
  let grammar: LlamaGrammar
  try {
    grammar = format.type === 'json_object'
      ? await llama.getGrammarFor('json')
      : await llama.createGrammarForJsonSchema(grammarSchema(parseSchema(format.schema)) as any)
  } catch (err: any) {
    throw new InvalidParamsError('responseFormat', String(err?.message ?? err).split('\n')[0])
  }
  const stop = grammar.stopGenerationTriggers
    .map(t => Array.isArray(t) ? (t.every(v => typeof v === 'string') ? t.join('') : '') : String(t))
    .filter(s => s.length > 0)
  return { grammar, stop }
}

/** A fresh evaluation state of the grammar (one per generation). */
export function grammarState (model: LlamaModel, g: TaskGrammar): LlamaGrammarEvaluationState {
  return new LlamaGrammarEvaluationState({ model, grammar: g.grammar })
}

/** Walks claimed tokens through a grammar: which tokens may come next, and accepting one. */
export class GrammarWalk {
  private readonly state: LlamaGrammarEvaluationState
  private readonly statics: AddonSamplerStatics

  constructor (llama: Llama, state: LlamaGrammarEvaluationState) {
    this.state = state
    this.statics = (llama as any)._bindings.AddonSampler
  }

  static of (llama: Llama, model: LlamaModel, g: TaskGrammar): GrammarWalk {
    return new GrammarWalk(llama, grammarState(model, g))
  }

  /** The grammar allows `token` next (an end-of-generation token: only where the value is complete). */
  allows (token: number): boolean {
    return this.statics.canBeNextTokenForGrammarEvaluationState((this.state as any)._state, token)
  }

  accept (token: number): void {
    this.statics.acceptGrammarEvaluationStateToken((this.state as any)._state, token)
  }

  clone (): GrammarWalk {
    return new GrammarWalk((this.state as any)._llama, this.state.clone())
  }
}
