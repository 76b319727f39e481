/**
 * Property tests over random HTTP requests (fast-check): every completion
 * route gets 1,000 random bodies, the router and a node's own HTTP server
 * each get 1,000 random requests (methods, paths with traversal and odd
 * encodings, long URLs, auth variants, content types, CORS headers). No
 * request may get a 5xx or go unanswered for 10 s; every refusal carries the
 * OpenAI-style error body; the server keeps serving afterwards.
 */
import { request } from 'node:http'
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { TestNet } from '../fixtures/nodes.ts'
import { MODEL_ID, ScriptedTaskClient, startTestRouter } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'

/** Cases per route; CI runs them all (about 30 s on a 2-core machine). */
const RUNS_PER_ROUTE = 1000
/** A request unanswered this long is a hang. */
const HANG_MS = 10_000

const POST_ROUTES = ['/v1/chat/completions', '/v1/completions', '/api/v1/completions', '/api/v1/completions/1', '/api/v1/completions/2']

/** Names that are keys of every object's prototype: a lookup table must not find them. */
const PROTO_KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']

/** Values that often sit at the edges of what the router checks. */
const edgy = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1, 1.5, 2, 3, 1e9, -1e9, Number.MAX_SAFE_INTEGER, 2 ** 64, '', '1', 'x', '0x1', [], {}, [1], ['a'], MODEL_ID, 'gpt-4o', ...PROTO_KEYS),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 6 })
)

const message = fc.record({
  role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'developer', 'tool', 'wizard', ...PROTO_KEYS), edgy),
  content: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null), fc.array(fc.record({ type: fc.constantFrom('text', 'image_url', ...PROTO_KEYS), text: fc.oneof(fc.string({ maxLength: 10 }), edgy) }), { maxLength: 3 }), edgy),
  name: fc.oneof(fc.string({ maxLength: 10 }), edgy)
}, { requiredKeys: [] })

/** Bodies near the valid ones: known fields with random values, plus random extra fields. */
const nearValid = fc.record({
  model: fc.oneof(fc.constant(MODEL_ID), edgy),
  messages: fc.oneof(fc.array(message, { maxLength: 4 }), edgy),
  prompt: fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }), edgy),
  stream: fc.oneof(fc.boolean(), edgy),
  stream_options: fc.oneof(fc.record({ include_usage: fc.oneof(fc.boolean(), edgy) }), edgy),
  max_tokens: edgy,
  max_completion_tokens: edgy,
  temperature: edgy,
  top_p: edgy,
  top_k: edgy,
  seed: edgy,
  stop: edgy,
  n: edgy,
  best_of: edgy,
  user: edgy,
  timeout: edgy,
  client_reference: edgy,
  session_id: edgy
}, { requiredKeys: [] }).chain(body => fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS)), edgy, { maxKeys: 3 }).map(extra => ({ ...extra, ...body })))

/** Valid bodies with optional fields in their allowed ranges (and random extra fields): these reach the task path. */
const valid = fc.record({
  model: fc.constant(MODEL_ID),
  messages: fc.array(fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'developer'), content: fc.string({ maxLength: 30 }) }), { minLength: 1, maxLength: 3 }),
  prompt: fc.string({ maxLength: 40 }),
  stream: fc.boolean(),
  stream_options: fc.record({ include_usage: fc.boolean() }),
  max_tokens: fc.integer({ min: 1, max: 64 }),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0.001, max: 1, noNaN: true }),
  top_k: fc.integer({ min: 0, max: 100 }),
  seed: fc.integer({ min: 0 }),
  stop: fc.array(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
  timeout: fc.integer({ min: 1, max: 60 }),
  client_reference: fc.string({ maxLength: 20 }),
  user: fc.string({ maxLength: 20 }),
  session_id: fc.constantFrom(1, '1')
}, { requiredKeys: ['model', 'messages', 'prompt'] })

/** Deeply nested JSON (parsers and validators must not recurse into trouble). */
const deep = fc.integer({ min: 50, max: 5000 }).map(n => '{"messages":' + '['.repeat(n) + ']'.repeat(n) + '}')

/** The Cortensor routes take `prompt` or `messages`, never both: a valid body there keeps one of them. */
function validFor (route: string): fc.Arbitrary<Record<string, unknown>> {
  if (!route.startsWith('/api/')) {
    return valid
  }
  return fc.tuple(valid, fc.boolean()).map(([{ prompt, messages, ...rest }, keepPrompt]) => keepPrompt ? { ...rest, prompt } : { ...rest, messages })
}

