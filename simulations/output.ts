/** Files of one run and of a sweep: CSV tables and SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { allDishonestQuorum } from '../protocols/sampling/index.ts'
import { STRATEGIES } from './constants.ts'
import { toCsv } from './csv.ts'
import { lineChart } from './svg.ts'
import type { Row } from './csv.ts'
import type { RunResult } from './engine.ts'
import type { Scenario } from './scenario.ts'
import type { Series } from './svg.ts'

export function scenarioRow (s: Scenario): Row {
  const row: Row = {}
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) {
      continue
    }
    row[k] = k === 'mix' ? Object.entries(v as object).map(([a, b]) => `${a}:${b}`).join(' ') : v as Row[string]
  }
  return row
}

export function runRow (r: RunResult): Row {
  const row: Row = {
    ...scenarioRow(r.scenario),
    tasks: r.tasks,
    no_result: r.noResult,
    bad_accepted: r.badAccepted,
    bad_accepted_rate: r.badAcceptedRate,
    replayed_tasks: r.replayedTasks,
    replays: r.replays,
    verification_cost: r.verificationCost
  }
  for (const b of r.behaviours) {
    row[`${b.strategy}_nodes`] = b.nodes
    row[`${b.strategy}_cheat_acts`] = b.cheatActs
    row[`${b.strategy}_detection_per_act`] = b.detectionPerAct
    row[`${b.strategy}_caught_nodes_frac`] = b.caughtNodes / b.nodes
    row[`${b.strategy}_profit_per_task`] = b.profitPerTask
  }
  return row
}

export function behaviourRows (r: RunResult): Row[] {
  return r.behaviours.map(b => ({
    strategy: b.strategy,
    nodes: b.nodes,
    assigned: b.assigned,
    cheat_acts: b.cheatActs,
    caught_acts: b.caughtActs,
    flagged: b.flagged,
    timeouts: b.timeouts,
    detection_per_act: b.detectionPerAct,
    caught_nodes_frac: b.caughtNodes / b.nodes,
    median_hours_to_detect: b.medianHoursToDetect,
    ejected_nodes: b.ejectedNodes,
    paid: b.paid,
    slashed: b.slashed,
    cost: b.cost,
    profit_per_node_day: b.profitPerNodeDay,
    profit_per_task: b.profitPerTask
  }))
}

/** run.csv, behaviours.csv, timeline.csv and timeline.svg; returns the paths written. */
export function writeRun (r: RunResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const cheaters = r.behaviours.filter(b => b.strategy !== 'honest').map(b => b.strategy)
  const timeline: Row[] = r.timeline.map(t => ({ hour: t.hour, ...Object.fromEntries(cheaters.map(s => [`${s}_caught_frac`, t.caught[s] ?? 0])) }))
  const files: Array<[string, string]> = [
    ['run.csv', toCsv([runRow(r)])],
    ['behaviours.csv', toCsv(behaviourRows(r))],
    ['timeline.csv', toCsv(timeline)],
    ['timeline.svg', lineChart(cheaters.map(s => ({ name: s, points: r.timeline.map(t => [t.hour, t.caught[s] ?? 0] as [number, number]) })), {
      title: 'Cheaters caught at least once', xLabel: 'hours', yLabel: 'fraction of nodes'
    })]
  ]
  return files.map(([name, text]) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  })
}

const num = (v: Row[string] | undefined): number => typeof v === 'number' ? v : Number(v)

/** sweep.csv plus the three charts; returns the paths written. */
export function writeSweep (rows: Row[], dir: string): string[] {
  mkdirSync(dir, { recursive: true })
  const files: Array<[string, string]> = [['sweep.csv', toCsv(rows)]]
  const econ = rows.filter(r => r.grid === 'economics')
  const econBase = econ.length > 0 ? econ : rows
  if (econBase.length > 0) {
    const penalties = [...new Set(econBase.map(r => num(r.penalty)))].sort((a, b) => a - b)
    const basePenalty = penalties.includes(100) ? 100 : penalties[penalties.length - 1]
    const rates = [...new Set(econBase.map(r => num(r.sampleRate)))].sort((a, b) => a - b)
    const baseRate = rates.includes(0.05) ? 0.05 : rates[Math.floor(rates.length / 2)]
    const strategies = STRATEGIES.filter(s => econBase.some(r => r[`${s}_nodes`] !== undefined))
    const det: Series[] = strategies.filter(s => s !== 'honest').map(s => ({
      name: s,
      points: econBase.filter(r => num(r.penalty) === basePenalty).map(r => [num(r.sampleRate), num(r[`${s}_detection_per_act`])] as [number, number]).sort((a, b) => a[0] - b[0])
    }))
    files.push(['detection-vs-sample-rate.svg', lineChart(det, { title: `Detection per cheating act (penalty ${basePenalty})`, xLabel: 'sample rate', yLabel: 'P(caught | cheated)' })])
    const prof: Series[] = strategies.map(s => ({
      name: s,
      points: econBase.filter(r => num(r.sampleRate) === baseRate).map(r => [num(r.penalty), num(r[`${s}_profit_per_task`])] as [number, number]).sort((a, b) => a[0] - b[0])
    }))
    files.push(['profit-vs-penalty.svg', lineChart(prof, { title: `Profit per task (sample rate ${baseRate})`, xLabel: 'penalty (task rewards)', yLabel: 'profit per task (rewards)' })])
  }
  const esc = rows.filter(r => r.grid === 'escape')
  if (esc.length > 0) {
    const fractions = [...new Set(esc.map(r => num(r.malicious)))].sort((a, b) => a - b)
    const series: Series[] = []
    for (const f of fractions) {
      const pts = esc.filter(r => num(r.malicious) === f).map(r => [num(r.redundancy), num(r.bad_accepted_rate)] as [number, number]).sort((a, b) => a[0] - b[0])
      series.push({ name: `colluding ${Number(f.toFixed(3))} (sim)`, points: pts })
      series.push({ name: `${Number(f.toFixed(3))}^n`, points: pts.map(([n]) => [n, allDishonestQuorum(Infinity, f, n)] as [number, number]), dashed: true })
    }
    files.push(['escape-vs-redundancy.svg', lineChart(series, { title: 'Fake result accepted (no sampling)', xLabel: 'redundancy n', yLabel: 'fraction of tasks', logY: true })])
  }
  return files.map(([name, text]) => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  })
}
