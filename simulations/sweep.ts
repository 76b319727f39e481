/** Grids of runs: a scenario's own `sweep` axes, or the default grid behind the report's recommendation. */
import { runSimulation } from './engine.ts'
import { runRow } from './output.ts'
import { sweepGrid, validateScenario } from './scenario.ts'
import type { Row } from './csv.ts'
import type { Scenario, SweepAxes } from './scenario.ts'

export interface SweepPoint {
  grid: string
  scenario: Scenario
}

/** Sample rates and penalties of the default economics grid. */
export const DEFAULT_SAMPLE_RATES = [0, 0.01, 0.02, 0.05, 0.1, 0.2]
export const DEFAULT_PENALTIES = [0, 10, 50, 100, 200]
export const DEFAULT_REDUNDANCIES = [1, 2, 3, 5, 7]
export const DEFAULT_COLLUDING_FRACTIONS = [0.1, 0.2, 1 / 3]

/**
 * Default grid: (economics) every cheating strategy at once over sample rate
 * × penalty; (escape) one colluding group over redundancy × colluding
 * fraction with no sampling, to compare with the closed form.
 */
export function defaultSweep (base: Scenario): SweepPoint[] {
  const econ = validateScenario({
    ...base,
    mix: { lazy: 0.05, 'wrong-model': 0.03, copier: 0.02, colluding: 0.05 }
  } as unknown as Record<string, unknown>)
  const points: SweepPoint[] = sweepGrid(econ, { sampleRate: DEFAULT_SAMPLE_RATES, penalty: DEFAULT_PENALTIES })
    .map(scenario => ({ grid: 'economics', scenario }))
  const escBase = validateScenario({ ...base, mix: undefined, strategy: 'colluding', collusionGroupSize: 0, sampleRate: 0 } as unknown as Record<string, unknown>)
  for (const scenario of sweepGrid(escBase, { redundancy: DEFAULT_REDUNDANCIES, malicious: DEFAULT_COLLUDING_FRACTIONS })) {
    points.push({ grid: 'escape', scenario })
  }
  return points
}

export function scenarioSweep (base: Scenario, axes: SweepAxes): SweepPoint[] {
  return sweepGrid(base, axes).map(scenario => ({ grid: 'scenario', scenario }))
}

export function runSweep (points: SweepPoint[], onProgress?: (done: number, total: number) => void): Row[] {
  const rows: Row[] = []
  points.forEach((p, i) => {
    rows.push({ grid: p.grid, ...runRow(runSimulation(p.scenario)) })
    onProgress?.(i + 1, points.length)
  })
  return rows
}