const rawBodyFor = (route: string): fc.Arbitrary<string> => fc.oneof(
  { weight: 3, arbitrary: validFor(route).map(b => JSON.stringify(b)) },
  { weight: 3, arbitrary: nearValid.map(b => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.jsonValue().map(v => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: deep },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', '{"model":', '[]', 'null', '{"__proto__":{}}', '{"constructor":{"prototype":{}}}', '\u0000',
      '{"messages":[{"role":"user","content":"x"}]}', '{"model":"m","messages":[{"role":"__proto__","content":"x"}]}', '{"prompt":"x","session_id":[1]}')
  }
)

interface Answer { status: number, contentType: string, text: string }

/** One raw HTTP/1.1 request (paths are sent as given: no URL normalisation); rejects after HANG_MS. */
async function send (port: number, req: { method: string, path: string, headers: Record<string, string>, body?: string }): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers, timeout: HANG_MS }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text }) })
      res.on('error', reject)
    })
    r.on('timeout', () => { r.destroy(new Error(`no answer within ${HANG_MS} ms: ${req.method} ${req.path.slice(0, 80)}`)) })
    r.on('error', reject)
    r.end(req.body)
  })
}

/** The answer is below 500 and, when it is an error, carries the OpenAI-style body. */
function checkAnswer (what: string, a: Answer, method: string): void {
  expect(a.status, `${what} → ${a.status} ${a.text.slice(0, 300)}`).to.be.lessThan(500)
  if (a.status >= 400 && method !== 'HEAD') {
    expect(a.contentType, `${what} → ${a.text.slice(0, 200)}`).to.match(/^application\/json/)
    const err = JSON.parse(a.text).error
    expect(err.message, what).to.be.a('string')
    expect(err.type, what).to.be.a('string')
    expect(err.code, what).to.be.a('string')
    expect(err.param === null || typeof err.param === 'string', what).to.equal(true)
  }
}

function tally (statuses: Map<number, number>, status: number): void {
  statuses.set(status, (statuses.get(status) ?? 0) + 1)
}

