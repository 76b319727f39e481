/**
 * A chat task's response format: free text (no format), any JSON object
 * (`json_object`), or JSON matching a JSON schema (`json_schema`). The format
 * is part of the prompt document, so the prompt CID the chain commits to
 * covers it: a miner cannot drop it, and the replaying oracle judges the
 * output against the same grammar the miner had to follow.
 *
 * The schema is stored as JSON text, not as a nested dag-json value: a schema
 * may use keys (`"/"`) that dag-json reads as links, and the text keeps the
 * caller's schema byte for byte.
 *
 * Miners turn the format into a llama.cpp grammar (node-llama-cpp's JSON
 * grammar, or its JSON-schema grammar). That grammar honours a subset of JSON
 * Schema; a schema using anything else is refused here, naming the keyword
 * and where it is, instead of being generated as if the keyword were absent.
 *
 * Browser-safe: the router, the SDK and the nodes check formats with this.
 */

export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema', schema: string }

/** Longest schema text a task may carry, in characters (prompt documents are inlined in gossip up to a few KiB, fetched beyond). */
export const MAX_SCHEMA_LENGTH = 64 * 1024
/** Deepest nesting of a schema (keeps the grammar and its check bounded). */
export const MAX_SCHEMA_DEPTH = 32

/** The format does not have the shape a task needs. */
export class InvalidResponseFormatError extends Error {
  static name = 'InvalidResponseFormatError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`${field}: ${reason}`)
    this.name = 'InvalidResponseFormatError'
    this.field = field
  }
}

/** The schema uses a JSON Schema keyword (or a value of one) that the grammar cannot enforce. */
export class UnsupportedSchemaError extends Error {
  static name = 'UnsupportedSchemaError'
  /** the keyword, e.g. `pattern` */
  readonly keyword: string
  /** where, as a JSON pointer into the schema (`#/properties/name`) */
  readonly at: string

