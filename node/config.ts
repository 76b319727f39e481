/**
 * Node configuration: flags override environment (CORTENSOR_*) override a
 * JSON/YAML config file override role defaults. Every value is checked where
 * it enters, and an error names where it came from (the flag, the variable,
 * or the file and key), so an operator knows what to fix.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { parse as parseYaml } from 'yaml'
import {
  BOOTSTRAP_HTTP_PORT, BOOTSTRAP_TCP_PORT, BOOTSTRAP_WS_PORT, DEFAULT_HTTP_HOST, DEFAULT_NETWORK,
  ROLES, ROUTER_HTTP_PORT
} from './constants.ts'
import type { Role } from './constants.ts'
import type { QueueTimeouts } from '../protocols/queue/types.ts'

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

export interface NodeConfig {
  roles: Role[]
  /** protocol ids and topics are built from this name */
  network: string
  dataDir: string
  /** key file to use instead of `<dataDir>/key` */
  keyFile?: string
  listen: string[]
  announce: string[]
  bootstrap: string[]
  /** HTTP port for /health, /metrics (and the router API); 0 picks a free port; undefined: no HTTP server */
  httpPort?: number
  httpHost: string
  /** run the DHT in client mode (a node that others cannot dial, e.g. behind NAT without a relay) */
  dhtClient: boolean
  /** JSON-RPC URL of the chain (miner, oracle and router roles) */
  rpc?: string
  /** the hub contract's address (or read from `deployment`) */
  hub?: string
  /** deployment JSON written by `cortensor chain deploy`; gives the hub address */
  deployment?: string
  /** GGUF model a miner serves and an oracle replays with: the first of `models` */
  model?: string
  /** every GGUF model the miner serves (`--model`, repeatable); one node, one key, one reservation */
  models: string[]
  /** which llama.cpp backend runs the models: `auto` (a GPU when one is usable, else the CPU) or a named one */
  gpu: GpuOption
  /** layers offloaded to the GPU: a count, `auto` (what fits) or `max`; default node-llama-cpp's (`auto`) */
  gpuLayers?: number | 'auto' | 'max'
  /** CPU threads per model's context; default the engine's (DEFAULT_THREADS) */
  threads?: number
  /** parallel sequences (concurrent tasks) per model; default the engine's (DEFAULT_SEQUENCES) */
  sequences?: number
  /** GGUF model an oracle embeds outputs with (embedding rung); default: the served model */
  embeddingModel?: string
  /** fraction of agreeing settled tasks an oracle audits; default: the network policy's */
  sampleRate?: number
  /** the funded session a router submits its tasks to */
  session?: bigint
  /**
   * task deadlines a miner and an oracle apply (ms; unset ones keep the queue's defaults), the same on every node
   * of a network: a network whose model and prompts are known to be fast detects a dead miner sooner
   */
  queueTimeouts?: Partial<QueueTimeouts>
}

/** The `--gpu` choices: node-llama-cpp's backends by name; `cpu` runs without a GPU. */
export const GPU_OPTIONS = ['auto', 'cpu', 'vulkan', 'cuda', 'metal'] as const
export type GpuOption = typeof GPU_OPTIONS[number]

/** Bounds of `--threads` and `--sequences` (a larger number is a typo, not a machine). */
export const MAX_THREADS = 1024
export const MAX_SEQUENCES = 256

/** Raw values as given by one source, before parsing. */
export type RawConfig = Partial<Record<keyof NodeConfig | 'role' | 'key' | 'config', unknown>>

interface FieldSpec {
  key: keyof NodeConfig
  flag: string
  env: string
  parse(value: unknown, source: string): unknown
}

function asList (value: unknown, source: string): string[] {
  if (Array.isArray(value)) {
    return value.map((v, i) => {
      if (typeof v !== 'string') {
        throw new ConfigError(`${source}[${i}]`, 'must be a string')
      }
      return v.trim()
    }).filter(v => v !== '')
  }
  if (typeof value === 'string') {
    return value.split(',').map(v => v.trim()).filter(v => v !== '')
  }
  throw new ConfigError(source, 'must be a list of strings (comma-separated on the command line)')
}

function parseRoles (value: unknown, source: string): Role[] {
  const roles = asList(value, source)
  if (roles.length === 0) {
    throw new ConfigError(source, `at least one role is needed (${ROLES.join(', ')})`)
  }
  for (const r of roles) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new ConfigError(source, `unknown role "${r}" (roles: ${ROLES.join(', ')})`)
    }
  }
  return [...new Set(roles)] as Role[]
}

