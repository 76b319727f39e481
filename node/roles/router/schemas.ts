/**
 * The router's request bodies as JSON schemas (TypeBox). Each node carries
 * the OpenAI-style message its failure gets (`x-say`, read by check.ts):
 * `type` when the value has the wrong kind, `required` when it is missing,
 * `below` / `above` / `range` when it is out of bounds; `param` names the
 * field when it is not the failing path itself. Fields are listed in the
 * order they are checked: the first failing field is the one reported.
 * `null` counts as absent at the top level, as in OpenAI's API.
 */
import { Kind, Type } from '@sinclair/typebox'
import { MAX_EMBED_INPUTS } from '../../../protocols/prompt/index.ts'
import type { TSchema, TObject } from '@sinclair/typebox'

export const MAX_STOP_SEQUENCES = 4
export const MAX_REFERENCE_LENGTH = 256
/** Longest text one embedding input may be, in characters (the miner declines one longer than its embedding context in tokens). */
export const MAX_EMBED_INPUT_CHARS = 64 * 1024
/** Longest stop sequence, in characters */
const MAX_STOP_LENGTH = 256
/** Longest model name, in characters */
const MAX_MODEL_LENGTH = 256

/** What a failing node answers: `{got}` in a message is the value as the caller sees it (`an array`, `string`, `3`). */
export interface Say { code?: string, message: string, param?: string }
export interface SayAll {
  param?: string
  type?: Say
  required?: Say
  below?: Say
  above?: Say
  range?: Say
}
export const SAY = 'x-say'

const say = (s: SayAll): Record<string, SayAll> => ({ [SAY]: s })
const invalidType = (message: string): Say => ({ code: 'invalid_type', message })
const between = (min: number, max: number): Say => ({ message: `must be between ${min} and ${max} (got {got})` })

const integer = (min: number, max: number): TSchema =>
  Type.Integer({ minimum: min, maximum: max, ...say({ type: invalidType('must be an integer (got {got})'), range: between(min, max) }) })
const number = (min: number, max: number): TSchema =>
  Type.Number({ minimum: min, maximum: max, ...say({ type: invalidType('must be a number (got {got})'), range: between(min, max) }) })
const boolean = (): TSchema => Type.Boolean(say({ type: invalidType('must be true or false (got {got})') }))
const string = (maxLength: number): TSchema =>
  Type.String({ maxLength, ...say({ type: invalidType('must be a string (got {got})'), range: { message: `must be at most ${maxLength} characters` } }) })
/** a value that must be absent: the field asks for what the router cannot do */
const refused = (param: string, message: string): TSchema => Type.Never(say({ type: { code: 'unsupported_parameter', message }, param }))
/** a body field checked by code (a registered kind, see check.ts) */
export const coded = (kind: string): TSchema => Type.Unsafe({ [Kind]: kind })

const model = (required: boolean): TSchema => Type.String({
  maxLength: MAX_MODEL_LENGTH,
  ...say({
    type: invalidType('must be a string (got {got})'),
    range: { message: `must be at most ${MAX_MODEL_LENGTH} characters` },
    ...(required ? { required: { code: 'missing_required_parameter', message: 'is required (GET /v1/models lists the models served now)' } } : {})
  })
})

/** only one value of an otherwise valid range is served (`n`, `best_of`) */
const onlyOne = (name: string, max: number, why: string): TSchema => Type.Intersect([
  integer(1, max),
  Type.Integer({ maximum: 1, ...say({ above: { code: 'unsupported_value', message: `only ${name} = 1 is supported${why}` } }) })
])

const maxTokens = (limit: number): TSchema => Type.Integer({
  minimum: 1,
  maximum: limit,
  ...say({
    type: invalidType('must be a positive integer (got {got})'),
    below: { message: 'must be at least 1 (got {got})' },
    above: { message: `must be at most ${limit} on this router (got {got})` }
  })
})

const stopSequence = Type.String({ minLength: 1, maxLength: MAX_STOP_LENGTH, ...say({ param: 'stop', range: { message: `each sequence must be 1 to ${MAX_STOP_LENGTH} characters` } }) })
const stopType = invalidType('must be a string or an array of strings')

