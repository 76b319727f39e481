/**
 * Routing benchmark (`npm run bench -- routing`): how well the draw tracks
 * capability. A network of two unthrottled miners and two whose engines are
 * throttled to SLOW_TOKENS_PER_SEC, on the devnet model. A session with the
 * `fast` SLA (class 2) and a `standard` one (class 1), redundancy 1, run the
 * same tasks one after another; each task's delivered speed is its tokens ÷
 * the time from submit to its last streamed token. Baseline: the same
 * figure for the unthrottled engine called directly in this process.
 */
import { parseEther } from 'viem'
import { createSession } from '../contracts/index.ts'
import { devnetModel } from '../node/devnet-model.ts'
import { createInferenceEngine } from '../node/inference/index.ts'
import { startNetwork } from '../node/network.ts'
import { percentile, printFigures, printTable } from './report.ts'
import type { Hex } from 'viem'

const PROMPT = 'the man said that the water was very cold and people call it a long day'
const TOKENS = 48
/** a measured task per miner before the figures count: delivered speeds replace claims after 2 */
const WARMUP_TASKS = 6
const TASKS = 12
const SLOW_TOKENS_PER_SEC = 15

const median = (xs: number[]): number => percentile(xs, 50)

/** tokens ÷ seconds from `t0` to the last token */
async function delivered (tokens: AsyncIterable<unknown>, t0: number): Promise<number> {
  let n = 0
  let last = t0
  for await (const t of tokens) {
    void t
    n++
    last = performance.now()
  }
  return n / ((last - t0) / 1000)
}

const modelPath = await devnetModel((l) => { process.stderr.write(`${l}\n`) })

const engine = await createInferenceEngine({ modelPath, threads: 1, sequences: 2 })
const direct: number[] = []
for (let r = 0; r < 5; r++) {
  direct.push(await delivered(engine.generate(PROMPT, { maxTokens: TOKENS, deterministic: true }), performance.now()))
}
await engine.close()

const net = await startNetwork({
  miners: 4,
  oracles: 1,
  modelPath,
  redundancy: 1,
  heartbeatIntervalMs: 1000,
  reservationIdleMs: 500,
  minerFaults: [undefined, undefined, { throttleTokensPerSec: SLOW_TOKENS_PER_SEC }, { throttleTokensPerSec: SLOW_TOKENS_PER_SEC }]
})
try {
  const chain = net.client.init.chain
  const open = async (slaClass: number): Promise<bigint> => (await chain.serial(async () => createSession(chain.wallet, {
    hub: net.hub,
    modelId: net.modelId as Hex,
    redundancy: 1,
    minMiners: 1,
    maxMiners: 1,
    validationMode: 0,
    slaClass,
    reservePeriodS: 3600,
    maxTasks: 1000,
    pricePerTokenWei: 10n ** 9n,
    depositWei: parseEther('0.05')
  }))).sessionId
  const run = async (sessionId: bigint, n: number): Promise<{ rates: number[], slow: number }> => {
    const rates: number[] = []
    let slow = 0
    const slowMiners = net.miners.slice(2).map(m => m.role.address)
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      const handle = await net.client.submit(`${PROMPT} ${i}`, { maxTokens: TOKENS, sessionId })
      rates.push(await delivered(handle.tokens, t0))
      const r = await handle.result
      slow += r.miners.some(m => slowMiners.includes(m.address)) ? 1 : 0
      // the miner frees itself after the idle period: the next task draws from the whole pool again
      await new Promise(resolve => setTimeout(resolve, 700))
    }
    return { rates, slow }
  }
  const standard = await open(1)
  const fast = await open(2)
  // every miner measured by the oracles before the figures count
  await run(standard, WARMUP_TASKS)
  const sla = await run(fast, TASKS)
  const none = await run(standard, TASKS)
  const best = Math.max(...direct)
  printFigures(`Routing (devnet model, ${TOKENS} tokens, 2 fast + 2 miners throttled to ${SLOW_TOKENS_PER_SEC} tokens/s, redundancy 1, median of ${TASKS})`, [
    { name: 'fast-SLA session: delivered tokens/s', value: median(sla.rates), unit: 'tokens/s', baseline: { name: 'fastest engine direct', value: best } },
    { name: 'standard session: delivered tokens/s', value: median(none.rates), unit: 'tokens/s', baseline: { name: 'fastest engine direct', value: best } },
    { name: 'fast-SLA ÷ standard session', value: median(sla.rates), unit: 'tokens/s', baseline: { name: 'standard session', value: median(none.rates) } }
  ])
  printTable('Tasks served by a throttled miner', ['session', 'tasks', 'on a throttled miner'], [
    ['fast SLA (class 2)', String(TASKS), String(sla.slow)],
    ['standard (class 1)', String(TASKS), String(none.slow)]
  ])
} finally {
  await net.stop()
}
