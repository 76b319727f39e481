/**
 * What a simulation run reports: per-strategy statistics and the timeline of
 * detection, summarised from the engine's per-node arrays.
 */
import { STRATEGIES } from './constants.ts'
import type { Strategy } from './constants.ts'
import type { Scenario } from './scenario.ts'

/** A strategy's index in STRATEGIES (the engine's per-node behaviour code). */
export const STRATEGY_INDEX = Object.fromEntries(STRATEGIES.map((s, i) => [s, i])) as Record<Strategy, number>

export interface BehaviourStats {
  strategy: Strategy
  nodes: number
  /** task slots served */
  assigned: number
  /** tasks where the miner did not do honest work */
  cheatActs: number
  /** provable-fraud verdicts (replay fail, reveal ≠ precommit) */
  caughtActs: number
  /** embedding-outlier verdicts */
  flagged: number
  /** missed deadlines (a copier with nobody to copy) */
  timeouts: number
  passes: number
  paid: number
  slashed: number
  cost: number
  /** nodes caught at least once */
  caughtNodes: number
  ejectedNodes: number
  /** median hours to first detection among caught nodes (NaN if none) */
  medianHoursToDetect: number
  /** caughtActs / cheatActs */
  detectionPerAct: number
  profitPerNodeDay: number
  /** (paid − slashed − cost) / assigned */
  profitPerTask: number
}

export interface RunResult {
  scenario: Scenario
  tasks: number
  noResult: number
  badAccepted: number
  badAcceptedRate: number
  replayedTasks: number
  replays: number
  /** extra inference (redundant generations, replays, embeddings) ÷ useful inference (one generation per accepted task) */
  verificationCost: number
  behaviours: BehaviourStats[]
  /** per hour: cumulative fraction of each cheating strategy's nodes caught at least once */
  timeline: Array<{ hour: number, caught: Partial<Record<Strategy, number>> }>
}

export type ProgressFn = (done: number, total: number) => void

/** A strategy's running counts, as the engine keeps them. */
export type StrategyCounts = Omit<BehaviourStats, 'caughtNodes' | 'medianHoursToDetect' | 'detectionPerAct' | 'profitPerNodeDay' | 'profitPerTask'>

/**
 * Per-strategy statistics and the hourly detection timeline from the
 * strategies' counts, each node's behaviour code and the time it was first
 * caught (−1: never), over `horizonS` seconds of `days` days.
 */
export function summarise (stats: StrategyCounts[], behaviour: Uint8Array, firstCaughtS: Float64Array, horizonS: number, days: number): Pick<RunResult, 'behaviours' | 'timeline'> {
  const B = STRATEGY_INDEX
  const hours = Math.ceil(horizonS / 3600)
  const caughtHours: number[][] = STRATEGIES.map(() => [])
  for (let i = 0; i < behaviour.length; i++) {
    if (firstCaughtS[i] >= 0) {
      caughtHours[behaviour[i]].push(firstCaughtS[i] / 3600)
    }
  }
  const behaviours: BehaviourStats[] = stats.filter(st => st.nodes > 0).map(st => {
    const b = B[st.strategy]
    const hs = caughtHours[b].sort((x, y) => x - y)
    const profit = st.paid - st.slashed - st.cost
    return {
      ...st,
      caughtNodes: hs.length,
      medianHoursToDetect: hs.length === 0 ? NaN : hs[Math.floor((hs.length - 1) / 2)],
      detectionPerAct: st.cheatActs === 0 ? NaN : st.caughtActs / st.cheatActs,
      profitPerNodeDay: profit / st.nodes / days,
      profitPerTask: st.assigned === 0 ? NaN : profit / st.assigned
    }
  })
  const timeline: RunResult['timeline'] = []
  const cursor = STRATEGIES.map(() => 0)
  for (let h = 1; h <= hours; h++) {
    const caught: Partial<Record<Strategy, number>> = {}
    for (const st of behaviours) {
      if (st.strategy === 'honest') {
        continue
      }
      const b = B[st.strategy]
      const hs = caughtHours[b]
      while (cursor[b] < hs.length && hs[cursor[b]] < h) {
        cursor[b]++
      }
      caught[st.strategy] = cursor[b] / st.nodes
    }
    timeline.push({ hour: h, caught })
  }
  return { behaviours, timeline }
}