function parseMultiaddrs (value: unknown, source: string): string[] {
  return asList(value, source).map((text) => {
    try {
      return multiaddr(text).toString()
    } catch (err: any) {
      throw new ConfigError(source, `"${text}" is not a valid multiaddr (${String(err.message).split('\n')[0]})`)
    }
  })
}

function parseBootstrap (value: unknown, source: string): string[] {
  const addrs = parseMultiaddrs(value, source)
  for (const a of addrs) {
    if (multiaddr(a).getComponents().find(c => c.name === 'p2p') == null) {
      throw new ConfigError(source, `"${a}" must end with /p2p/<peer id> so the bootstrap node can be authenticated`)
    }
  }
  return addrs
}

function parsePort (value: unknown, source: string): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim())
  if (!Number.isInteger(n) || n < 0 || n > 65535 || String(value).trim() === '') {
    throw new ConfigError(source, `"${String(value)}" is not a port number (0-65535)`)
  }
  return n
}

function parseRate (value: unknown, source: string): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim())
  if (!Number.isFinite(n) || n < 0 || n > 1 || String(value).trim() === '') {
    throw new ConfigError(source, `"${String(value)}" is not a fraction in [0, 1]`)
  }
  return n
}

function parseString (value: unknown, source: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(source, 'must be a non-empty string')
  }
  return value.trim()
}

function parseBool (value: unknown, source: string): boolean {
  if (typeof value === 'boolean') {
    return value
  }
  const s = String(value).trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(s)) {
    return true
  }
  if (['0', 'false', 'no', 'off', ''].includes(s)) {
    return false
  }
  throw new ConfigError(source, `"${String(value)}" is not a boolean (true/false)`)
}

function parseUrl (value: unknown, source: string): string {
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

function parseAddress (value: unknown, source: string): string {
  const s = parseString(value, source)
  if (!/^0x[0-9a-fA-F]{40}$/.test(s)) {
    throw new ConfigError(source, `"${s}" is not a 0x-prefixed 20-byte address`)
  }
  return s
}

function parseSession (value: unknown, source: string): bigint {
  const s = typeof value === 'number' || typeof value === 'bigint' ? String(value) : parseString(value, source)
  if (!/^\d{1,30}$/.test(s) || BigInt(s) === 0n) {
    throw new ConfigError(source, `"${s}" is not a session id (a positive integer)`)
  }
  return BigInt(s)
}

const QUEUE_TIMEOUT_KEYS: ReadonlyArray<keyof QueueTimeouts> = ['assignMs', 'ackMs', 'precommitMs', 'revealMs', 'validateMs', 'settleMs']
/** a day: longer deadlines are a typo, not a slow model */
const MAX_QUEUE_TIMEOUT_MS = 86_400_000

/** `ackMs=2000,precommitMs=15000`, or a JSON/YAML mapping with the same keys. */
function parseQueueTimeouts (value: unknown, source: string): Partial<QueueTimeouts> {
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
    const n = typeof raw === 'number' ? raw : Number(String(raw))
    if (!Number.isInteger(n) || n <= 0 || n > MAX_QUEUE_TIMEOUT_MS || String(raw).trim() === '') {
      throw new ConfigError(source, `${key}: "${String(raw)}" is not a whole number of milliseconds from 1 to ${MAX_QUEUE_TIMEOUT_MS}`)
    }
    out[key as keyof QueueTimeouts] = n
  }
  return out
}

export function parseWhole (min: number, max: number) {
  return (value: unknown, source: string): number => {
    const n = typeof value === 'number' ? value : Number(String(value).trim())
    if (!Number.isInteger(n) || n < min || n > max || String(value).trim() === '') {
      throw new ConfigError(source, `"${String(value)}" is not a whole number from ${min} to ${max}`)
    }
    return n
  }
}

export function parseGpu (value: unknown, source: string): GpuOption {
  const s = parseString(value, source).toLowerCase()
  if (!(GPU_OPTIONS as readonly string[]).includes(s)) {
    throw new ConfigError(source, `"${String(value)}" is not a GPU backend (${GPU_OPTIONS.join(', ')})`)
  }
  return s as GpuOption
}