describe('router: property tests over random requests', function () {
  this.timeout(180_000)
  let r: TestRouter
  const figures: string[] = []

  before(async function () {
    r = await startTestRouter({
      client: new ScriptedTaskClient({ script: { delayMs: 0, settleDelayMs: 0, tokens: ['a', 'b'] } }),
      options: { rateLimitPerMinute: 1e9, publicRateLimitPerMinute: 1e9, maxStreamsPerKey: 1000 }
    })
  })

  after(async function () {
    await r?.close()
    if (figures.length > 0) {
      process.stderr.write(`      fuzz figures:\n${figures.map(f => `        ${f}`).join('\n')}\n`)
    }
  })

  async function fuzzPost (route: string): Promise<void> {
    const statuses = new Map<number, number>()
    const t0 = performance.now()
    await fc.assert(fc.asyncProperty(
      rawBodyFor(route),
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', undefined),
      async (body, contentType) => {
        const headers: Record<string, string> = { authorization: `Bearer ${r.key}` }
        if (contentType != null) {
          headers['content-type'] = contentType
        }
        const a = await send(r.port, { method: 'POST', path: route, headers, body })
        tally(statuses, a.status)
        checkAnswer(`${route} ${body.slice(0, 200)}`, a, 'POST')
        if (a.status === 200 && a.contentType.startsWith('text/event-stream')) {
          expect(a.text.trimEnd().endsWith('data: [DONE]'), a.text).to.equal(true)
        } else if (a.status === 200) {
          expect(JSON.parse(a.text)).to.be.an('object')
        }
      }
    ), { numRuns: RUNS_PER_ROUTE, seed: 20240611 + route.length })
    figures.push(`POST ${route}: ${RUNS_PER_ROUTE} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`)
    // the run reached the task path too, not only validation errors (the session-2 route is always 403)
    if (!route.endsWith('/2')) {
      expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).to.be.greaterThan(50)
    }
    expect((await send(r.port, { method: 'GET', path: '/api/v1/ping', headers: {} })).status).to.equal(200)
  }

  for (const route of POST_ROUTES) {
    it(`POST ${route}: ${RUNS_PER_ROUTE} random bodies, no 5xx, no hang, every refusal a JSON error`, async function () {
      await fuzzPost(route)
    })
  }

  const paths = fc.oneof(
    fc.constantFrom('/', '/v1/models', `/v1/models/${MODEL_ID}`, '/v1/models/%00', '/api/v1/ping', '/api/v1/info', '/api/v1/status', '/api/v1/miners',
      '/api/v1/sessions', '/api/v1/sessions/1', '/api/v1/sessions/x', '/api/v1/tasks/1', '/api/v1/tasks/1/1', '/api/v1/tasks/1/99999999999999999999999',
      '/ws', '/metrics', '/health', '/v1/chat/completions', '/api/v1/completions/1', '/../../etc/passwd', '/v1/../v1/models', '/%2e%2e/%2e%2e/etc/passwd',
      '/v1//models', '/v1/models?api_key=x', '/api/v1/sessions/__proto__', '/api/v1/tasks/constructor/1', '//', '/*', '/app/../../x'),
    fc.string({ maxLength: 40 }).map(s => `/${encodeURIComponent(s)}`),
    fc.webPath(),
    fc.integer({ min: 1000, max: 16_000 }).map(n => `/v1/models/${'a'.repeat(n)}`)
  )
  const authHeader = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer KEY', 'Bearer KEY', 'Bearer KEY extra', 'Basic dXNlcjpwYXNz', 'KEY', 'Bearer csk_' + 'A'.repeat(43), 'Bearer ' + 'x'.repeat(5000)),
    fc.string({ maxLength: 30 })
  )
  const randomRequest = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    path: paths,
    auth: authHeader,
    contentType: fc.constantFrom(undefined, 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded'),
    origin: fc.constantFrom(undefined, 'https://app.example', 'null'),
    preflight: fc.constantFrom(undefined, 'POST', 'GET', 'DELETE'),
    body: fc.option(rawBodyFor(''), { nil: undefined })
  })

  function headersOf (q: { auth?: string, contentType?: string, origin?: string, preflight?: string }, key: string): Record<string, string> {
    const h: Record<string, string> = {}
    if (q.auth != null) {
      // header values must be latin-1 without control characters for the request to leave at all
      h.authorization = q.auth.replace('KEY', key).replace(/[^\x20-\x7e]/g, '')
    }
    if (q.contentType != null) {
      h['content-type'] = q.contentType
    }
    if (q.origin != null) {
      h.origin = q.origin
    }
    if (q.preflight != null) {
      h['access-control-request-method'] = q.preflight
    }
    return h
  }

  it(`the router: ${RUNS_PER_ROUTE} random requests (methods, paths, auth, CORS), no 5xx, no hang`, async function () {
    const statuses = new Map<number, number>()
    const t0 = performance.now()
    await fc.assert(fc.asyncProperty(randomRequest, async (q) => {
      const body = q.method === 'GET' || q.method === 'HEAD' ? undefined : q.body
      const a = await send(r.port, { method: q.method, path: q.path, headers: headersOf(q, r.key), body })
      tally(statuses, a.status)
      checkAnswer(`${q.method} ${q.path.slice(0, 100)} ${JSON.stringify(headersOf(q, 'KEY')).slice(0, 200)}`, a, q.method)
    }), { numRuns: RUNS_PER_ROUTE, seed: 20240612 })
    figures.push(`router, random requests: ${RUNS_PER_ROUTE} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`)
    expect(statuses.get(200) ?? 0).to.be.greaterThan(20)
    expect((await send(r.port, { method: 'GET', path: '/api/v1/ping', headers: {} })).status).to.equal(200)
  })

  describe('a node\'s own HTTP server (bootstrap: /health, /metrics)', function () {
    const net = new TestNet()
    let port: number

    before(async function () {
      const boot = await net.start({ roles: ['bootstrap'], httpPort: 0 })
      port = boot.httpPort ?? 0
    })

    after(async function () {
      await net.cleanup()
    })

    it(`${RUNS_PER_ROUTE} random requests, no 5xx, no hang, every refusal a JSON error`, async function () {
      const statuses = new Map<number, number>()
      const t0 = performance.now()
      await fc.assert(fc.asyncProperty(randomRequest, async (q) => {
        const body = q.method === 'GET' || q.method === 'HEAD' ? undefined : q.body
        const a = await send(port, { method: q.method, path: q.path, headers: headersOf(q, 'k'), body })
        tally(statuses, a.status)
        checkAnswer(`${q.method} ${q.path.slice(0, 100)}`, a, q.method)
      }), { numRuns: RUNS_PER_ROUTE, seed: 20240613 })
      figures.push(`node HTTP server, random requests: ${RUNS_PER_ROUTE} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`)
      // the server has two routes of its own: a few of the random requests hit them
      expect(statuses.get(200) ?? 0).to.be.greaterThan(0)
      expect((await send(port, { method: 'GET', path: '/health', headers: {} })).status).to.equal(200)
    })
  })
})
