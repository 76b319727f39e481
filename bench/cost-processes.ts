/**
 * The cost benchmark's processes: every role as an operator runs it
 * (`cortensor node start`, through test/fixtures/cli.ts; miners through
 * test/fixtures/miner-process.ts), and the bare libp2p node (bench/bare-node.ts),
 * each with bench/cost-probe.ts preloaded. A measured process answers
 * `sample()` with its CPU time and memory (the probe's stderr line after a
 * SIGUSR2) and `wire()` with its byte and message counters (`/metrics`).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MESSAGES_METRIC } from '../node/wire-metrics.ts'
import { stopChild, untilReady } from '../test/fixtures/child.ts'
import { spawnCli } from '../test/fixtures/cli.ts'
import type { ChildProcess } from 'node:child_process'

const PROBE = pathToFileURL(fileURLToPath(new URL('./cost-probe.ts', import.meta.url))).href
const BARE = fileURLToPath(new URL('./bare-node.ts', import.meta.url))
const SAMPLE_TIMEOUT_MS = 10_000

export interface ProcessSample {
  /** user + system CPU time of every thread so far, µs */
  cpuUs: number
  rssBytes: number
  heapUsedBytes: number
  /** performance.now() in the benchmark when the sample arrived */
  atMs: number
}

/** Counters of `libp2p_data_transfer_{bytes,messages}_total`, by label (`global sent`, `/meshsub/1.2.0 received`, …). */
export interface WireCounters {
  bytes: Map<string, number>
  messages: Map<string, number>
}

export interface MeasuredProcess {
  /** e.g. `miner 2` */
  name: string
  /** the row it is reported under, e.g. `miner` */
  role: string
  child: ChildProcess
  /** `http://127.0.0.1:<port>` of its /metrics */
  http: string
  /** every stderr line so far */
  lines: string[]
  sample(): Promise<ProcessSample>
  wire(): Promise<WireCounters>
  stop(): Promise<void>
}

/** Environment that preloads the probe (and, with `profileDir`, profiles the first measured window). */
export function probeEnv (name: string, profileDir?: string): Record<string, string> {
  const env: Record<string, string> = { NODE_OPTIONS: `--import ${PROBE}` }
  if (profileDir != null) {
    env.COST_PROBE_PROFILE_DIR = profileDir
    env.COST_PROBE_PROFILE_NAME = name.replace(/\s+/g, '-')
    env.COST_PROBE_PROFILE_FROM = process.env.COST_PROFILE_WINDOW === 'tasks' ? '3' : '1'
  }
  return env
}

/** Attach sampling to a started child whose stderr lines go through `lines` (see `collect`). */
export function measured (name: string, role: string, child: ChildProcess, lines: string[], stop?: () => Promise<void>): MeasuredProcess {
  const http = lines.map(l => /http on (http:\/\/127\.0\.0\.1:\d+)/.exec(l)?.[1]).find(u => u != null)
  if (http == null) {
    throw new Error(`${name}: no HTTP address in its output:\n${lines.join('\n')}`)
  }
  let asked = 0
  return {
    name,
    role,
    child,
    http,
    lines,
    sample: async () => {
      const n = ++asked
      const seen = (): ProcessSample | undefined => {
        for (const l of lines) {
          const m = /^cost-probe (\{.*\})$/.exec(l)
          if (m != null) {
            const s = JSON.parse(m[1])
            if (s.n === n) {
              return { cpuUs: s.cpuUs, rssBytes: s.rssBytes, heapUsedBytes: s.heapUsedBytes, atMs: performance.now() }
            }
          }
        }
        return undefined
      }
      child.kill('SIGUSR2')
      const deadline = Date.now() + SAMPLE_TIMEOUT_MS
      for (;;) {
        const s = seen()
        if (s != null) {
          return s
        }
        if (Date.now() > deadline || child.exitCode != null) {
          throw new Error(`${name}: no probe answer (sample ${n}):\n${lines.slice(-20).join('\n')}`)
        }
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    },
    wire: async () => readWire(http),
    stop: stop ?? (async () => { await stopChild(child) })
  }
}

/** A stderr line collector for `untilReady`'s `onLine`, forwarding to `onLine` too. */
export function collect (lines: string[], onLine?: (line: string) => void): (line: string) => void {
  return (line) => {
    lines.push(line)
    if (!line.startsWith('cost-probe ')) {
      onLine?.(line)
    }
  }
}

/** `cortensor node start <args>` with the probe; resolves once it prints `ready`. */
export async function startCliProcess (name: string, role: string, args: string[], options: { profileDir?: string, onLine?(line: string): void } = {}): Promise<MeasuredProcess> {
  const child = spawnCli(['node', 'start', ...args], probeEnv(name, options.profileDir))
  const lines: string[] = []
  try {
    await untilReady(child, name, /ready: \S+ node/, collect(lines, options.onLine))
    return measured(name, role, child, lines)
  } catch (err) {
    await stopChild(child)
    throw err
  }
}

/** The bare libp2p node (bench/bare-node.ts) with the probe, joined to `bootstrap`. */
export async function startBareProcess (listen: string[], bootstrap: string[], options: { profileDir?: string, onLine?(line: string): void } = {}): Promise<MeasuredProcess> {
  const env = { ...process.env, ...probeEnv('bare', options.profileDir), CORTENSOR_BENCH_BARE: JSON.stringify({ listen, bootstrap }) }
  const child = spawn(process.execPath, [BARE], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  const lines: string[] = []
  try {
    await untilReady(child, 'bare libp2p node', /^ready$/m, collect(lines, options.onLine))
    return measured('bare libp2p node', 'bare', child, lines)
  } catch (err) {
    await stopChild(child)
    throw err
  }
}

/** The byte and message counters on a node's /metrics. */
export async function readWire (http: string): Promise<WireCounters> {
  const text = await (await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(SAMPLE_TIMEOUT_MS) })).text()
  const out: WireCounters = { bytes: new Map(), messages: new Map() }
  for (const line of text.split('\n')) {
    const m = /^(libp2p_data_transfer_bytes_total|libp2p_data_transfer_messages_total)\{protocol="([^"]*)"\} (\S+)$/.exec(line)
    if (m != null) {
      (m[1] === MESSAGES_METRIC ? out.messages : out.bytes).set(m[2], Number(m[3]))
    }
  }
  return out
}

/** What changed between two readings of the counters. */
export function wireDelta (a: WireCounters, b: WireCounters): WireCounters {
  const diff = (x: Map<string, number>, y: Map<string, number>): Map<string, number> =>
    new Map([...y].map(([k, v]) => [k, v - (x.get(k) ?? 0)]))
  return { bytes: diff(a.bytes, b.bytes), messages: diff(a.messages, b.messages) }
}

/** Bytes or messages on the connections (sent + received, `global`: what the sockets carried). */
export function wireTotal (counts: Map<string, number>): number {
  return (counts.get('global sent') ?? 0) + (counts.get('global received') ?? 0)
}

/** Sent + received per protocol, without the connection-level `global`. */
export function byProtocol (counts: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>()
  for (const [k, v] of counts) {
    const protocol = k.replace(/ (sent|received)$/, '')
    if (protocol !== 'global') {
      out.set(protocol, (out.get(protocol) ?? 0) + v)
    }
  }
  return out
}
