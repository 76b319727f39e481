/**
 * Tables of the network-load model (simulations/network.ts): per-node load
 * of each role idle and at a task rate, the oracle's work per task (with the
 * real selection code timed over a pool of that size), and a sweep of
 * heartbeat period, mesh degree and topic split that finds what keeps a node
 * within the goal (1 % of a core, 100 kbit/s) when idle.
 */
import { poolFromRecords, selectMiners } from '../protocols/selection/index.ts'
import { GOAL_CPU_MS_PER_S, GOAL_KBIT_PER_S } from './network-constants.ts'
import { messagesPerTask, networkLoad, withinGoal } from './network.ts'
import type { Row } from './csv.ts'
import type { Load, NetworkLoadParams, NodeRole } from './network.ts'
import type { MinerRecord } from '../protocols/selection/index.ts'

const ROLES: NodeRole[] = ['miner', 'oracle', 'router']

export const kbit = (l: Load): number => (l.bytesIn + l.bytesOut) * 8 / 1000

function fmt (v: number): string {
  if (!Number.isFinite(v)) {
    return '–'
  }
  const a = Math.abs(v)
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(2) : a === 0 ? '0' : v.toExponential(1)
}

function table (head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n') + '\n'
}

function describe (p: NetworkLoadParams): string {
  return `${p.models} model${p.models === 1 ? '' : 's'}${p.splitAllTopics ? ' (every topic per model)' : ''}, heartbeat ${p.heartbeatIntervalS} s, D ${p.meshDegree}, ${p.connections} connections, ${p.oracles} oracles, ${p.routers} routers`
}

/** Per-node load of each role at each size, idle and at `taskRatePerS`, with the sources that dominate. */
export function loadTable (sizes: number[], params: Partial<NetworkLoadParams>): string {
  const rows: string[][] = []
  let described = ''
  for (const nodes of sizes) {
    for (const rate of [0, params.taskRatePerS ?? 0].filter((r, i, a) => a.indexOf(r) === i)) {
      const r = networkLoad({ ...params, nodes, taskRatePerS: rate })
      described = describe(r.params)
      for (const role of ROLES) {
        const l = r.roles[role]
        const top = Object.entries(l.sources).filter(([k]) => k !== 'base').sort((a, b) => kbit(b[1]) - kbit(a[1])).slice(0, 3)
          .map(([k, v]) => `${k} ${fmt(kbit(v))}`).join(', ')
        rows.push([String(nodes), rate === 0 ? 'idle' : `${rate}/s`, role, fmt(l.total.msgsIn + l.total.msgsOut), fmt(l.total.firstSeen), fmt(kbit(l.total)), fmt(l.total.cpuMs), fmt(l.total.cpuMs / 10), withinGoal(l.total) ? 'yes' : 'no', top])
      }
    }
  }
  return `Per node, ${described}:\n\n` + table(['nodes', 'tasks', 'role', 'msg/s', 'signature checks/s', 'kbit/s', 'CPU ms/s', '% of a core', `≤ ${GOAL_CPU_MS_PER_S} ms/s and ${GOAL_KBIT_PER_S} kbit/s`, 'largest sources (kbit/s)'], rows)
}

/** Time `selectMiners` over a pool of `poolSize` (the leader's draw per task), median of `reps`, in ms. */
export function timeSelection (poolSize: number, redundancy: number, reps = 5): { buildMs: number, drawMs: number } {
  const records: MinerRecord[] = Array.from({ length: poolSize }, (_, i) => ({
    id: `0x${i.toString(16).padStart(40, '0')}`, models: ['m'], level: i % 4, reputation: 500 + (i % 500), tokensPerSec: 20 + (i % 60), healthy: true, reserved: i % 10 === 0
  }))
  const build: number[] = []
  const draw: number[] = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    const pool = poolFromRecords(records, { model: 'm' })
    const t1 = performance.now()
    selectMiners(pool.pool, Uint8Array.from({ length: 32 }, (_, j) => (j * 7 + r) & 0xff), redundancy)
    build.push(t1 - t0)
    draw.push(performance.now() - t1)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  return { buildMs: median(build), drawMs: median(draw) }
}

/** What one task costs the oracles at each size: gossip it receives and checks, the leader's draw, chain traffic. */
export function oracleTable (sizes: number[], params: Partial<NetworkLoadParams>): string {
  const rows: string[][] = []
  for (const nodes of sizes) {
    const r = networkLoad({ ...params, nodes, taskRatePerS: 1 })
    const p = r.params
    const idle = networkLoad({ ...params, nodes, taskRatePerS: 0 }).roles.oracle.total
    const busy = r.roles.oracle.total
    const perTask = messagesPerTask(p.redundancy)
    const first = Object.values(perTask).reduce((a, b) => a + b, 0)
    const sel = timeSelection(Math.round(nodes / p.models), p.redundancy)
    rows.push([String(nodes), String(first), String(perTask.precommit), fmt(busy.msgsIn + busy.msgsOut - idle.msgsIn - idle.msgsOut), fmt((busy.bytesIn + busy.bytesOut - idle.bytesIn - idle.bytesOut) / 1000), fmt(busy.cpuMs - idle.cpuMs),
      `${fmt(sel.buildMs)} + ${fmt(sel.drawMs)}`])
  }
  return 'The oracle\'s work per task (each oracle receives and checks every task of its models; the leader also draws, assigns and settles on chain, ' +
    'two hub writes per batch of up to 50 tasks):\n\n' +
    table(['nodes', 'gossip messages checked', 'of which EIP-712 recoveries', 'messages on the wire', 'kB on the wire', 'CPU ms (gossip)', 'leader\'s draw, ms: pool build + select (timed here)'], rows)
}

