/**
 * Router overhead, measured against the TaskClient it submits through, in
 * the same run and process (a zero-latency scripted TaskClient, so only the
 * router, HTTP/SSE and the client library are measured):
 *
 * - time to first token through the router with the official `openai`
 * client (stream) vs `client.submit()` → first token directly;
 * - sustained concurrent streams on one router: K streams at once, each
 * 100 tokens at 20 tokens/s (5 s), all must finish; each token's delivery
 * lag (arrival at the caller − production by the TaskClient) is compared
 * with the same streams read from the TaskClient directly.
 */
import OpenAI from 'openai'
import { MODEL_ID, ScriptedTaskClient, startTestRouter } from '../test/router/fixtures.ts'
import { percentile, printFigures } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { TaskHandle } from '../client/types.ts'

const TTFT_RUNS = 300
const WARMUP = 30
const STREAM_TOKENS = 100
const TOKEN_INTERVAL_MS = 50
const CONCURRENCY = [200, 400, 800, 1600]
/** a stream level passes when every stream finishes and the p99 token lag stays under this */
const MAX_LAG_P99_MS = 100

const figures: BenchFigure[] = []
const median = (xs: number[]): number => percentile(xs, 50)

const client = new ScriptedTaskClient({ script: { delayMs: 0, settleDelayMs: 0, tokens: ['Hello', ' world'] } })
const router = await startTestRouter({ client, options: { rateLimitPerMinute: Infinity, maxStreamsPerKey: 100_000, maxStreams: 100_000 } })
const openai = new OpenAI({ apiKey: router.key, baseURL: `${router.base}/v1`, maxRetries: 0 })

async function firstTokenDirect (): Promise<number> {
  const t = performance.now()
  const handle = await client.submit('Say hello', { maxTokens: 2 })
  const it = handle.tokens[Symbol.asyncIterator]()
  const first = await it.next()
  if (first.done === true) {
    throw new Error('no token')
  }
  const ms = performance.now() - t
  await it.return?.()
  return ms
}

async function firstTokenViaRouter (): Promise<number> {
  const t = performance.now()
  const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 2, stream: true })
  let at = -1
  for await (const chunk of stream) {
    if (at < 0 && (chunk.choices[0]?.delta.content ?? '') !== '') {
      at = performance.now() - t
    }
  }
  if (at < 0) {
    throw new Error('no token')
  }
  return at
}

/** each token's text is its production time (performance.now()), so its lag is arrival − that */
const streamScript = { delayMs: TOKEN_INTERVAL_MS, settleDelayMs: 0, stamp: true, tokens: Array.from({ length: STREAM_TOKENS }, () => '') }

async function streamsDirect (k: number): Promise<{ complete: number, lagP99: number }> {
  client.script = streamScript
  const handles: TaskHandle[] = await Promise.all(Array.from({ length: k }, async () => client.submit('go', { maxTokens: STREAM_TOKENS })))
  const lags: number[] = []
  const counts = await Promise.all(handles.map(async (h) => {
    let n = 0
    for await (const token of h.tokens) {
      lags.push(performance.now() - Number(token.text))
      n++
    }
    return n
  }))
  return { complete: counts.filter(n => n === STREAM_TOKENS).length, lagP99: percentile(lags, 99) }
}

async function streamsViaRouter (k: number): Promise<{ complete: number, lagP99: number, errors: number }> {
  client.script = streamScript
  let errors = 0
  const lags: number[] = []
  const counts = await Promise.all(Array.from({ length: k }, async () => {
    let n = 0
    try {
      const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'go' }], max_tokens: STREAM_TOKENS, stream: true })
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta.content ?? ''
        if (text !== '') {
          lags.push(performance.now() - Number(text))
          n++
        }
      }
    } catch {
      errors++
    }
    return n
  }))
  return { complete: counts.filter(n => n === STREAM_TOKENS).length, lagP99: percentile(lags, 99), errors }
}

try {
  // time to first token, interleaved so both see the same machine state
  for (let i = 0; i < WARMUP; i++) {
    await firstTokenDirect()
    await firstTokenViaRouter()
  }
  const direct: number[] = []
  const via: number[] = []
  for (let i = 0; i < TTFT_RUNS; i++) {
    direct.push(await firstTokenDirect())
    via.push(await firstTokenViaRouter())
  }
  figures.push({ name: `time to first token via the router (openai client, stream), p50 of ${TTFT_RUNS}`, value: median(via), unit: 'ms', baseline: { name: 'TaskClient directly', value: median(direct) } })
  figures.push({ name: 'time to first token via the router, p99', value: percentile(via, 99), unit: 'ms', baseline: { name: 'TaskClient directly', value: percentile(direct, 99) } })
  figures.push({ name: 'router-added latency to first token, p50', value: median(via) - median(direct), unit: 'ms', goal: '≤ 20 ms' })
  figures.push({ name: 'router-added latency to first token, p99', value: percentile(via, 99) - percentile(direct, 99), unit: 'ms' })

  // sustained concurrent streams
  let sustained = 0
  for (const k of CONCURRENCY) {
    const d = await streamsDirect(k)
    const r = await streamsViaRouter(k)
    process.stderr.write(`${k} streams: direct ${d.complete}/${k} complete, lag p99 ${d.lagP99.toFixed(1)} ms; router ${r.complete}/${k} complete, ${r.errors} errors, lag p99 ${r.lagP99.toFixed(1)} ms\n`)
    figures.push({
      name: `${k} concurrent streams × ${STREAM_TOKENS} tokens at ${1000 / TOKEN_INTERVAL_MS}/s: delivery lag p99 (${r.complete}/${k} complete)`,
      value: r.lagP99,
      unit: 'ms',
      baseline: { name: `same streams from the TaskClient directly (${d.complete}/${k})`, value: d.lagP99 }
    })
    if (r.complete === k && r.lagP99 <= MAX_LAG_P99_MS) {
      sustained = k
    } else {
      break
    }
  }
  figures.push({ name: `sustained concurrent streams on one router (all complete, lag p99 ≤ ${MAX_LAG_P99_MS} ms; levels ${CONCURRENCY.join(', ')})`, value: sustained, unit: 'streams', goal: '≥ 200' })
} finally {
  await router.close()
}

printFigures('router (loopback, zero-latency TaskClient)', figures)
