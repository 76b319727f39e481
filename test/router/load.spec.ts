/**
 * 200 concurrent streams through one router on a whole local network (anvil,
 * 3 miners and 2 oracles with the generated `tiny` model, the network's
 * default queue windows, the router's default limits), opened at once by
 * callers in a process of their own: every stream either completes or is
 * refused at once with a 429/503 JSON error and Retry-After; no stream breaks
 * off after it started; every completed stream's task settles with the text
 * that was streamed and every miner accepted (concurrency changes no verdict
 * and loses no result); memory does not grow from one wave to the next; a
 * request after the waves is served.
 */
import { spawn } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { startRouterRole } from '../../node/roles/router/role.ts'
import { reportIfFailed, startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { LoadOutcome } from './load-client.ts'
import type { RouterRole } from '../../node/roles/router/role.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'

const STREAMS = 200
const WAVES = 2
/**
 * The router answers a refusal this soon after the request reached it
 * (measured at the router's HTTP server: it refuses before it awaits
 * anything). What the callers see is longer: their own process, the router's
 * and anvil share two cores, and 200 connections opened at once queue for
 * CPU; the figures print both, and the router process's event-loop delay.
 */
const REFUSAL_MS = 1000
/** codes of the quick refusals a burst may get */
const REFUSALS = new Set(['network_busy', 'router_busy', 'too_many_streams', 'rate_limit_exceeded'])
/** heap growth allowed from the end of one wave to the end of the next (after a full GC) */
const HEAP_GROWTH_MAX_MB = 40
const CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url))

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)
const pct = (xs: number[], p: number): number => xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p / 100))]

/** Run the callers' process and read its outcomes. */
async function burst (base: string, key: string, model: string, count: number, label: string): Promise<LoadOutcome[]> {
  const child = spawn(process.execPath, [CLIENT, base, key, model, String(count), label], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += String(d) })
  child.stderr.on('data', (d) => { err += String(d) })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) {
    throw new Error(`the callers' process failed (${code}): ${err.slice(-2000)}`)
  }
  return JSON.parse(out) as LoadOutcome[]
}

