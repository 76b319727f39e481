/**
 * A burst of 200 concurrent streams on a whole local network (anvil, 3
 * miners and 2 oracles with the generated `tiny` model, default queue
 * windows), through one router with its default limits, against the same
 * burst submitted with the client SDK directly in the same run (the
 * baseline: no router, no limits, every task submitted at once).
 *
 * Figures: streams served and refused, how quickly a refusal comes, time to
 * first token of the served ones, tasks settled with every miner accepted,
 * and the heap after each burst.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import OpenAI from 'openai'
import { KeyStore } from '../node/roles/router/keys.ts'
import { startRouterRole } from '../node/roles/router/role.ts'
import { startLifecycleNet } from '../test/lifecycle/fixtures.ts'
import { percentile, printFigures } from './report.ts'
import type { BenchFigure } from './report.ts'

const STREAMS = 200
const MAX_TOKENS = 8

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapMb = (): number => { gc(); return process.memoryUsage().heapUsed / 2 ** 20 }

const figures: BenchFigure[] = []
const ln = await startLifecycleNet({ timeouts: undefined })
const keys = KeyStore.memory()
const { key } = await keys.create({ maxStreams: 1000, rateLimitPerMinute: 1_000_000 })
const role = await startRouterRole(ln.net.clientNode, ln.net.client, { port: 0, keys })
const openai = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${role.port}/v1`, maxRetries: 0, timeout: 600_000 })

async function settledAll (taskIds: string[]): Promise<{ settled: number, accepted: number, verdicts: number, ms: number }> {
  const t0 = performance.now()
  let settled = 0
  let accepted = 0
  let verdicts = 0
  for (const id of taskIds) {
    for (;;) {
      const r = ln.net.client.task(BigInt(id))
      if (r != null && ['settled', 'failed', 'expired'].includes(r.status)) {
        settled += r.status === 'settled' ? 1 : 0
        accepted += r.result?.miners.filter(m => m.outcome === 'accepted').length ?? 0
        verdicts += r.result?.miners.length ?? 0
        break
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  return { settled, accepted, verdicts, ms: performance.now() - t0 }
}

try {
  // baseline: the SDK directly, every task at once
  const d0 = performance.now()
  const direct = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
    const t0 = performance.now()
    const task = await ln.net.client.submit(`User: direct ${i} about the water\n\nAssistant:`, { maxTokens: MAX_TOKENS })
    let first = -1
    const it = task.tokens[Symbol.asyncIterator]()
    while ((await it.next()).done !== true) {
      if (first < 0) {
        first = performance.now() - t0
      }
    }
    return { first, taskId: task.taskId.toString() }
  }))
  const directBurstS = (performance.now() - d0) / 1000
  const directSettle = await settledAll(direct.map(d => d.taskId))
  const directFirst = direct.map(d => d.first).filter(x => x >= 0)
  const heapDirect = heapMb()

  // through the router
  const r0 = performance.now()
  const routed = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
    const t0 = performance.now()
    try {
      const stream = await openai.chat.completions.create({ model: ln.net.modelId, messages: [{ role: 'user', content: `routed ${i} about the water` }], max_tokens: MAX_TOKENS, stream: true })
      let first = -1
      let taskId = ''
      for await (const chunk of stream) {
        if (first < 0) {
          first = performance.now() - t0
          taskId = /-(\d+)$/.exec(chunk.id)?.[1] ?? ''
        }
      }
      return { ok: true, ms: performance.now() - t0, first, taskId }
    } catch (err: any) {
      return { ok: false, ms: performance.now() - t0, first: -1, taskId: '', code: `${err?.status} ${err?.error?.code ?? err?.message}` }
    }
  }))
  const routedBurstS = (performance.now() - r0) / 1000
  const served = routed.filter(r => r.ok)
  const refused = routed.filter(r => !r.ok)
  const routedSettle = await settledAll(served.map(r => r.taskId))
  const heapRouted = heapMb()
  process.stderr.write(`refusals: ${JSON.stringify(refused.reduce<Record<string, number>>((m, r) => { m[r.code ?? ''] = (m[r.code ?? ''] ?? 0) + 1; return m }, {}))}\n`)

  figures.push({ name: `streams served of ${STREAMS} at once (router, default limits)`, value: served.length, unit: 'streams', baseline: { name: 'SDK directly, no limits', value: direct.length } })
  figures.push({ name: 'refused at once (429/503)', value: refused.length, unit: 'streams' })
  figures.push({ name: 'refusal latency, max', value: Math.max(0, ...refused.map(r => r.ms)), unit: 'ms', goal: '< 1000 ms' })
  figures.push({ name: 'time to first token of the served streams, p50', value: percentile(served.map(r => r.first), 50), unit: 'ms', baseline: { name: 'SDK directly, whole burst', value: percentile(directFirst, 50) } })
  figures.push({ name: 'time to first token of the served streams, p99', value: percentile(served.map(r => r.first), 99), unit: 'ms', baseline: { name: 'SDK directly, whole burst', value: percentile(directFirst, 99) } })
  figures.push({ name: 'burst duration', value: routedBurstS, unit: 's', baseline: { name: 'SDK directly', value: directBurstS } })
  figures.push({ name: 'served tasks settled', value: routedSettle.settled, unit: 'tasks', baseline: { name: 'SDK directly', value: directSettle.settled } })
  figures.push({ name: 'miner verdicts accepted', value: routedSettle.accepted, unit: `of ${routedSettle.verdicts}`, baseline: { name: `SDK directly (of ${directSettle.verdicts})`, value: directSettle.accepted } })
  figures.push({ name: 'heap after the burst (after GC)', value: heapRouted, unit: 'MB', baseline: { name: 'after the direct burst', value: heapDirect } })
} finally {
  await role.close()
  await ln.stop()
}

printFigures(`router under a burst of ${STREAMS} streams on a local network (tiny model, 3 miners, 2 oracles)`, figures)