/** Sampling fields shared by every dialect, in the order they are checked. */
const sampling = {
  temperature: number(0, 2),
  top_p: Type.Intersect([number(0, 1), Type.Number({ exclusiveMinimum: 0, ...say({ below: { message: 'must be greater than 0 and at most 1' } }) })]),
  top_k: integer(0, 100_000),
  seed: integer(0, Number.MAX_SAFE_INTEGER),
  stop: Type.Union([
    stopSequence,
    Type.Array(Type.String({ ...stopSequence, ...say({ param: 'stop', type: stopType, range: stopSequence[SAY].range }) }), {
      maxItems: MAX_STOP_SEQUENCES,
      ...say({ type: stopType, range: { message: `at most ${MAX_STOP_SEQUENCES} sequences` } })
    })
  ], say({ type: stopType }))
}

const streamFields = {
  stream: boolean(),
  stream_options: Type.Object({
    include_usage: Type.Optional(Type.Union([boolean(), Type.Null()], say({ param: 'include_usage', type: invalidType('must be true or false (got {got})') })))
  }, say({ type: invalidType('must be an object') }))
}

const optional = (fields: Record<string, TSchema>): Record<string, TSchema> =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Type.Optional(v)]))

/** The routes' body schemas for a router whose `max_tokens` may be at most `maxTokensLimit`. */
export function bodySchemas (maxTokensLimit: number): { chat: TObject, text: TObject, cortensor: TObject, embeddings: TObject } {
  const chat = Type.Object({
    model: model(true),
    messages: coded('ChatMessages'),
    ...optional({
      n: onlyOne('n', 128, ' (one completion per task)'),
      max_completion_tokens: maxTokens(maxTokensLimit),
      max_tokens: maxTokens(maxTokensLimit),
      ...sampling,
      user: string(MAX_REFERENCE_LENGTH),
      response_format: coded('ResponseFormat'),
      ...streamFields
    })
  })
  const text = Type.Object({
    model: model(true),
    prompt: Type.Union([Type.String(), Type.Tuple([Type.String()])], say({
      type: invalidType('must be a string (or an array of one string); token arrays and batches are not supported'),
      required: { code: 'missing_required_parameter', message: 'is required' }
    })),
    ...optional({
      n: onlyOne('n', 128, ' (one completion per task)'),
      best_of: onlyOne('best_of', 128, ''),
      max_tokens: maxTokens(maxTokensLimit),
      ...sampling,
      user: string(MAX_REFERENCE_LENGTH),
      ...streamFields
    })
  })
  const cortensor = Type.Object(optional({
    messages: coded('ChatMessages'),
    prompt: Type.String(say({ type: invalidType('must be a string') })),
    model: model(false),
    max_tokens: maxTokens(maxTokensLimit),
    ...sampling,
    timeout: number(0.001, 24 * 3600),
    client_reference: string(MAX_REFERENCE_LENGTH),
    stream: boolean()
  }))
  const inputType = invalidType('must be a string or a non-empty array of strings')
  const inputRange: Say = { message: `must be 1 to ${MAX_EMBED_INPUT_CHARS} characters` }
  const inputText = { minLength: 1, maxLength: MAX_EMBED_INPUT_CHARS }
  const embeddings = Type.Object({
    model: model(true),
    input: Type.Union([
      Type.String({ ...inputText, ...say({ range: inputRange, param: 'input[0]' }) }),
      Type.Array(Type.String({ ...inputText, ...say({ range: inputRange, type: { code: 'unsupported_parameter', message: 'token arrays are not supported: give the texts as strings', param: 'input' } }) }), {
        minItems: 1,
        maxItems: MAX_EMBED_INPUTS,
        ...say({ below: inputType, above: { message: `at most ${MAX_EMBED_INPUTS} texts per request` } })
      })
    ], say({ type: inputType, required: { code: 'missing_required_parameter', message: 'is required' } })),
    ...optional({
      encoding_format: Type.Union([Type.Literal('float'), Type.Literal('base64')], say({ type: { message: 'must be "float" or "base64"' } })),
      dimensions: refused('dimensions', 'the model\'s vectors are returned at their own size; shortening them is not supported'),
      user: string(MAX_REFERENCE_LENGTH)
    })
  })
  return { chat, text, cortensor, embeddings }
}
