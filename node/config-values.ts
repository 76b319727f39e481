/**
 * The node's option values: each parser takes a value as given (a flag's or
 * variable's text, or a file's value) and the place it came from, checks it
 * against a schema (TypeBox) and returns it typed, or throws a ConfigError
 * that names the place and says what is wrong.
 */
import { resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseModelRef } from '../protocols/models/index.ts'
import { ROLES } from './constants.ts'
import type { Role } from './constants.ts'
import type { QueueTimeouts } from '../protocols/queue/types.ts'
import type { TSchema } from '@sinclair/typebox'

export class ConfigError extends Error {
  static name = 'ConfigError'
  readonly exitCode = 2
  /** where the bad value came from: `--listen`, `CORTENSOR_LISTEN`, `node.yaml: listen[1]` */
  readonly source: string

  constructor (source: string, reason: string) {
    super(`${source}: ${reason}`)
    this.name = 'ConfigError'
    this.source = source
  }
}

/** The `--gpu` choices: node-llama-cpp's backends by name; `cpu` runs without a GPU. */
export const GPU_OPTIONS = ['auto', 'cpu', 'vulkan', 'cuda', 'metal'] as const
export type GpuOption = typeof GPU_OPTIONS[number]

/** Bounds of `--threads` and `--sequences` (a larger number is a typo, not a machine). */
export const MAX_THREADS = 1024
export const MAX_SEQUENCES = 256

function checked<T> (schema: TSchema, reason: (value: unknown) => string) {
  return (value: unknown, source: string): T => {
    if (!Value.Check(schema, value)) {
      throw new ConfigError(source, reason(value))
    }
    return value as T
  }
}

/** A number as given (a flag's or a variable's text, or a file's number); `NaN` when it is none. */
function toNumber (value: unknown): number {
  if (typeof value === 'number') {
    return value
  }
  const s = String(value).trim()
  return s === '' ? NaN : Number(s)
}

const nonEmpty = checked<string>(Type.String({ minLength: 1 }), () => 'must be a non-empty string')

export function parseString (value: unknown, source: string): string {
  return nonEmpty(typeof value === 'string' ? value.trim() : value, source)
}

/** A trimmed non-empty string matching `pattern`. */
function matching (pattern: string, reason: (s: string) => string) {
  return (value: unknown, source: string): string => {
    const s = parseString(value, source)
    return checked<string>(Type.String({ pattern }), () => reason(s))(s, source)
  }
}

const STRINGS = Type.Array(Type.String())

export function asList (value: unknown, source: string): string[] {
  if (typeof value === 'string') {
    return value.split(',').map(v => v.trim()).filter(v => v !== '')
  }
  if (!Array.isArray(value)) {
    throw new ConfigError(source, 'must be a list of strings (comma-separated on the command line)')
  }
  if (!Value.Check(STRINGS, value)) {
    throw new ConfigError(`${source}[${value.findIndex(v => typeof v !== 'string')}]`, 'must be a string')
  }
  return value.map(v => v.trim()).filter(v => v !== '')
}

const ROLE_LIST = Type.Array(Type.Union(ROLES.map(r => Type.Literal(r))))

export function parseRoles (value: unknown, source: string): Role[] {
  const roles = asList(value, source)
  if (roles.length === 0) {
    throw new ConfigError(source, `at least one role is needed (${ROLES.join(', ')})`)
  }
  const known = checked<Role[]>(ROLE_LIST, () => `unknown role "${roles.find(r => !(ROLES as readonly string[]).includes(r))}" (roles: ${ROLES.join(', ')})`)
  return [...new Set(known(roles, source))]
}

export function parseMultiaddrs (value: unknown, source: string): string[] {
  return asList(value, source).map((text) => {
    try {
      return multiaddr(text).toString()
    } catch (err: any) {
      throw new ConfigError(source, `"${text}" is not a valid multiaddr (${String(err.message).split('\n')[0]})`)
    }
  })
}

export function parseBootstrap (value: unknown, source: string): string[] {
  const addrs = parseMultiaddrs(value, source)
  for (const a of addrs) {
    if (multiaddr(a).getComponents().find(c => c.name === 'p2p') == null) {
      throw new ConfigError(source, `"${a}" must end with /p2p/<peer id> so the bootstrap node can be authenticated`)
    }
  }
  return addrs
}

/** A number in a range: `reason` gets the value as given. */
function numeric (schema: TSchema, reason: (value: string) => string) {
  return (value: unknown, source: string): number => checked<number>(schema, () => reason(String(value)))(toNumber(value), source)
}

export function parseWhole (min: number, max: number): (value: unknown, source: string) => number {
  return numeric(Type.Integer({ minimum: min, maximum: max }), v => `"${v}" is not a whole number from ${min} to ${max}`)
}