export function parseGpuLayers (value: unknown, source: string): number | 'auto' | 'max' {
  const s = typeof value === 'number' ? String(value) : parseString(value, source).toLowerCase()
  if (s === 'auto' || s === 'max') {
    return s
  }
  if (!/^\d{1,6}$/.test(s)) {
    throw new ConfigError(source, `"${String(value)}" is not a number of layers (a whole number >= 0, auto or max)`)
  }
  return Number(s)
}

/** Model files: repeatable on the command line, comma-separated in the environment, a string or a list in a file. */
function parseModels (value: unknown, source: string): string[] {
  const list = asList(value, source).map(v => resolve(v))
  if (list.length === 0) {
    throw new ConfigError(source, 'must name a GGUF model file')
  }
  return [...new Set(list)]
}

function parseNetwork (value: unknown, source: string): string {
  const s = parseString(value, source)
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(s)) {
    throw new ConfigError(source, 'must be 1-32 lowercase letters, digits or dashes')
  }
  return s
}

const FIELDS: FieldSpec[] = [
  { key: 'roles', flag: '--role', env: 'CORTENSOR_ROLE', parse: parseRoles },
  { key: 'network', flag: '--network', env: 'CORTENSOR_NETWORK', parse: parseNetwork },
  { key: 'dataDir', flag: '--data-dir', env: 'CORTENSOR_DATA_DIR', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'keyFile', flag: '--key', env: 'CORTENSOR_KEY_FILE', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'listen', flag: '--listen', env: 'CORTENSOR_LISTEN', parse: parseMultiaddrs },
  { key: 'announce', flag: '--announce', env: 'CORTENSOR_ANNOUNCE', parse: parseMultiaddrs },
  { key: 'bootstrap', flag: '--bootstrap', env: 'CORTENSOR_BOOTSTRAP', parse: parseBootstrap },
  { key: 'httpPort', flag: '--http-port', env: 'CORTENSOR_HTTP_PORT', parse: parsePort },
  { key: 'httpHost', flag: '--http-host', env: 'CORTENSOR_HTTP_HOST', parse: parseString },
  { key: 'dhtClient', flag: '--dht-client', env: 'CORTENSOR_DHT_CLIENT', parse: parseBool },
  { key: 'rpc', flag: '--rpc', env: 'CORTENSOR_RPC', parse: parseUrl },
  { key: 'hub', flag: '--hub', env: 'CORTENSOR_HUB', parse: parseAddress },
  { key: 'deployment', flag: '--deployment', env: 'CORTENSOR_DEPLOYMENT', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'models', flag: '--model', env: 'CORTENSOR_MODEL', parse: parseModels },
  { key: 'gpu', flag: '--gpu', env: 'CORTENSOR_GPU', parse: parseGpu },
  { key: 'gpuLayers', flag: '--gpu-layers', env: 'CORTENSOR_GPU_LAYERS', parse: parseGpuLayers },
  { key: 'threads', flag: '--threads', env: 'CORTENSOR_THREADS', parse: parseWhole(1, MAX_THREADS) },
  { key: 'sequences', flag: '--sequences', env: 'CORTENSOR_SEQUENCES', parse: parseWhole(1, MAX_SEQUENCES) },
  { key: 'embeddingModel', flag: '--embedding-model', env: 'CORTENSOR_EMBEDDING_MODEL', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'sampleRate', flag: '--sample-rate', env: 'CORTENSOR_SAMPLE_RATE', parse: parseRate },
  { key: 'session', flag: '--session', env: 'CORTENSOR_SESSION', parse: parseSession },
  { key: 'queueTimeouts', flag: '--queue-timeouts', env: 'CORTENSOR_QUEUE_TIMEOUTS', parse: parseQueueTimeouts }
]

/** The environment variables the node reads (the CLI's help lists them too). */
export const CONFIG_ENV_VARS = [...FIELDS.map(f => f.env), 'CORTENSOR_CONFIG']

