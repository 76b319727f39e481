/**
 * `results/report.md`: the tables of a results directory, links to its
 * charts, and the recommended sampling rate and penalty for the default
 * network parameters (from the economics grid of a sweep).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative, dirname } from 'node:path'
import { sampleSize } from '../protocols/sampling/index.ts'
import { COST_CHEAP, COST_INFERENCE, COST_WRONG_MODEL, STRATEGIES } from './constants.ts'
import { fromCsv } from './csv.ts'
import type { Strategy } from './constants.ts'

export interface Recommendation {
  sampleRate: number
  penalty: number
  redundancy: number
  verificationCost: number
  /** the sweep row it came from (seed and nodes) */
  nodes: number
  seed: number
}

type CsvRow = Record<string, string>

/** What one cheating act costs the cheater (the honest alternative costs COST_INFERENCE). */
const CHEAT_COST: Record<Exclude<Strategy, 'honest'>, number> = {
  lazy: COST_CHEAP,
  'wrong-model': COST_WRONG_MODEL,
  copier: 0,
  colluding: COST_CHEAP,
  sybil: COST_CHEAP
}

/** Below this many cheating acts a measured detection rate is too noisy; use the sampling floor instead. */
const MIN_ACTS_FOR_MEASURED_DETECTION = 200

/**
 * Whether cheating pays at a grid point: for each strategy, the expected
 * value of one cheating act, R − d·penalty·R − cost, against honest work,
 * R − COST_INFERENCE, where d is the measured detection per act (or, when
 * the strategy cheated too rarely to measure, the sample rate: an audited
 * task's replay catches any bad output). A cheat caught by the audit after
 * settlement keeps its pay, so the act is counted as paid whether caught or
 * not: an upper bound on what cheating earns.
 */
export function cheatingPays (r: CsvRow): boolean {
  const R = Number(r.reward)
  const S = Number(r.penalty)
  const honest = R - COST_INFERENCE * R
  return (Object.keys(CHEAT_COST) as Array<keyof typeof CHEAT_COST>).some(s => {
    if ((r[`${s}_nodes`] ?? '') === '') {
      return false
    }
    const acts = Number(r[`${s}_cheat_acts`])
    const d = acts >= MIN_ACTS_FOR_MEASURED_DETECTION ? Number(r[`${s}_detection_per_act`]) : Number(r.sampleRate)
    const ev = R - d * S * R - CHEAT_COST[s] * R
    return ev > honest + 1e-9
  })
}

/**
 * Cheapest point of the economics grid where no cheating act is worth more
 * than honest work (see cheatingPays): lowest verification cost, then
 * lowest penalty. Undefined if none qualifies.
 */
export function recommend (rows: CsvRow[]): Recommendation | undefined {
  const ok = rows.filter(r => r.grid === 'economics' && !cheatingPays(r))
  ok.sort((a, b) => Number(a.verification_cost) - Number(b.verification_cost) || Number(a.penalty) - Number(b.penalty))
  const best = ok[0]
  if (best === undefined) {
    return undefined
  }
  return {
    sampleRate: Number(best.sampleRate),
    penalty: Number(best.penalty),
    redundancy: Number(best.redundancy),
    verificationCost: Number(best.verification_cost),
    nodes: Number(best.nodes),
    seed: Number(best.seed)
  }
}

function table (rows: CsvRow[], cols: string[]): string {
  const fmt = (v: string | undefined): string => {
    if (v === undefined || v === '') {
      return '–'
    }
    const n = Number(v)
    return Number.isFinite(n) && v.trim() !== '' && !Number.isInteger(n) ? String(Number(n.toPrecision(4))) : v
  }
  return [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map(r => `| ${cols.map(c => fmt(r[c])).join(' | ')} |`)].join('\n')
}

