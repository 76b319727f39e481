import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { STRATEGIES } from '../../simulations/constants.ts'
import { runSimulation } from '../../simulations/engine.ts'
import { ScenarioError, ScenarioFormatError } from '../../simulations/errors.ts'
import { writeRun, writeSweep } from '../../simulations/output.ts'
import { buildReport } from '../../simulations/report.ts'
import { CHECKS, parseScenarioText, validateScenario } from '../../simulations/scenario.ts'
import { defaultSweep, runSweep, scenarioSweep } from '../../simulations/sweep.ts'
import { CliUsageError, InvalidOptionError } from './errors.ts'
import { print, progress, say } from './output.ts'
import { registerNetworkSim } from './sim-network.ts'
import type { Scenario } from '../../simulations/scenario.ts'
import type { Command } from 'commander'

/** flag → scenario field and parser */
const FLAGS: Array<[flag: string, field: keyof Scenario, kind: 'int' | 'num' | 'strategy', help: string]> = [
  ['--nodes <n>', 'nodes', 'int', 'simulated miners'],
  ['--days <d>', 'days', 'num', 'simulated days'],
  ['--tasks-per-node <n>', 'tasksPerNodePerDay', 'num', 'tasks per node per day'],
  ['--malicious <fraction>', 'malicious', 'num', 'fraction of nodes that follow --strategy'],
  ['--strategy <name>', 'strategy', 'strategy', `cheating strategy: ${STRATEGIES.join(', ')}`],
  ['--lazy-q <q>', 'lazyProbability', 'num', 'probability a lazy miner fakes a task'],
  ['--group-size <c>', 'collusionGroupSize', 'int', 'colluding group size (0 = one group)'],
  ['--sample-rate <p>', 'sampleRate', 'num', 'fraction of tasks replay-checked'],
  ['--redundancy <n>', 'redundancy', 'int', 'miners per task'],
  ['--penalty <rewards>', 'penalty', 'num', 'slash for provable fraud, in task rewards'],
  ['--churn <per-day>', 'churnPerDay', 'num', 'fraction of identities replaced per day'],
  ['--seed <n>', 'seed', 'int', 'random seed (same seed → identical CSV)']
]

function optionName (flag: string): string {
  return flag.split(' ')[0].slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

function parseFlag (flag: string, kind: string, raw: string): number | string {
  if (kind === 'strategy') {
    if (!(STRATEGIES as readonly string[]).includes(raw)) {
      throw new InvalidOptionError(flag, `must be one of ${STRATEGIES.join(', ')}`)
    }
    return raw
  }
  const v = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(v) || (kind === 'int' && !Number.isInteger(v))) {
    throw new InvalidOptionError(flag, `must be ${kind === 'int' ? 'an integer' : 'a number'}, got "${raw}"`)
  }
  return v
}

function scenarioFromOptions (opts: Record<string, unknown>): { scenario: Scenario, sweepAxes?: ReturnType<typeof parseScenarioText>['sweep'] } {
  let base: Record<string, unknown> = {}
  let sweepAxes
  if (typeof opts.scenario === 'string') {
    let text: string
    try {
      text = readFileSync(opts.scenario, 'utf8')
    } catch (err: any) {
      throw new InvalidOptionError('--scenario', `cannot read ${opts.scenario} (${err?.code ?? err?.message})`)
    }
    try {
      const file = parseScenarioText(text)
      base = { ...file.scenario }
      sweepAxes = file.sweep
    } catch (err: any) {
      if (err instanceof ScenarioError || err instanceof ScenarioFormatError) {
        throw new InvalidOptionError('--scenario', err.message)
      }
      throw err
    }
  }
  for (const [flag, field, kind] of FLAGS) {
    const raw = opts[optionName(flag)]
    if (typeof raw !== 'string') {
      continue
    }
    const v = parseFlag(flag.split(' ')[0], kind, raw)
    try {
      CHECKS[field](field, v)
    } catch (err: any) {
      throw new InvalidOptionError(flag.split(' ')[0], err.message.replace(/^scenario field "[^"]+": /, ''))
    }
    base[field] = v
    if (field === 'malicious' || field === 'strategy') {
      base.mix = undefined // the flags describe the population
    }
  }
  try {
    return { scenario: validateScenario(base), sweepAxes }
  } catch (err: any) {
    if (err instanceof ScenarioError) {
      throw new CliUsageError(err.message)
    }
    throw err
  }
}

/** `cortensor sim …` commands. */
export function registerSimCommands (program: Command): void {
  const sim = program.command('sim').description('Network-scale simulations on the network\'s own selection and validation code')
  const sampling = sim.command('sampling')
    .description('Monte-Carlo simulation of task arrivals, miner selection, validation and settlement')
  for (const [flag, , , help] of FLAGS) {
    sampling.option(flag, help)
  }
  sampling
    .option('--scenario <file>', 'scenario file (JSON or YAML); flags override its fields')
    .option('--sweep', 'run a grid (the scenario\'s `sweep` axes, or the default sample-rate × penalty and redundancy × colluding grids) into sweep.csv')
    .option('--out <dir>', 'directory for CSV and SVG results', 'results')
    .action(async (opts: Record<string, unknown>) => {
      const { scenario, sweepAxes } = scenarioFromOptions(opts)
      const out = String(opts.out)
      if (opts.sweep === true) {
        const points = sweepAxes !== undefined ? scenarioSweep(scenario, sweepAxes) : defaultSweep(scenario)
        say(`sweep: ${points.length} runs of ${scenario.nodes} nodes × ${scenario.days} day(s)`)
        const started = Date.now()
        const rows = runSweep(points, progress('sweep'))
        const files = writeSweep(rows, out)
        say(`sweep done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
        print(files.join('\n'))
        return
      }
      say(`simulating ${scenario.nodes} nodes × ${scenario.days} day(s), seed ${scenario.seed}`)
      const started = Date.now()
      const bar = progress('simulated time')
      const result = runSimulation(scenario, bar)
      say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.tasks} tasks, peak RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`)
      const files = writeRun(result, out)
      for (const b of result.behaviours) {
        print(`${b.strategy.padEnd(12)} nodes ${String(b.nodes).padStart(8)}  detection/act ${fmt(b.detectionPerAct)}  caught nodes ${fmt(b.caughtNodes / b.nodes)}  profit/task ${fmt(b.profitPerTask)}`)
      }
      print(`bad results accepted ${fmt(result.badAcceptedRate)}, verification cost ${fmt(result.verificationCost)} × useful inference`)
      print(files.join('\n'))
    })

  registerNetworkSim(sim)

  sim.command('report')
    .description('Write a markdown report of a results directory with tables, charts and recommended parameters')
    .option('--in <dir>', 'results directory', 'results')
    .option('--out <file>', 'report file', 'results/report.md')
    .action(async (opts: { in: string, out: string }) => {
      if (!existsSync(opts.in)) {
        throw new InvalidOptionError('--in', `${opts.in} does not exist`)
      }
      const { markdown, recommendation } = buildReport(opts.in, opts.out)
      mkdirSync(dirname(opts.out), { recursive: true })
      writeFileSync(opts.out, markdown)
      if (recommendation !== undefined) {
        print(`recommended: sample rate ${recommendation.sampleRate}, penalty ${recommendation.penalty}, redundancy ${recommendation.redundancy}`)
      }
      print(opts.out)
    })
}

function fmt (v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '–'
}
