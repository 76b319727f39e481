/**
 * 200 concurrent streams through one router on a whole local network (anvil,
 * 3 miners and 2 oracles with the generated `tiny` model, the network's
 * default queue windows, the router's default limits): every stream either
 * completes or is refused at once with a 429/503 JSON error; no stream breaks
 * off after it started; every completed stream's task settles with the text
 * that was streamed and every miner accepted (concurrency changes no verdict
 * and loses no result); memory does not grow from one wave to the next; a
 * request after the waves is served.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { KeyStore } from '../../node/router/keys.ts'
import { startRouterRole } from '../../node/router/role.ts'
import { reportIfFailed, startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { RouterRole } from '../../node/router/role.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'

const STREAMS = 200
const WAVES = 2
/** a refusal must come this quickly (the router refuses before it awaits anything) */
const REFUSAL_MS = 1000
/** codes of the quick refusals a burst may get */
const REFUSALS = new Set(['network_busy', 'router_busy', 'too_many_streams', 'rate_limit_exceeded'])
/** heap growth allowed from the end of one wave to the end of the next (after a full GC) */
const HEAP_GROWTH_MAX_MB = 40

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

interface Outcome { ok: boolean, ms: number, firstMs?: number, text?: string, taskId?: string, status?: number, code?: string }

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)
const pct = (xs: number[], p: number): number => xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p / 100))]

describe(`router under load: ${STREAMS} concurrent streams through one router`, function () {
  this.timeout(600_000)
  let ln: LifecycleNet
  let role: RouterRole
  let openai: OpenAI
  const figures: string[] = []

  before(async function () {
    // the network's default queue windows, as a devnet runs them
    ln = await startLifecycleNet({ timeouts: undefined })
    const keys = KeyStore.memory()
    // one key for the whole burst: its own limits out of the way, the router's own limits are what is tested
    const { key } = await keys.create({ maxStreams: 1000, rateLimitPerMinute: 1_000_000 })
    role = await startRouterRole(ln.net.clientNode, ln.net.client, { port: 0, keys })
    openai = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${role.port}/v1`, maxRetries: 0, timeout: 300_000 })
  })

  afterEach(function () {
    reportIfFailed(this)
  })

  after(async function () {
    await role?.close()
    await ln?.stop()
    process.stderr.write(`      load figures:\n${figures.map(f => `        ${f}`).join('\n')}\n`)
  })

  async function one (i: number, wave: number): Promise<Outcome> {
    const t0 = performance.now()
    try {
      const stream = await openai.chat.completions.create({
        model: ln.net.modelId,
        messages: [{ role: 'user', content: `question ${wave}.${i} about the water near home` }],
        max_tokens: 8,
        stream: true
      })
      let text = ''
      let firstMs: number | undefined
      let finished = false
      let taskId: string | undefined
      for await (const chunk of stream) {
        firstMs ??= performance.now() - t0
        taskId ??= /^chatcmpl-\d+-(\d+)$/.exec(chunk.id)?.[1]
        text += chunk.choices[0]?.delta.content ?? ''
        finished ||= chunk.choices[0]?.finish_reason != null
      }
      expect(finished, `stream ${wave}.${i} ended without a finish_reason`).to.equal(true)
      return { ok: true, ms: performance.now() - t0, firstMs, text, taskId }
    } catch (err: any) {
      const ms = performance.now() - t0
      // an error after the stream began has no HTTP status: that is a broken stream, not a refusal
      expect(err?.status, `stream ${wave}.${i}: ${err?.message}`).to.be.oneOf([429, 503])
      expect(REFUSALS.has(err?.error?.code), `stream ${wave}.${i}: ${JSON.stringify(err?.error)}`).to.equal(true)
      expect(err?.headers?.get?.('retry-after')).to.equal('1')
      return { ok: false, ms, status: err.status, code: err.error.code }
    }
  }

  it(`${WAVES} waves of ${STREAMS} streams: each completes or is refused at once, every completed task settles as streamed, memory stays bounded`, async function () {
    gc()
    const heapAtStart = process.memoryUsage().heapUsed
    const heapAfterWave: number[] = []
    for (let wave = 0; wave < WAVES; wave++) {
      const t0 = performance.now()
      const outcomes = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => one(i, wave)))
      const served = outcomes.filter(o => o.ok)
      const refused = outcomes.filter(o => !o.ok)
      const burstS = (performance.now() - t0) / 1000
      expect(served.length, 'some streams are served').to.be.greaterThan(0)
      for (const r of refused) {
        expect(r.ms, `a ${r.status} ${r.code} took ${r.ms} ms`).to.be.lessThan(REFUSAL_MS)
      }

      // every served stream's task settles with the streamed text, every miner accepted
      const t1 = performance.now()
      const outcomesByMiner: Record<string, number> = {}
      for (const s of served) {
        const record = await waitForEnd(ln, s.taskId as string)
        expect(record.status, `task ${s.taskId}: ${record.error}`).to.equal('settled')
        expect(record.result?.text, `task ${s.taskId}`).to.equal(s.text)
        for (const m of record.result?.miners ?? []) {
          outcomesByMiner[m.outcome] = (outcomesByMiner[m.outcome] ?? 0) + 1
        }
      }
      expect(outcomesByMiner, 'verdicts of the served tasks').to.deep.equal({ accepted: served.length * 3 })
      gc()
      heapAfterWave.push(process.memoryUsage().heapUsed)
      const codes: Record<string, number> = {}
      for (const r of refused) {
        codes[`${r.status} ${r.code}`] = (codes[`${r.status} ${r.code}`] ?? 0) + 1
      }
      figures.push(`wave ${wave}: ${served.length} of ${STREAMS} streams served in ${burstS.toFixed(1)} s (first token p50 ${pct(served.map(s => s.firstMs ?? 0), 50).toFixed(0)} ms, ` +
        `p99 ${pct(served.map(s => s.firstMs ?? 0), 99).toFixed(0)} ms), ${refused.length} refused ${JSON.stringify(codes)} ` +
        `(p50 ${pct(refused.map(r => r.ms), 50).toFixed(0)} ms, max ${Math.max(0, ...refused.map(r => r.ms)).toFixed(0)} ms); all settled ${((performance.now() - t1) / 1000).toFixed(1)} s later, ` +
        `verdicts ${JSON.stringify(outcomesByMiner)}; heap ${mb(heapAfterWave[wave])} MB, rss ${mb(process.memoryUsage().rss)} MB`)
    }
    expect(mb(heapAfterWave[WAVES - 1] - heapAfterWave[0]), `heap after each wave: ${heapAfterWave.map(mb).join(', ')} MB`).to.be.lessThan(HEAP_GROWTH_MAX_MB)
    figures.push(`heap at start ${mb(heapAtStart)} MB, after each wave ${heapAfterWave.map(mb).join(', ')} MB`)

    // and the network serves the next caller as before
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
