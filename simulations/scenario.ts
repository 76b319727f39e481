/**
 * Scenario format (JSON or YAML): every field of DEFAULT_SCENARIO, all
 * optional, plus `sweep: { field: [values…] }` for a grid. Validation names
 * the offending field.
 */
import { parse as parseYaml } from 'yaml'
import { DEFAULT_SCENARIO, STRATEGIES } from './constants.ts'
import { ScenarioError, ScenarioFormatError } from './errors.ts'
import type { Strategy } from './constants.ts'

export type Scenario = typeof DEFAULT_SCENARIO
export type SweepAxes = Partial<Record<SweepField, number[]>>

export const SWEEP_FIELDS = ['sampleRate', 'redundancy', 'penalty', 'malicious', 'lazyProbability', 'collusionGroupSize', 'nodes', 'churnPerDay', 'sybilStake'] as const
export type SweepField = typeof SWEEP_FIELDS[number]

export interface ScenarioFile {
  scenario: Scenario
  sweep?: SweepAxes
}

type Check = (field: string, v: unknown) => unknown

const int = (min: number, max: number): Check => (field, v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScenarioError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
  }
  return v
}
const num = (min: number, max: number): Check => (field, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ScenarioError(field, `must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`)
  }
  return v
}
const bool: Check = (field, v) => {
  if (typeof v !== 'boolean') {
    throw new ScenarioError(field, `must be true or false, got ${JSON.stringify(v)}`)
  }
  return v
}
const strategy: Check = (field, v) => {
  if (typeof v !== 'string' || !(STRATEGIES as readonly string[]).includes(v)) {
    throw new ScenarioError(field, `must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(v)}`)
  }
  return v
}
const mix: Check = (field, v) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ScenarioError(field, 'must be a map of strategy → fraction of nodes')
  }
  let total = 0
  for (const [k, f] of Object.entries(v)) {
    if (k === 'honest' || !(STRATEGIES as readonly string[]).includes(k)) {
      throw new ScenarioError(`${field}.${k}`, `unknown cheating strategy (one of ${STRATEGIES.slice(1).join(', ')})`)
    }
    total += num(0, 1)(`${field}.${k}`, f) as number
  }
  if (total > 1) {
    throw new ScenarioError(field, `fractions add up to ${total}, more than 1`)
  }
  return v
}

export const CHECKS: Record<keyof Scenario, Check> = {
  nodes: int(2, 10_000_000),
  days: num(0.001, 365),
  tasksPerNodePerDay: num(0, 1000),
  seed: int(0, 2 ** 32 - 1),
  sampleRate: num(0, 1),
  redundancy: int(1, 64),
  penalty: num(0, 1e9),
  reward: num(0, 1e9),
  escalateOnDisagreement: bool,
  commitReveal: bool,
  malicious: num(0, 1),
  strategy,
  mix,
  lazyProbability: num(0, 1),
  wrongModelSimilar: num(0, 1),
  collusionGroupSize: int(0, 10_000_000),
  stake: num(0, 1e12),
  sybilStake: num(0, 1e12),
  churnPerDay: num(0, 24)
}

/** Validate a plain object as a scenario (unknown fields are errors), filling defaults. */
export function validateScenario (input: Record<string, unknown>, prefix = ''): Scenario {
  const out: Record<string, unknown> = { ...DEFAULT_SCENARIO }
  for (const [k, v] of Object.entries(input)) {
    if (!(k in CHECKS)) {
      throw new ScenarioError(prefix + k, 'unknown field')
    }
    if (v === undefined) {
      continue
    }
    out[k] = CHECKS[k as keyof Scenario](prefix + k, v)
  }
  const s = out as Scenario
  if (s.redundancy > s.nodes) {
    throw new ScenarioError(prefix + 'redundancy', `is larger than nodes (${s.nodes})`)
  }
  return s
}

export function validateSweep (input: unknown): SweepAxes {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ScenarioError('sweep', 'must be a map of field → list of values')
  }
  const axes: SweepAxes = {}
  for (const [k, values] of Object.entries(input)) {
    if (!(SWEEP_FIELDS as readonly string[]).includes(k)) {
      throw new ScenarioError(`sweep.${k}`, `cannot be swept (one of ${SWEEP_FIELDS.join(', ')})`)
    }
    if (!Array.isArray(values) || values.length === 0) {
      throw new ScenarioError(`sweep.${k}`, 'must be a non-empty list')
    }
    axes[k as SweepField] = values.map((v, i) => CHECKS[k as SweepField](`sweep.${k}[${i}]`, v) as number)
  }
  return axes
}

/** Parse a scenario file's text (JSON or YAML, chosen by content). */
export function parseScenarioText (text: string): ScenarioFile {
  let raw: unknown
  try {
    raw = text.trimStart().startsWith('{') ? JSON.parse(text) : parseYaml(text)
  } catch (err: any) {
    throw new ScenarioFormatError(`not valid JSON or YAML (${String(err?.message ?? err).split('\n')[0]})`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ScenarioFormatError('must be a map of fields')
  }
  const { sweep, ...rest } = raw as Record<string, unknown>
  const scenario = validateScenario(rest)
  return sweep === undefined ? { scenario } : { scenario, sweep: validateSweep(sweep) }
}

/** The fraction of nodes per cheating strategy a scenario describes. */
export function strategyMix (s: Scenario): Array<[Strategy, number]> {
  if (s.mix !== undefined) {
    return Object.entries(s.mix).filter(([, f]) => (f ?? 0) > 0) as Array<[Strategy, number]>
  }
  return s.strategy === 'honest' || s.malicious === 0 ? [] : [[s.strategy, s.malicious]]
}

/** Grid points: the cartesian product of the axes, each applied over the base scenario. */
export function sweepGrid (base: Scenario, axes: SweepAxes): Scenario[] {
  let points: Scenario[] = [base]
  for (const [k, values] of Object.entries(axes)) {
    const next: Scenario[] = []
    for (const p of points) {
      for (const v of values) {
        next.push({ ...p, [k]: v })
      }
    }
    points = next
  }
  return points.map(p => validateScenario(p as unknown as Record<string, unknown>))
}
