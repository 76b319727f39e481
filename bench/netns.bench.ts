/**
 * The lifecycle over a network that is not one host (`npm run bench --
 * netns`): the same process network (2 oracle and 3 miner processes around
 * anvil, a bootstrap and the client) run twice with the same tasks, first on
 * loopback (the baseline), then with every process in a Linux network
 * namespace of its own (test/fixtures/netns.ts): 1 % random loss on every
 * link, one miner on 10 Mbit/s and 25 ms each way (netem, or the NFQUEUE
 * delayer where the kernel has no netem). Prints time to first token, tokens/s and submit → settled for both,
 * and their ratio. Needs root; elsewhere it says why and prints nothing else.
 */
import { devnetModel } from '../node/devnet-model.ts'
import { NetnsLab, netnsUnavailable } from '../test/fixtures/netns.ts'
import { startProcessNet } from '../test/fixtures/process-net.ts'
import { percentile, printFigures, timeTokens } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { DelayMethod } from '../test/fixtures/netns.ts'

const PROMPT = 'the man said that the water was very cold and people call it a long day'
const TOKENS = 128
const REPS = 10
const MINERS = 3
const ORACLES = 2
const REDUNDANCY = 2
const LOSS_PERCENT = 1
const DELAY_MS = 25
const SLOW_LINK_MBIT = 10
const QUEUE_TIMEOUTS = { assignMs: 3000, ackMs: 2000, precommitMs: 15000, revealMs: 15000, validateMs: 6000, settleMs: 6000 }

interface Run { ttftMs: number[], tokensPerSec: number[], settleMs: number[] }

const say = (line: string): void => { if (process.env.CORTENSOR_BENCH_VERBOSE != null) { process.stderr.write(`${line}\n`) } }

async function measure (lab?: NetnsLab): Promise<Run> {
  const pn = await startProcessNet({ miners: MINERS, oracles: ORACLES, modelPath, redundancy: REDUNDANCY, queueTimeouts: QUEUE_TIMEOUTS, say, ...(lab != null ? { lab } : {}) })
  const run: Run = { ttftMs: [], tokensPerSec: [], settleMs: [] }
  try {
    for (let r = 0; r < REPS; r++) {
      const t0 = performance.now()
      const task = await pn.net.client.submit(PROMPT, { maxTokens: TOKENS })
      const timing = await timeTokens(task.tokens, t0)
      await task.result
      run.ttftMs.push(timing.ttftMs)
      run.tokensPerSec.push(timing.tokensPerSec)
      run.settleMs.push(performance.now() - t0)
    }
  } finally {
    await pn.stop()
  }
  return run
}

const why = await netnsUnavailable()
if (why != null) {
  process.stdout.write(`netns benchmark not run: ${why}\n\n`)
  process.exit(0)
}
const modelPath = await devnetModel((l) => { process.stderr.write(`${l}\n`) })
const loopback = await measure()
const lab = await NetnsLab.create(ORACLES + MINERS)
let shaped: Run
let delay: DelayMethod = { kind: 'none', why: '' }
try {
  delay = await lab.delayMethod()
  if (delay.kind === 'none') {
    process.stderr.write(`no added delay: ${delay.why}\n`)
  }
  for (let i = 0; i < ORACLES + MINERS; i++) {
    await lab.shape(i, { lossPercent: LOSS_PERCENT, ...(delay.kind !== 'none' ? { delayMs: DELAY_MS } : {}), ...(i === ORACLES + MINERS - 1 ? { rateMbit: SLOW_LINK_MBIT } : {}) })
  }
  shaped = await measure(lab)
} finally {
  await lab.teardown()
}
const links = `${LOSS_PERCENT} % loss, one miner at ${SLOW_LINK_MBIT} Mbit/s${delay.kind !== 'none' ? `, ${DELAY_MS} ms each way (${delay.kind})` : ', no added delay'}`
const p50 = (xs: number[]): number => percentile(xs, 50)
const figures: BenchFigure[] = [
  { name: `time to first token from submit, namespaces (${links}; ${REPS} tasks of ${TOKENS} tokens, redundancy ${REDUNDANCY}, p50)`, value: p50(shaped.ttftMs), unit: 'ms', baseline: { name: 'same network on loopback', value: p50(loopback.ttftMs) } },
  { name: 'tokens/s to the client, namespaces (p50)', value: p50(shaped.tokensPerSec), unit: 'tok/s', baseline: { name: 'same network on loopback', value: p50(loopback.tokensPerSec) } },
  { name: 'submit → settled, namespaces (p50)', value: p50(shaped.settleMs), unit: 'ms', baseline: { name: 'same network on loopback', value: p50(loopback.settleMs) } },
  { name: 'submit → settled, namespaces (p99)', value: percentile(shaped.settleMs, 99), unit: 'ms', baseline: { name: 'same network on loopback', value: percentile(loopback.settleMs, 99) } }
]
printFigures('Lifecycle across network namespaces', figures)