  constructor (keyword: string, at: string, detail?: string) {
    super(`JSON schema keyword "${keyword}" at ${at} is not supported${detail != null ? ` (${detail})` : ''}: grammar-constrained output supports type, properties, required, additionalProperties, min/maxProperties, items, prefixItems, min/maxItems, min/maxLength, format (date, time, date-time), enum, const, oneOf, anyOf, $defs and $ref to #/$defs`)
    this.name = 'UnsupportedSchemaError'
    this.keyword = keyword
    this.at = at
  }
}

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array'])
const STRING_FORMATS = new Set(['date-time', 'time', 'date'])
/** keywords that describe and constrain nothing */
const ANNOTATIONS = new Set(['title', 'description', '$schema', '$id', '$comment', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly'])
/** keywords the grammar enforces (node-llama-cpp's GbnfJsonSchema) */
const SUPPORTED = new Set(['type', 'properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties', 'items', 'prefixItems', 'minItems', 'maxItems',
  'minLength', 'maxLength', 'format', 'enum', 'const', 'oneOf', 'anyOf', '$defs', '$ref'])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v != null && !Array.isArray(v)
const isScalar = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
const pointer = (at: string, key: string): string => `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`

function count (v: unknown, keyword: string, at: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new UnsupportedSchemaError(keyword, at, 'must be a non-negative integer')
  }
}

/** Check one (sub)schema and everything under it. */
function checkSchema (s: unknown, at: string, depth: number, defs: Set<string>): void {
  if (depth > MAX_SCHEMA_DEPTH) {
    throw new InvalidResponseFormatError('schema', `nested deeper than ${MAX_SCHEMA_DEPTH} levels at ${at}`)
  }
  if (s === true || (isObject(s) && Object.keys(s).every(k => ANNOTATIONS.has(k)))) {
    // the grammar has no "any value" schema (only `additionalProperties: true`)
    throw new UnsupportedSchemaError(s === true ? 'true' : '{}', at, 'a schema that allows any value; give a type')
  }
  if (!isObject(s)) {
    throw new UnsupportedSchemaError(typeof s === 'boolean' ? 'false' : 'schema', at, 'a schema must be an object')
  }
  for (const [k, v] of Object.entries(s)) {
    if (ANNOTATIONS.has(k)) {
      continue
    }
    if (!SUPPORTED.has(k)) {
      throw new UnsupportedSchemaError(k, at)
    }
    const here = pointer(at, k)
    switch (k) {
      case 'type': {
        const list = Array.isArray(v) ? v : [v]
        if (list.length === 0 || list.some(t => typeof t !== 'string' || !TYPES.has(t))) {
          throw new UnsupportedSchemaError('type', at, `must be one of ${[...TYPES].join(', ')} or a list of them`)
        }
        if (Array.isArray(v) && list.some(t => t === 'object' || t === 'array')) {
          throw new UnsupportedSchemaError('type', at, 'a list of types may hold only string, number, integer, boolean and null')
        }
        break
      }
      case 'properties':
      case '$defs':
        if (!isObject(v)) {
          throw new UnsupportedSchemaError(k, at, 'must be an object of schemas')
        }
        for (const [name, sub] of Object.entries(v)) {
          checkSchema(sub, pointer(here, name), depth + 1, defs)
        }
        break
      case 'required':
        if (!Array.isArray(v) || v.some(n => typeof n !== 'string')) {
          throw new UnsupportedSchemaError(k, at, 'must be a list of property names')
        }
        break
      case 'additionalProperties':
        if (typeof v !== 'boolean') {
          checkSchema(v, here, depth + 1, defs)
        }
        break
      case 'items':
        checkSchema(v, here, depth + 1, defs)
        break
      case 'prefixItems':
      case 'oneOf':
      case 'anyOf':
        if (!Array.isArray(v) || v.length === 0) {
          throw new UnsupportedSchemaError(k, at, 'must be a non-empty list of schemas')
        }
        v.forEach((sub, i) => { checkSchema(sub, pointer(here, String(i)), depth + 1, defs) })
        break
      case 'minProperties': case 'maxProperties': case 'minItems': case 'maxItems': case 'minLength': case 'maxLength':
        count(v, k, at)
        break
      case 'format':
        if (typeof v !== 'string' || !STRING_FORMATS.has(v)) {
          throw new UnsupportedSchemaError('format', at, `only ${[...STRING_FORMATS].join(', ')}`)
        }
        break
      case 'enum':
        if (!Array.isArray(v) || v.length === 0 || !v.every(isScalar)) {
          throw new UnsupportedSchemaError('enum', at, 'must be a non-empty list of strings, numbers, booleans or null')
        }
        break
      case 'const':
        if (!isScalar(v)) {
          throw new UnsupportedSchemaError('const', at, 'must be a string, number, boolean or null')
        }
        break
      case '$ref':
        if (typeof v !== 'string' || !v.startsWith('#/$defs/') || !defs.has(v.slice('#/$defs/'.length))) {
          throw new UnsupportedSchemaError('$ref', at, 'only references to #/$defs/<name> of this schema')
        }
        break
      default:
        // SUPPORTED holds no other keyword
        break
    }
  }
  checkCombination(s, at)
}

const OBJECT_KEYWORDS = ['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties']
const ARRAY_KEYWORDS = ['items', 'prefixItems', 'minItems', 'maxItems']
const STRING_KEYWORDS = ['minLength', 'maxLength', 'format']

/**
 * The grammar reads one kind of schema per level ($ref, then oneOf/anyOf,
 * const, enum, object, array, string): a keyword that the chosen kind would
 * ignore is refused rather than dropped.
 */
function checkCombination (s: Record<string, unknown>, at: string): void {
  const keys = Object.keys(s).filter(k => !ANNOTATIONS.has(k) && k !== '$defs')
  const only = (kind: string, allowed: string[]): void => {
    const extra = keys.find(k => k !== kind && !allowed.includes(k))
    if (extra != null) {
      throw new UnsupportedSchemaError(extra, at, `beside "${kind}"`)
    }
  }
  if ('$ref' in s) {
    only('$ref', [])
  } else if ('oneOf' in s || 'anyOf' in s) {
    only('oneOf' in s ? 'oneOf' : 'anyOf', [])
  } else if ('const' in s || 'enum' in s) {
    only('const' in s ? 'const' : 'enum', ['type'])
  } else {
    const type = s.type
    for (const [kind, words] of [['object', OBJECT_KEYWORDS], ['array', ARRAY_KEYWORDS], ['string', STRING_KEYWORDS]] as const) {
      const used = keys.find(k => words.includes(k))
      if (used != null && type !== kind) {
        throw new UnsupportedSchemaError(used, at, `needs "type": "${kind}"`)
      }
    }
    if (s.format != null && (s.minLength != null || s.maxLength != null)) {
      throw new UnsupportedSchemaError('format', at, 'beside minLength or maxLength')
    }
  }
}

/**
 * The schema as node-llama-cpp's grammar builder reads it: `anyOf` becomes
 * `oneOf` (the grammar produces one alternative, which satisfies both).
 */
export function grammarSchema (schema: unknown): unknown {
  if (!isObject(schema)) {
    return schema
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties' || k === '$defs') {
      out[k] = isObject(v) ? Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, grammarSchema(sub)])) : v
    } else if (k === 'oneOf' || k === 'anyOf' || k === 'prefixItems') {
      out[k === 'anyOf' ? 'oneOf' : k] = Array.isArray(v) ? v.map(grammarSchema) : v
    } else if (k === 'items' || k === 'additionalProperties') {
      out[k] = grammarSchema(v)
    } else {
      out[k] = v
    }
  }
  return out
}