export interface SweepAxes {
  heartbeatIntervalS: number[]
  meshDegree: number[]
  models: number[]
  splitAllTopics: boolean[]
  dhtRefreshS: number[]
  provideIntervalS: number[]
}

export const DEFAULT_SWEEP: SweepAxes = {
  heartbeatIntervalS: [10, 60, 300, 900, 3600],
  meshDegree: [4, 6, 8],
  models: [1, 10, 100, 1000],
  splitAllTopics: [false, true],
  dhtRefreshS: [300, 3600],
  // pool keys live 48 h on the DHT: an hour between provides is still far inside that
  provideIntervalS: [600, 3600]
}

/** Every combination at each size, idle and at `taskRatePerS`: one row each, for CSV and for the recommendation. */
export function sweepRows (sizes: number[], base: Partial<NetworkLoadParams>, axes: SweepAxes = DEFAULT_SWEEP): Row[] {
  // every combination of the axes, the first axis varying slowest
  let grid: Array<Partial<NetworkLoadParams>> = sizes.map(nodes => ({ nodes }))
  const expand = <K extends keyof NetworkLoadParams>(key: K, values: Array<NetworkLoadParams[K]>): void => {
    grid = grid.flatMap(point => values.map(v => ({ ...point, [key]: v })))
  }
  expand('models', axes.models)
  expand('splitAllTopics', axes.splitAllTopics)
  expand('meshDegree', axes.meshDegree)
  expand('heartbeatIntervalS', axes.heartbeatIntervalS)
  expand('dhtRefreshS', axes.dhtRefreshS)
  expand('provideIntervalS', axes.provideIntervalS)
  return grid.map((point) => {
    const idle = networkLoad({ ...base, ...point, taskRatePerS: 0 })
    const busy = networkLoad({ ...base, ...point })
    const p = idle.params
    const m = idle.roles.miner.total
    const o = idle.roles.oracle.total
    return {
      nodes: p.nodes,
      models: p.models,
      split_all_topics: p.splitAllTopics,
      mesh_degree: p.meshDegree,
      heartbeat_s: p.heartbeatIntervalS,
      dht_refresh_s: p.dhtRefreshS,
      provide_s: p.provideIntervalS,
      miner_idle_kbit_s: kbit(m),
      miner_idle_cpu_ms_s: m.cpuMs,
      oracle_idle_kbit_s: kbit(o),
      oracle_idle_cpu_ms_s: o.cpuMs,
      task_rate_per_s: busy.params.taskRatePerS,
      miner_load_kbit_s: kbit(busy.roles.miner.total),
      miner_load_cpu_ms_s: busy.roles.miner.total.cpuMs,
      miner_idle_within_goal: withinGoal(m)
    }
  })
}

/**
 * For each size and model count: the shortest heartbeat period (freshest
 * pool) that keeps an idle miner within the goal, with kad-dht's own
 * refresh and the shortest provide period if they fit, and the largest D
 * that fits (more paths, more robust), per topic layout.
 */
export function recommendationTable (rows: Row[]): string {
  const out: string[][] = []
  const keys = [...new Set(rows.map(r => `${r.nodes}|${r.models}|${r.split_all_topics}`))]
  for (const k of keys) {
    const [nodes, models, split] = k.split('|')
    // the freshest pool first, then kad-dht's own refresh period, then the most paths
    const ok = rows.filter(r => `${r.nodes}|${r.models}|${r.split_all_topics}` === k && r.miner_idle_within_goal === true)
      .sort((a, b) => Number(a.heartbeat_s) - Number(b.heartbeat_s) || Number(a.dht_refresh_s) - Number(b.dht_refresh_s) ||
        Number(a.provide_s) - Number(b.provide_s) || Number(b.mesh_degree) - Number(a.mesh_degree))
    const best = ok[0]
    out.push([nodes, models, split === 'true' ? 'every topic per model' : 'task and heartbeat per model',
      best == null ? 'none in the grid' : `${best.heartbeat_s} s`, best == null ? '–' : String(best.mesh_degree), best == null ? '–' : `${best.dht_refresh_s} s`,
      best == null ? '–' : `${best.provide_s} s`,
      best == null ? '–' : `${fmt(Number(best.miner_idle_kbit_s))} kbit/s, ${fmt(Number(best.miner_idle_cpu_ms_s))} ms/s`,
      best == null ? '–' : `${fmt(Number(best.oracle_idle_kbit_s))} kbit/s, ${fmt(Number(best.oracle_idle_cpu_ms_s))} ms/s`,
      best == null ? '–' : `${fmt(Number(best.miner_load_kbit_s))} kbit/s, ${fmt(Number(best.miner_load_cpu_ms_s))} ms/s at ${best.task_rate_per_s}/s`])
  }
  return `Shortest heartbeat period that keeps an idle miner within ${GOAL_CPU_MS_PER_S} ms/s and ${GOAL_KBIT_PER_S} kbit/s:\n\n` +
    table(['nodes', 'models', 'topics', 'heartbeat', 'D', 'DHT refresh', 'pool-key provide', 'idle miner', 'idle oracle', 'miner at load'], out)
}
