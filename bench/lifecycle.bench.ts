/**
 * Task lifecycle benchmarks (`npm run bench -- lifecycle`): a whole local
 * network (anvil, bootstrap, 2 oracles, 3 miners, client) serving the devnet
 * model. Mesh-served tokens/s and time to first token against the same
 * engine called directly in the same process; submit → settled latency;
 * settled tasks/s with many tasks in flight. Then a network with a
 * redundancy-1 session, its miner and client in processes of their own: one
 * miner generates, so its tokens/s against the direct figure measures the
 * mesh's overhead, where at redundancy 3 three miners share the cores the
 * direct run had alone. That part runs on the `medium` model (the goals) and
 * on the devnet's `small` model.
 */
import { cachedModel, devnetModel } from '../node/devnet-model.ts'
import { createInferenceEngine } from '../node/inference/index.ts'
import { startNetwork } from '../node/network.ts'
import { startMinerProcess } from '../test/fixtures/miner-process.ts'
import { runClientProcess } from './client-process.ts'
import { percentile, printFigures, timeTokens } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { MinerProcess } from '../test/fixtures/miner-process.ts'

const PROMPT = 'the man said that the water was very cold and people call it a long day'
const TOKENS = 128
const REPS = 5
/** tasks behind the goal figures (medians): the spread run to run on a shared 2-core machine is wide */
const GOAL_REPS = 25
const SETTLE_TASKS = 10
const BURST_TASKS = 20

const median = (xs: number[]): number => percentile(xs, 50)

const modelPath = await devnetModel((l) => { process.stderr.write(`${l}\n`) })

// direct: the engine on the same model, same settings as a miner
const engine = await createInferenceEngine({ modelPath, threads: 1, sequences: 2 })
const directTtft: number[] = []
const directRate: number[] = []
for (let r = 0; r < REPS; r++) {
  const direct = await timeTokens(engine.generate(PROMPT, { maxTokens: TOKENS, deterministic: true }), performance.now())
  directTtft.push(direct.ttftMs)
  directRate.push(direct.tokensPerSec)
}
await engine.close()

const net = await startNetwork({ miners: 3, oracles: 2, modelPath })
let figures: BenchFigure[] = []
try {
  const meshTtft: number[] = []
  const meshTtftFromSubmit: number[] = []
  const meshRate: number[] = []
  const settle: number[] = []
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now()
    const task = await net.client.submit(PROMPT, { maxTokens: TOKENS })
    const announced = performance.now()
    const mesh = await timeTokens(task.tokens, announced)
    meshTtft.push(mesh.ttftMs)
    meshTtftFromSubmit.push(mesh.ttftMs + announced - t0)
    meshRate.push(mesh.tokensPerSec)
    await task.result
    settle.push(performance.now() - t0)
  }
  for (let i = 0; i < SETTLE_TASKS; i++) {
    const t0 = performance.now()
    const task = await net.client.submit(`${PROMPT} ${i}`, { maxTokens: 16 })
    await task.result
    settle.push(performance.now() - t0)
  }
  const b0 = performance.now()
  const burst = await Promise.all(Array.from({ length: BURST_TASKS }, async (_, i) => net.client.submit(`burst ${i} ${PROMPT}`, { maxTokens: 8 })))
  const results = await Promise.allSettled(burst.map(async t => t.result))
  const burstS = (performance.now() - b0) / 1000
  const ok = results.filter(r => r.status === 'fulfilled').length

  figures = [
    { name: `mesh-served tokens/s (${TOKENS} tokens, redundancy 3, all nodes in one process)`, value: median(meshRate), unit: 'tok/s', baseline: { name: 'engine called directly', value: median(directRate) } },
    { name: 'time to first token after the announcement (redundancy 3, one process)', value: median(meshTtft), unit: 'ms', baseline: { name: 'direct time to first token', value: median(directTtft) } },
    { name: 'time to first token from submit (incl. chain submit + assignment)', value: median(meshTtftFromSubmit), unit: 'ms', baseline: { name: 'direct time to first token', value: median(directTtft) } },
    { name: `submit → settled p50 (${settle.length} tasks, one at a time)`, value: percentile(settle, 50), unit: 'ms', baseline: { name: 'direct generation of 128 tokens', value: median(directTtft) + (TOKENS - 1) / median(directRate) * 1000 } },
    { name: `submit → settled p99 (${settle.length} tasks)`, value: percentile(settle, 99), unit: 'ms', baseline: { name: 'submit → settled p50', value: percentile(settle, 50) } },
    { name: `settled tasks/s, ${BURST_TASKS} submitted at once (${ok} settled)`, value: ok / burstS, unit: 'tasks/s', baseline: { name: 'one at a time', value: 1000 / percentile(settle, 50) } }
  ]
} finally {
  await net.stop()
}