export const parsePort = numeric(Type.Integer({ minimum: 0, maximum: 65535 }), v => `"${v}" is not a port number (0-65535)`)
export const parseRate = numeric(Type.Number({ minimum: 0, maximum: 1 }), v => `"${v}" is not a fraction in [0, 1]`)

const BOOLEAN_WORDS: Record<string, boolean> = { 1: true, true: true, yes: true, on: true, 0: false, false: false, no: false, off: false, '': false }

export function parseBool (value: unknown, source: string): boolean {
  const b = typeof value === 'boolean' ? value : BOOLEAN_WORDS[String(value).trim().toLowerCase()]
  return checked<boolean>(Type.Boolean(), () => `"${String(value)}" is not a boolean (true/false)`)(b, source)
}

export function parseUrl (value: unknown, source: string): string {
  const s = parseString(value, source)
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw new ConfigError(source, `"${s}" is not a URL`)
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) {
    throw new ConfigError(source, `"${s}" must be an http(s) or ws(s) URL`)
  }
  return s
}

export const parseAddress = matching('^0x[0-9a-fA-F]{40}$', s => `"${s}" is not a 0x-prefixed 20-byte address`)
const sessionId = matching('^(?!0+$)\\d{1,30}$', s => `"${s}" is not a session id (a positive integer)`)

export function parseSession (value: unknown, source: string): bigint {
  return BigInt(sessionId(typeof value === 'number' || typeof value === 'bigint' ? String(value) : value, source))
}

const QUEUE_TIMEOUT_KEYS: ReadonlyArray<keyof QueueTimeouts> = ['assignMs', 'ackMs', 'precommitMs', 'revealMs', 'validateMs', 'settleMs']
/** a day: longer deadlines are a typo, not a slow model */
const MAX_QUEUE_TIMEOUT_MS = 86_400_000
const QUEUE_TIMEOUT_MS = Type.Integer({ minimum: 1, maximum: MAX_QUEUE_TIMEOUT_MS })

/** `ackMs=2000,precommitMs=15000`, or a JSON/YAML mapping with the same keys. */
export function parseQueueTimeouts (value: unknown, source: string): Partial<QueueTimeouts> {
  let entries: Array<[string, unknown]>
  if (value != null && typeof value === 'object' && !Array.isArray(value)) {
    entries = Object.entries(value)
  } else {
    const text = parseString(value, source)
    if (text.startsWith('{')) {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        throw new ConfigError(source, 'is not valid JSON')
      }
      return parseQueueTimeouts(parsed, source)
    }
    entries = asList(text, source).map((pair) => {
      const eq = pair.indexOf('=')
      if (eq < 0) {
        throw new ConfigError(source, `"${pair}" is not name=milliseconds (names: ${QUEUE_TIMEOUT_KEYS.join(', ')})`)
      }
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()]
    })
  }
  const out: Partial<QueueTimeouts> = {}
  for (const [key, raw] of entries) {
    if (!(QUEUE_TIMEOUT_KEYS as readonly string[]).includes(key)) {
      throw new ConfigError(source, `unknown deadline "${key}" (names: ${QUEUE_TIMEOUT_KEYS.join(', ')})`)
    }
    out[key as keyof QueueTimeouts] = numeric(QUEUE_TIMEOUT_MS, v => `${key}: "${v}" is not a whole number of milliseconds from 1 to ${MAX_QUEUE_TIMEOUT_MS}`)(raw, source)
  }
  return out
}

const GPU = Type.Union(GPU_OPTIONS.map(g => Type.Literal(g)))

export function parseGpu (value: unknown, source: string): GpuOption {
  return checked<GpuOption>(GPU, () => `"${String(value)}" is not a GPU backend (${GPU_OPTIONS.join(', ')})`)(parseString(value, source).toLowerCase(), source)
}

const GPU_LAYERS = Type.Union([Type.Literal('auto'), Type.Literal('max'), Type.String({ pattern: '^\\d{1,6}$' })])

export function parseGpuLayers (value: unknown, source: string): number | 'auto' | 'max' {
  const s = typeof value === 'number' ? String(value) : parseString(value, source).toLowerCase()
  checked(GPU_LAYERS, () => `"${String(value)}" is not a number of layers (a whole number >= 0, auto or max)`)(s, source)
  return s === 'auto' || s === 'max' ? s : Number(s)
}

/** Model files: repeatable on the command line, comma-separated in the environment, a string or a list in a file. */
export function parseModels (value: unknown, source: string): string[] {
  // a model id (sha256) or a model CID stays as it is: the roles fetch it from the network (node/models)
  const list = asList(value, source).map(v => parseModelRef(v) != null ? v : resolve(v))
  if (list.length === 0) {
    throw new ConfigError(source, 'must name a GGUF model file, a model id (sha256) or a model CID')
  }
  return [...new Set(list)]
}

export const parseNetwork = matching('^[a-z0-9][a-z0-9-]{0,31}$', () => 'must be 1-32 lowercase letters, digits or dashes')