/** Read a JSON or YAML config file into raw values (keys as in NodeConfig; `role` is accepted for `roles`). */
export async function readConfigFile (path: string, source = '--config'): Promise<RawConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new ConfigError(source, `cannot read config file ${path} (${err.code ?? err.message})`)
  }
  let data: unknown
  try {
    data = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text)
  } catch (err: any) {
    throw new ConfigError(path, `not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${String(err.message).split('\n')[0]}`)
  }
  if (data == null) {
    return {}
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(path, 'must be a mapping of option names to values')
  }
  const raw: Record<string, unknown> = { ...data as Record<string, unknown> }
  if ('role' in raw) {
    raw.roles = raw.role
    delete raw.role
  }
  // `model: m.gguf` or `model: [a.gguf, b.gguf]` (`models` is accepted too)
  if ('model' in raw) {
    if ('models' in raw) {
      throw new ConfigError(`${path}: model`, 'give model or models, not both')
    }
    raw.models = raw.model
    delete raw.model
  }
  const known = new Set<string>(FIELDS.map(f => f.key))
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      throw new ConfigError(`${path}: ${key}`, `unknown option (known: ${[...known].join(', ')})`)
    }
  }
  return raw
}

function defaultListen (roles: Role[]): string[] {
  if (roles.includes('bootstrap')) {
    return [`/ip4/0.0.0.0/tcp/${BOOTSTRAP_TCP_PORT}`, `/ip4/0.0.0.0/tcp/${BOOTSTRAP_WS_PORT}/ws`]
  }
  // any free port; /p2p-circuit reserves a slot on a relay (bootstrap nodes run one) so NATed nodes can be
  // reached, and /webrtc accepts browser and NATed peers' WebRTC connections signalled through it
  return ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws', '/p2p-circuit', '/webrtc']
}

function defaultHttpPort (roles: Role[]): number | undefined {
  if (roles.includes('router')) {
    return ROUTER_HTTP_PORT
  }
  if (roles.includes('bootstrap')) {
    return BOOTSTRAP_HTTP_PORT
  }
  return undefined
}

export interface ConfigSources {
  /** values from command-line flags (commander's option names: role, dataDir, listen, …) */
  flags?: RawConfig
  env?: Record<string, string | undefined>
}

/**
 * Resolve the node configuration: flags > env > file (`--config` or
 * CORTENSOR_CONFIG) > role defaults.
 */
export async function resolveConfig ({ flags = {}, env = process.env }: ConfigSources = {}): Promise<NodeConfig> {
  const f: RawConfig = { ...flags }
  if ('role' in f) {
    f.roles = f.role
    delete f.role
  }
  if ('key' in f) {
    f.keyFile = f.key
    delete f.key
  }
  if ('model' in f) {
    f.models = f.model
    delete f.model
  }
  let file: RawConfig = {}
  let fileName = ''
  if (f.config != null) {
    fileName = parseString(f.config, '--config')
    file = await readConfigFile(fileName, '--config')
  } else if (env.CORTENSOR_CONFIG != null && env.CORTENSOR_CONFIG !== '') {
    fileName = env.CORTENSOR_CONFIG
    file = await readConfigFile(fileName, 'CORTENSOR_CONFIG')
  }

  const out: Partial<NodeConfig> = {}
  for (const spec of FIELDS) {
    let value: unknown
    if (f[spec.key] !== undefined) {
      value = spec.parse(f[spec.key], spec.flag)
    } else if (env[spec.env] !== undefined && env[spec.env] !== '') {
      value = spec.parse(env[spec.env], spec.env)
    } else if (file[spec.key] !== undefined) {
      value = spec.parse(file[spec.key], `${fileName}: ${spec.key}`)
    }
    if (value !== undefined) {
      (out as Record<string, unknown>)[spec.key] = value
    }
  }

  const roles = out.roles ?? ['miner']
  return {
    roles,
    network: out.network ?? DEFAULT_NETWORK,
    dataDir: out.dataDir ?? join(homedir(), '.cortensor'),
    keyFile: out.keyFile,
    listen: out.listen ?? defaultListen(roles),
    announce: out.announce ?? [],
    bootstrap: out.bootstrap ?? [],
    httpPort: out.httpPort ?? defaultHttpPort(roles),
    httpHost: out.httpHost ?? DEFAULT_HTTP_HOST,
    dhtClient: out.dhtClient ?? false,
    rpc: out.rpc,
    hub: out.hub,
    deployment: out.deployment,
    model: out.models?.[0],
    models: out.models ?? [],
    gpu: out.gpu ?? 'auto',
    gpuLayers: out.gpuLayers,
    threads: out.threads,
    sequences: out.sequences,
    embeddingModel: out.embeddingModel,
    sampleRate: out.sampleRate,
    session: out.session,
    queueTimeouts: out.queueTimeouts
  }
}
