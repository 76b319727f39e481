/**
 * Sampling simulation at network scale: 10^6 nodes × one simulated day
 * (10^6 tasks, redundancy 3, every cheating strategy present) — wall time
 * and peak RSS against the goals (≤ 60 s, ≤ 2 GiB on 2 cores).
 * Baselines measured in the same run: the same day at 10^5 nodes (the
 * ratio shows how cost scales), and the raw cost of the protocols/
 * selection function alone over the 10^6 tasks.
 */
import { MinerPool, minerWeight, selectionSeed, selectMiners } from '../protocols/selection/index.ts'
import { runSimulation } from '../simulations/engine.ts'
import { validateScenario } from '../simulations/scenario.ts'
import { printFigures } from './report.ts'

const mix = { lazy: 0.05, 'wrong-model': 0.03, copier: 0.02, colluding: 0.05, sybil: 0.01 }

function timed (nodes: number): { seconds: number, tasks: number } {
  const t0 = performance.now()
  const r = runSimulation(validateScenario({ nodes, days: 1, mix, seed: 1 }))
  return { seconds: (performance.now() - t0) / 1000, tasks: r.tasks }
}

const small = timed(100_000)
let peakRss = process.memoryUsage().rss
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 200)
const big = timed(1_000_000)
clearInterval(sampler)
peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024)

// the selection function alone: 10^6 draws of 3 from a 10^6-miner pool
const weights = new Uint32Array(1_000_000)
for (let i = 0; i < weights.length; i++) {
  weights[i] = minerWeight(5000 + (i % 5000), 10 + (i % 30))
}
const pool = new MinerPool(weights)
const chain = new Uint8Array(32).fill(1)
const out = new Int32Array(3)
const t0 = performance.now()
for (let t = 1; t <= big.tasks; t++) {
  selectMiners(pool, selectionSeed(chain, t), 3, { out })
}
const selectSeconds = (performance.now() - t0) / 1000

printFigures('sampling simulation, 10^6 nodes × 1 day (noisy: 2 shared cores)', [
  { name: `wall time, 10^6 nodes × 1 day (${big.tasks} tasks)`, value: big.seconds, unit: 's', baseline: { name: `10^5 nodes × 1 day (${small.tasks} tasks)`, value: small.seconds }, goal: '≤ 60 s' },
  { name: 'wall time, 10^6 nodes × 1 day', value: big.seconds, unit: 's', baseline: { name: 'selection alone, same task count', value: selectSeconds }, goal: '≤ 60 s' },
  { name: 'peak RSS', value: peakRss / 2 ** 20, unit: 'MiB', goal: '≤ 2048 MiB' },
  { name: 'simulated tasks per second', value: big.tasks / big.seconds, unit: 'tasks/s', baseline: { name: '10^5 nodes', value: small.tasks / small.seconds } }
])