/** Every `$defs` name anywhere in the schema (node-llama-cpp resolves `$ref` against the defs in scope). */
function defNames (s: unknown, out: Set<string>, depth = 0): Set<string> {
  if (depth > MAX_SCHEMA_DEPTH) {
    return out
  }
  if (Array.isArray(s)) {
    s.forEach(x => defNames(x, out, depth + 1))
  } else if (isObject(s)) {
    if (isObject(s.$defs)) {
      Object.keys(s.$defs).forEach(k => out.add(k))
    }
    Object.values(s).forEach(x => defNames(x, out, depth + 1))
  }
  return out
}

/** Parse and check a schema given as text; returns the parsed schema. */
export function parseSchema (text: string): unknown {
  if (text.length > MAX_SCHEMA_LENGTH) {
    throw new InvalidResponseFormatError('schema', `at most ${MAX_SCHEMA_LENGTH} characters`)
  }
  let schema: unknown
  try {
    schema = JSON.parse(text)
  } catch {
    throw new InvalidResponseFormatError('schema', 'is not JSON')
  }
  checkSchema(schema, '#', 0, defNames(schema, new Set()))
  return schema
}

/**
 * A response format from a prompt document or an SDK caller: `{ type:
 * 'json_object' }` or `{ type: 'json_schema', schema: '<JSON text>' }`.
 * Returns it without extra fields; throws InvalidResponseFormatError or
 * UnsupportedSchemaError.
 */
export function checkResponseFormat (value: unknown): ResponseFormat {
  if (!isObject(value)) {
    throw new InvalidResponseFormatError('responseFormat', 'must be an object with a type')
  }
  if (value.type === 'json_object') {
    return { type: 'json_object' }
  }
  if (value.type === 'json_schema') {
    if (typeof value.schema !== 'string') {
      throw new InvalidResponseFormatError('responseFormat.schema', 'must be the schema as JSON text')
    }
    parseSchema(value.schema)
    return { type: 'json_schema', schema: value.schema }
  }
  throw new InvalidResponseFormatError('responseFormat.type', 'must be json_object or json_schema')
}
