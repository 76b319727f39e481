/**
 * Checking a body against its schema (schemas.ts) and turning the first
 * failure into the router's OpenAI-style 400. The compiled check is TypeBox's,
 * without coercion (fastify's default validator would turn `max_tokens: true`
 * into 1). The same check runs as the routes' fastify validator
 * (`bodyValidatorCompiler`) and, for the WebSocket's messages and the
 * Cortensor routes, from code.
 */
import { Kind, TypeRegistry } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ValueErrorType } from '@sinclair/typebox/errors'
import { ApiError, invalidParam } from './errors.ts'
import { SAY } from './schemas.ts'
import type { SayAll, Say } from './schemas.ts'
import type { TObject, TSchema } from '@sinclair/typebox'
import type { TypeCheck } from '@sinclair/typebox/compiler'
import type { ValueError } from '@sinclair/typebox/errors'
import type { FastifySchemaCompiler } from 'fastify'

export type Body = Record<string, unknown>

/** A rule across fields, checked once the fields up to `after` have passed. */
export interface BodyRule {
  after: string
  check(b: Body): void
}

/** A route's body: code run before the schema (checks that come first), the schema, its compiled check, rules across fields. */
export interface BodyCheck {
  schema: TObject
  before?(b: Body): void
  compiled: TypeCheck<TObject>
  rules: BodyRule[]
}

/** Body fields checked by code (`coded(kind)` in a schema): the parser throws the field's ApiError. */
const CODED = new Map<string, (value: unknown) => unknown>()

export function registerCoded (kind: string, parse: (value: unknown) => unknown): void {
  CODED.set(kind, parse)
  TypeRegistry.Set(kind, (_schema, value) => {
    try {
      parse(value)
      return true
    } catch {
      return false
    }
  })
}

const CHECKS = new WeakMap<TSchema, BodyCheck>()

export function bodyCheck (schema: TObject, before?: (b: Body) => void, rules: BodyRule[] = []): BodyCheck {
  const check = { schema, before, compiled: TypeCompiler.Compile(schema), rules }
  CHECKS.set(schema, check)
  return check
}

export function asBody (body: unknown): Body {
  if (typeof body === 'string') {
    throw new ApiError(400, 'invalid_request', 'request body must be a JSON object sent as Content-Type: application/json')
  }
  if (body == null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_request', 'request body must be a JSON object')
  }
  return body as Body
}

/** The body when it passes; else the ApiError of its first failing field. */
export function checkBody (check: BodyCheck, body: unknown): Body {
  const b = asBody(body)
  check.before?.(b)
  // null counts as absent, as in OpenAI's API
  const present = Object.fromEntries(Object.entries(b).filter(([, v]) => v != null))
  const keys = Object.keys(check.schema.properties)
  const rulesUpTo = (i: number): void => {
    check.rules.filter(r => keys.indexOf(r.after) < i).forEach(r => { r.check(b) })
  }
  if (check.compiled.Check(present)) {
    rulesUpTo(keys.length)
    return b
  }
  const errors = [...check.compiled.Errors(present)]
  for (const [i, key] of keys.entries()) {
    const mine = errors.filter(e => e.path.split('/')[1] === key)
    if (mine.length > 0) {
      rulesUpTo(i)
      throw explain(mine, b[key], undefined)
    }
  }
  throw new ApiError(400, 'invalid_request', 'request body must be a JSON object')
}

/** fastify's validator for the router's routes: the route's `schema.body` must come from `bodyCheck`. */
export const bodyValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, url }) => {
  const check = CHECKS.get(schema)
  if (check == null) {
    throw new UncheckedSchemaError(url)
  }
  return (data: unknown) => {
    try {
      return { value: checkBody(check, data) }
    } catch (err: any) {
      return { error: err }
    }
  }
}

export class UncheckedSchemaError extends Error {
  static name = 'UncheckedSchemaError'
  constructor (url: string) {
    super(`the body schema of ${url} was not made with bodyCheck()`)
    this.name = 'UncheckedSchemaError'
  }
}

type Class = 'type' | 'required' | 'below' | 'above' | 'range'

function classOf (t: ValueErrorType): Class {
  switch (t) {
    case ValueErrorType.ObjectRequiredProperty: return 'required'
    case ValueErrorType.ArrayMinItems: case ValueErrorType.NumberMinimum: case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerMinimum: case ValueErrorType.IntegerExclusiveMinimum: case ValueErrorType.StringMinLength:
      return 'below'
    case ValueErrorType.ArrayMaxItems: case ValueErrorType.NumberMaximum: case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerMaximum: case ValueErrorType.IntegerExclusiveMaximum: case ValueErrorType.StringMaxLength:
      return 'above'
    case ValueErrorType.Array: case ValueErrorType.Boolean: case ValueErrorType.Integer: case ValueErrorType.Number:
    case ValueErrorType.Object: case ValueErrorType.String: case ValueErrorType.Tuple: case ValueErrorType.TupleLength:
    case ValueErrorType.Union: case ValueErrorType.Kind: case ValueErrorType.Literal: case ValueErrorType.Null: case ValueErrorType.Never:
      return 'type'
    default:
      return 'range'
  }
}

/** One field's errors → its ApiError: a wrong kind before a bound, a union's variant that fits the value's kind. */
function explain (errors: ValueError[], original: unknown, outer: { said: SayAll | undefined, path: string } | undefined): ApiError {
  const e = errors.find(x => classOf(x.type) === 'required') ?? errors.find(x => classOf(x.type) === 'type') ?? errors[0]
  const parse = CODED.get(e.schema[Kind])
  if (parse != null) {
    try {
      parse(original)
    } catch (err) {
      if (err instanceof ApiError) {
        return err
      }
      throw err
    }
  }
  const own: SayAll | undefined = e.schema[SAY]
  const said = own ?? outer?.said
  // a node without its own message speaks as the union around it, at the union's path
  const path = own == null && outer != null ? outer.path : e.path
  if (e.type === ValueErrorType.Union) {
    for (const variant of e.errors) {
      const list = [...variant]
      if (list.length > 0 && !(list[0].path === e.path && classOf(list[0].type) === 'type')) {
        return explain(list, original, { said, path })
      }
    }
  }
  const cls = classOf(e.type)
  const entry: Say | undefined = said?.[cls] ?? (cls === 'required' ? undefined : said?.range) ?? said?.type
  const param = entry?.param ?? said?.param ?? paramOf(path)
  if (entry == null) {
    return invalidParam(param, 'is not valid')
  }
  return invalidParam(param, entry.message.replace('{got}', describe(e.value)), entry.code)
}

/** `/input/3` → `input[3]`, `/a/b` → `a.b` */
function paramOf (path: string): string {
  return path.split('/').slice(1).map((p, i) => /^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`).join('')
}

export function describe (v: unknown): string {
  if (Array.isArray(v)) {
    return 'an array'
  }
  if (typeof v === 'number') {
    return String(v)
  }
  return typeof v
}