export function buildReport (inDir: string, outFile: string): { markdown: string, recommendation?: Recommendation } {
  const read = (name: string): CsvRow[] => existsSync(join(inDir, name)) ? fromCsv(readFileSync(join(inDir, name), 'utf8')) : []
  const link = (name: string): string => relative(dirname(outFile), join(inDir, name)) || name
  const parts: string[] = ['# Sampling simulation report', '']
  parts.push(`Closed form: Cochran sample size for 95 % ± 1 % is ${sampleSize()} (Cortensor's 9,604); with the finite-population correction for 10^6 nodes, ${sampleSize({ population: 1_000_000 })}.`, '')
  const run = read('run.csv')
  const behaviours = read('behaviours.csv')
  if (run.length > 0) {
    parts.push('## Single run', '', table(run, ['nodes', 'days', 'seed', 'sampleRate', 'redundancy', 'penalty', 'tasks', 'bad_accepted_rate', 'verification_cost']), '')
    if (behaviours.length > 0) {
      parts.push(table(behaviours, ['strategy', 'nodes', 'assigned', 'cheat_acts', 'detection_per_act', 'caught_nodes_frac', 'median_hours_to_detect', 'profit_per_task', 'profit_per_node_day']), '')
    }
    if (existsSync(join(inDir, 'timeline.svg'))) {
      parts.push(`![cheaters caught over time](${link('timeline.svg')})`, '')
    }
  }
  const sweep = read('sweep.csv')
  let recommendation: Recommendation | undefined
  if (sweep.length > 0) {
    const cheaters = STRATEGIES.slice(1).filter(s => sweep.some(r => (r[`${s}_nodes`] ?? '') !== ''))
    const econ = sweep.filter(r => r.grid === 'economics')
    if (econ.length > 0) {
      parts.push('## Economics grid (sample rate × penalty, all strategies at once)', '',
        table(econ.map(r => ({ ...r, cheating_pays: String(cheatingPays(r)) })), ['sampleRate', 'penalty', 'cheating_pays', 'verification_cost', 'bad_accepted_rate', 'honest_profit_per_task', ...cheaters.map(s => `${s}_profit_per_task`)]), '',
        table(econ.filter(r => r.penalty === econ[0].penalty), ['sampleRate', ...cheaters.map(s => `${s}_detection_per_act`)]), '')
    }
    const esc = sweep.filter(r => r.grid === 'escape')
    if (esc.length > 0) {
      parts.push('## Escape of an all-colluding quorum (no sampling)', '', table(esc, ['malicious', 'redundancy', 'tasks', 'bad_accepted', 'bad_accepted_rate']), '')
    }
    const other = sweep.filter(r => r.grid === 'scenario')
    if (other.length > 0) {
      parts.push('## Scenario sweep', '', table(other, Object.keys(other[0]).filter(k => !['grid', 'mix', 'commitReveal', 'escalateOnDisagreement'].includes(k)).slice(0, 14)), '')
    }
    for (const [file, title] of [['detection-vs-sample-rate.svg', 'detection vs sample rate'], ['profit-vs-penalty.svg', 'profit vs penalty'], ['escape-vs-redundancy.svg', 'escape vs redundancy']]) {
      if (existsSync(join(inDir, file))) {
        parts.push(`![${title}](${link(file)})`, '')
      }
    }
    recommendation = recommend(sweep)
    parts.push('## Recommended default network parameters', '')
    if (recommendation === undefined) {
      parts.push('No point of the economics grid made every cheating strategy earn less than honest work; widen the grid.', '')
    } else {
      parts.push('Cheapest point of the economics grid where no cheating act has a higher expected value than honest work ' +
        '(R − d·penalty·R − cost: a cheat caught by the audit after settlement keeps its pay; d = measured detection per act, or the sample rate when a strategy cheated fewer than 200 times) ' +
        `(nodes ${recommendation.nodes}, seed ${recommendation.seed}):`, '',
      `- sampling rate: **${recommendation.sampleRate}**`,
      `- penalty: **${recommendation.penalty}** task rewards`,
      `- redundancy: **${recommendation.redundancy}**`,
      `- verification cost: ${recommendation.verificationCost.toFixed(3)} × useful inference`, '')
    }
  }
  const charts = existsSync(inDir) ? readdirSync(inDir).filter(f => f.endsWith('.svg')).sort() : []
  if (charts.length > 0) {
    parts.push('## Files', '', ...charts.map(f => `- [${f}](${link(f)})`), '')
  }
  return { markdown: parts.join('\n'), recommendation }
}
