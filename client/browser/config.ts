/**
 * The page's settings: query-string parameters over the defaults a serving
 * node publishes in `config.json`. Pure and browser-safe.
 *
 * - `bootstrap=<multiaddr>`: bootstrap node to dial (repeat for several); needs /ws or /wss and /p2p/<id>
 * - `router=<url>`: router HTTP API for prompts (POST <router>/v1/chat/completions)
 * - `network=<name>`: gossip topic prefix /<name>/1/… (default cortensor)
 * - `models=<a,b>`: models whose task and heartbeat topics to follow
 * - `model=<id>`: model to ask for (default: the first of models)
 * - `ice=<urls or JSON>`: WebRTC ICE servers, comma-separated stun:/turn: URLs or a JSON RTCIceServer[]
 * - `rpc=<url>`: the chain's JSON-RPC (http(s)); with `hub`, a settled result is verified on chain (verify.ts)
 * - `hub=<address>`: the hub contract (0x + 40 hex digits) whose settlement events and calldata are checked
 * - `connect=0`: do not connect on load
 */
import { multiaddr } from '@multiformats/multiaddr'
import { InvalidIceServersError } from './errors.ts'

export interface PageConfig {
  bootstrap: string[]
  router?: string
  network: string
  models: string[]
  model?: string
  iceServers: RTCIceServer[]
  autoconnect: boolean
  /** chain JSON-RPC URL for verifying settled results */
  rpc?: string
  /** hub contract address (checksum not required) */
  hub?: string
}

/** What a node serving the page publishes at `config.json`. */
export interface PageDefaults {
  bootstrap?: string[]
  router?: string
  network?: string
  models?: string[]
  iceServers?: RTCIceServer[]
  /** chain JSON-RPC URL the page verifies settlements against (the chain must answer CORS requests; anvil does) */
  rpc?: string
  /** hub contract address */
  hub?: string
}

export interface ParsedPageConfig {
  config: PageConfig
  /** human-readable problems with the given parameters (the bad values are left out) */
  errors: string[]
}

export const DEFAULT_PAGE_NETWORK = 'cortensor'

const NETWORK_RE = /^[A-Za-z0-9._-]+$/

function splitList (values: string[]): string[] {
  return values.flatMap(v => v.split(/[\s,]+/)).map(v => v.trim()).filter(v => v.length > 0)
}

/** `stun:host:port,turn:host:port` or a JSON `RTCIceServer[]`. */
export function parseIceServers (value: string): RTCIceServer[] {
  const text = value.trim()
  if (text === '') {
    return []
  }
  if (text.startsWith('[')) {
    const parsed: unknown = JSON.parse(text)
    if (!Array.isArray(parsed) || !parsed.every(s => s != null && typeof s === 'object' && (typeof s.urls === 'string' || Array.isArray(s.urls)))) {
      throw new InvalidIceServersError('ice must be a JSON array of { urls, username?, credential? }')
    }
    return parsed as RTCIceServer[]
  }
  return splitList([text]).map(url => {
    if (!/^(stun|stuns|turn|turns):/.test(url)) {
      throw new InvalidIceServersError(`ICE server ${url} must start with stun:, stuns:, turn: or turns:`)
    }
    return { urls: url }
  })
}

/** A bootstrap address a browser can dial: a valid multiaddr over WebSockets ending in /p2p/<id>. */
export function checkBootstrapAddr (addr: string): string | undefined {
  let names: string[]
  try {
    names = multiaddr(addr).getComponents().map(c => c.name)
  } catch (err: any) {
    return `bootstrap ${addr} is not a multiaddr (${String(err.message).split('\n')[0]})`
  }
  if (names[names.length - 1] !== 'p2p') {
    return `bootstrap ${addr} must end with /p2p/<peer id>`
  }
  if (!names.includes('ws') && !names.includes('wss') && !names.includes('webrtc-direct') && !names.includes('webtransport')) {
    return `bootstrap ${addr} is not reachable from a browser (use its /ws or /wss address)`
  }
  return undefined
}

function urlOf (value: string): URL | undefined {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

function parseHttpUrl (what: string, value: string | undefined, errors: string[]): string | undefined {
  if (value == null || value === '') {
    return undefined
  }
  const url = urlOf(value)
  if (url == null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    errors.push(`${what} ${value} is not an http(s) URL`)
    return undefined
  }
  return url.toString().replace(/\/+$/, '')
}

const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/

function parseHub (value: string | undefined, errors: string[]): string | undefined {
  if (value == null || value === '') {
    return undefined
  }
  if (ADDRESS_RE.test(value)) {
    return value
  }
  errors.push(`hub ${value} is not an address (0x and 40 hex digits)`)
  return undefined
}

function parseNetwork (value: string, errors: string[]): string {
  if (NETWORK_RE.test(value)) {
    return value
  }
  errors.push(`network ${value} may use only letters, digits, ".", "_" and "-"`)
  return DEFAULT_PAGE_NETWORK
}

function parseBootstrapList (given: string[], fallback: string[], errors: string[]): string[] {
  return (given.length > 0 ? given : fallback).filter(a => {
    const problem = checkBootstrapAddr(a)
    if (problem != null) {
      errors.push(problem)
    }
    return problem == null
  })
}

function parseIceParam (value: string | null, fallback: RTCIceServer[], errors: string[]): RTCIceServer[] {
  if (value == null) {
    return fallback
  }
  try {
    return parseIceServers(value)
  } catch (err: any) {
    errors.push(err.message)
    return fallback
  }
}

export function parsePageConfig (search: string | URLSearchParams, defaults: PageDefaults = {}): ParsedPageConfig {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search
  const errors: string[] = []
  const bootstrap = parseBootstrapList(splitList(q.getAll('bootstrap')), defaults.bootstrap ?? [], errors)
  const router = parseHttpUrl('router', q.get('router') ?? defaults.router, errors)
  const rpc = parseHttpUrl('rpc', q.get('rpc') ?? defaults.rpc, errors)
  const hub = parseHub(q.get('hub') ?? defaults.hub, errors)
  const network = parseNetwork(q.get('network') ?? defaults.network ?? DEFAULT_PAGE_NETWORK, errors)
  const models = q.has('models') ? splitList(q.getAll('models')) : [...(defaults.models ?? [])]
  const model = q.get('model') ?? models[0]
  const iceServers = parseIceParam(q.get('ice'), defaults.iceServers ?? [], errors)
  const connect = q.get('connect')
  const autoconnect = connect == null || !['0', 'false', 'no', 'off'].includes(connect.toLowerCase())
  return {
    config: {
      bootstrap,
      ...(router != null ? { router } : {}),
      network,
      models,
      ...(model != null && model !== '' ? { model } : {}),
      iceServers,
      autoconnect,
      ...(rpc != null ? { rpc } : {}),
      ...(hub != null ? { hub } : {})
    },
    errors
  }
}