// redundancy 1 with the miner and the client each in its own process, as operators and users run them: one
// miner generates, so its tokens/s and first token against the direct figures measure the mesh's own cost
// (in the network above, three miners share the cores the direct run had alone, and every node shares one
// JavaScript thread). Anvil, the bootstrap and the two oracles stay in this process.
async function goalPhase (path: string, label: string, goals: boolean): Promise<{ figures: BenchFigure[], spread: string }> {
  const single = await startNetwork({ miners: 1, oracles: 2, modelPath: path, redundancy: 1 })
  let minerProcess: MinerProcess | undefined
  try {
    minerProcess = await startMinerProcess(single, path)
    // only the process serves: the in-process miner leaves
    const inProcess = single.miners[0].role.address
    await single.stopMiner(0)
    const deadline = Date.now() + 30_000
    while (single.oracles.some(o => { const e = o.role.pool.get(inProcess); return e != null && o.role.pool.healthy(e) })) {
      if (Date.now() > deadline) {
        throw new Error('the oracles still count the stopped in-process miner')
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    // the client in its own process as well, as a user runs one (it warms the miner with one task first)
    // the baseline is timed in that process too, before each task, with the network up: same machine, same moment
    const timings = await runClientProcess(single, { prompt: PROMPT, maxTokens: TOKENS, reps: GOAL_REPS, miners: 1, redundancy: 1, modelPath: path })
    if (timings.miners.some(m => m !== minerProcess?.address)) {
      throw new Error(`tasks were served by ${[...new Set(timings.miners)].join(', ')}, not only by the miner process`)
    }
    const rates = timings.tokensPerSec
    const ttft = timings.ttftMs
    // the spread behind the medians: each task against the direct run just before it
    const paired = rates.map((r, i) => r / timings.directTokensPerSec[i])
    const range = (xs: number[], digits: number): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`
    const spread = `${label}: per task, mesh tokens/s ÷ the direct run just before it: median ${median(paired).toFixed(3)}, range ${range(paired, 2)} over ${paired.length} tasks ` +
      `(direct ${range(timings.directTokensPerSec, 0)} tok/s, mesh ${range(rates, 0)} tok/s).`
    return {
      spread,
      figures: [
        { name: `mesh-served tokens/s, ${label} (${TOKENS} tokens, redundancy 1, miner and client in their own processes, median of ${GOAL_REPS})`, value: median(rates), unit: 'tok/s', baseline: { name: 'engine called directly in the client\'s process before each task', value: median(timings.directTokensPerSec) }, goal: goals ? '≥ 0.95' : undefined },
        { name: `time to first token after the announcement, ${label} (same network, median of ${GOAL_REPS})`, value: median(ttft), unit: 'ms', baseline: { name: 'direct time to first token, same process, before each task', value: median(timings.directTtftMs) }, goal: goals ? 'delta ≤ 50 ms' : undefined }
      ]
    }
  } finally {
    await minerProcess?.stop()
    await single.stop()
  }
}

// the goals are judged on the `medium` model (85 M parameters, about 12 ms a token on one thread here): the
// heavier of the generated models, still far lighter per token than any real one. The devnet's `small` model
// (3.5 ms a token) follows: the same figures where the mesh's fixed costs per task and per second weigh most.
const mediumPath = await cachedModel('medium', (l) => { process.stderr.write(`${l}\n`) })
const medium = await goalPhase(mediumPath, 'medium model', true)
const small = await goalPhase(modelPath, 'devnet small model', false)
figures.splice(0, 0, ...medium.figures, ...small.figures)
const spread = `${medium.spread}\n${small.spread}`

printFigures('task lifecycle: 1 miner and the client in their own processes (medium, then small model); then 3 miners, 2 oracles in one process (small model)', figures)
process.stdout.write(`${spread}\n\n`)
process.exit(0)