describe(`router under load: ${STREAMS} concurrent streams through one router`, function () {
  this.timeout(600_000)
  let ln: LifecycleNet
  let role: RouterRole
  let key: string
  let base: string
  const figures: string[] = []

  before(async function () {
    // the network's default queue windows, as a devnet runs them
    ln = await startLifecycleNet({ timeouts: undefined })
    const keys = KeyStore.memory()
    // one key for the whole burst: its own limits out of the way, the router's own limits are what is tested
    key = (await keys.create({ maxStreams: 1000, rateLimitPerMinute: 1_000_000 })).key
    role = await startRouterRole(ln.net.clientNode, ln.net.client, { port: 0, keys })
    base = `http://127.0.0.1:${role.port}`
  })

  afterEach(function () {
    reportIfFailed(this)
  })

  after(async function () {
    await role?.close()
    await ln?.stop()
    process.stderr.write(`      load figures:\n${figures.map(f => `        ${f}`).join('\n')}\n`)
  })

  it(`${WAVES} waves of ${STREAMS} streams: each completes or is refused at once, every completed task settles as streamed, memory stays bounded`, async function () {
    gc()
    const heapAtStart = process.memoryUsage().heapUsed
    const heapAfterWave: number[] = []
    for (let wave = 0; wave < WAVES; wave++) {
      const loop = monitorEventLoopDelay({ resolution: 10 })
      loop.enable()
      // how long the router took to answer each refusal, from the request's arrival to its last byte
      const answered: Array<{ status: number, ms: number }> = []
      const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
        const at = performance.now()
        res.once('finish', () => { answered.push({ status: res.statusCode, ms: performance.now() - at }) })
      }
      role.app.server.on('request', onRequest)
      const t0 = performance.now()
      const outcomes = await burst(base, key, ln.net.modelId, STREAMS, String(wave))
      role.app.server.off('request', onRequest)
      loop.disable()
      const refusedAtRouter = answered.filter(a => a.status === 429 || a.status === 503).map(a => a.ms)
      const burstS = (performance.now() - t0) / 1000
      const served = outcomes.filter(o => o.ok)
      const refused = outcomes.filter(o => !o.ok && o.broken == null)
      const broken = outcomes.filter(o => o.broken != null).map(o => o.broken)

      // every served stream's task settles with the streamed text, every miner accepted
      const t1 = performance.now()
      const outcomesByMiner: Record<string, number> = {}
      const lost: string[] = []
      for (const s of served) {
        const record = await waitForEnd(ln, s.taskId as string)
        if (record.status !== 'settled' || record.result?.text !== s.text) {
          lost.push(`task ${s.taskId}: ${record.status} ${record.error ?? ''} ${JSON.stringify(record.result?.text)} streamed ${JSON.stringify(s.text)}`)
        }
        for (const m of record.result?.miners ?? []) {
          outcomesByMiner[m.outcome] = (outcomesByMiner[m.outcome] ?? 0) + 1
        }
      }
      gc()
      heapAfterWave.push(process.memoryUsage().heapUsed)
      const codes: Record<string, number> = {}
      for (const r of refused) {
        codes[`${r.status} ${r.code}`] = (codes[`${r.status} ${r.code}`] ?? 0) + 1
      }
      figures.push(`wave ${wave}: ${served.length} of ${STREAMS} streams served in ${burstS.toFixed(1)} s (first token p50 ${pct(served.map(s => s.firstMs ?? 0), 50).toFixed(0)} ms, ` +
        `p99 ${pct(served.map(s => s.firstMs ?? 0), 99).toFixed(0)} ms), ${refused.length} refused ${JSON.stringify(codes)} ` +
        `(answered by the router in p50 ${pct(refusedAtRouter, 50).toFixed(1)} ms, max ${Math.max(0, ...refusedAtRouter).toFixed(1)} ms; seen by the callers p50 ${pct(refused.map(r => r.ms), 50).toFixed(0)} ms, ` +
        `max ${Math.max(0, ...refused.map(r => r.ms)).toFixed(0)} ms), ${broken.length} broken; ` +
        `event loop delay of the router's process p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms; ` +
        `served tasks all settled ${((performance.now() - t1) / 1000).toFixed(1)} s later, verdicts ${JSON.stringify(outcomesByMiner)}; heap ${mb(heapAfterWave[wave])} MB, rss ${mb(process.memoryUsage().rss)} MB`)
      expect(served.length, 'some streams are served').to.be.greaterThan(0)
      expect(broken, 'streams that neither completed nor were refused').to.deep.equal([])
      expect(lost, 'served tasks that did not settle as streamed').to.deep.equal([])
      expect(outcomesByMiner, 'verdicts of the served tasks').to.deep.equal({ accepted: served.length * 3 })
      for (const r of refused) {
        expect(r.status === 429 || r.status === 503, `a refusal with status ${r.status}`).to.equal(true)
        expect(REFUSALS.has(r.code ?? ''), `a refusal with code ${r.code}`).to.equal(true)
        expect(r.retryAfter).to.equal('1')
      }
      expect(refusedAtRouter).to.have.length(refused.length)
      expect(Math.max(0, ...refusedAtRouter), 'the slowest refusal at the router (ms)').to.be.lessThan(REFUSAL_MS)
    }
    figures.push(`heap at start ${mb(heapAtStart)} MB, after each wave ${heapAfterWave.map(mb).join(', ')} MB`)
    expect(mb(heapAfterWave[WAVES - 1] - heapAfterWave[0]), `heap after each wave: ${heapAfterWave.map(mb).join(', ')} MB`).to.be.lessThan(HEAP_GROWTH_MAX_MB)

    // and the network serves the next caller as before
    const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
    const t2 = performance.now()
    const later = await openai.chat.completions.create({ model: ln.net.modelId, messages: [{ role: 'user', content: 'and later' }], max_tokens: 4 })
    expect((later as any).cortensor.miners.map((m: { outcome: string }) => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted'])
    figures.push(`a request after the waves: settled in ${(performance.now() - t2).toFixed(0)} ms`)
  })
})

/** The client's record of a task once it settled or failed. */
async function waitForEnd (ln: LifecycleNet, taskId: string, timeoutMs = 120_000): Promise<NonNullable<ReturnType<LifecycleNet['net']['client']['task']>>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const record = ln.net.client.task(BigInt(taskId))
    if (record != null && (record.status === 'settled' || record.status === 'failed' || record.status === 'expired')) {
      return record
    }
    if (Date.now() > deadline) {
      throw new Error(`task ${taskId} did not end within ${timeoutMs} ms (${record?.status})`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}
