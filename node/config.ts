/**
 * Node configuration: flags override environment (CORTENSOR_*) override a
 * JSON/YAML config file override role defaults. Every value is checked where
 * it enters, and an error names where it came from (the flag, the variable,
 * or the file and key), so an operator knows what to fix.
 */
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { MAX_HEARTBEAT_INTERVAL_MS } from '../protocols/messages/constants.ts'
import {
  ConfigError, parseAddress, parseBool, parseBootstrap, parseGpu, parseGpuLayers, parseModels, parseMultiaddrs,
  parseNetwork, parsePort, parseQueueTimeouts, parseRate, parseRoles, parseSession, parseString, parseUrl, parseWhole,
  MAX_SEQUENCES, MAX_THREADS
} from './config-values.ts'
import {
  BOOTSTRAP_HTTP_PORT, BOOTSTRAP_TCP_PORT, BOOTSTRAP_WS_PORT, DEFAULT_HTTP_HOST, DEFAULT_NETWORK,
  ROUTER_HTTP_PORT
} from './constants.ts'
import type { GpuOption } from './config-values.ts'
import type { Role } from './constants.ts'
import type { QueueTimeouts } from '../protocols/queue/types.ts'

export { ConfigError, GPU_OPTIONS, MAX_SEQUENCES, MAX_THREADS, parseGpu, parseGpuLayers, parseWhole } from './config-values.ts'
export type { GpuOption } from './config-values.ts'

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
  /**
   * announce the prompts and outputs this node stores on the DHT (off: the nodes of a task hand them to
   * each other directly, and a provide walk per block cost more CPU than the rest of the task)
   */
  announceBlocks: boolean
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
  /**
   * a miner's heartbeat period, seconds; default HEARTBEAT_INTERVAL_MS (30 s). Longer for a model with many
   * miners: every heartbeat reaches every node of the model's topic (docs/simulation.md)
   */
  heartbeatInterval?: number
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

/** Raw values as given by one source, before parsing. */
export type RawConfig = Partial<Record<keyof NodeConfig | 'role' | 'key' | 'config', unknown>>

interface FieldSpec {
  key: keyof NodeConfig
  flag: string
  env: string
  parse(value: unknown, source: string): unknown
}

/** A value checked against a schema; `reason` says why it failed, after the source. */
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
  { key: 'announceBlocks', flag: '--announce-blocks', env: 'CORTENSOR_ANNOUNCE_BLOCKS', parse: parseBool },
  { key: 'rpc', flag: '--rpc', env: 'CORTENSOR_RPC', parse: parseUrl },
  { key: 'hub', flag: '--hub', env: 'CORTENSOR_HUB', parse: parseAddress },
  { key: 'deployment', flag: '--deployment', env: 'CORTENSOR_DEPLOYMENT', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'models', flag: '--model', env: 'CORTENSOR_MODEL', parse: parseModels },
  { key: 'gpu', flag: '--gpu', env: 'CORTENSOR_GPU', parse: parseGpu },
  { key: 'gpuLayers', flag: '--gpu-layers', env: 'CORTENSOR_GPU_LAYERS', parse: parseGpuLayers },
  { key: 'threads', flag: '--threads', env: 'CORTENSOR_THREADS', parse: parseWhole(1, MAX_THREADS) },
  { key: 'sequences', flag: '--sequences', env: 'CORTENSOR_SEQUENCES', parse: parseWhole(1, MAX_SEQUENCES) },
  { key: 'embeddingModel', flag: '--embedding-model', env: 'CORTENSOR_EMBEDDING_MODEL', parse: (v, s) => resolve(parseString(v, s)) },
  { key: 'heartbeatInterval', flag: '--heartbeat-interval', env: 'CORTENSOR_HEARTBEAT_INTERVAL', parse: parseWhole(1, MAX_HEARTBEAT_INTERVAL_MS / 1000) },
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
    announceBlocks: out.announceBlocks ?? false,
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
    heartbeatInterval: out.heartbeatInterval,
    sampleRate: out.sampleRate,
    session: out.session,
    queueTimeouts: out.queueTimeouts
  }
}
