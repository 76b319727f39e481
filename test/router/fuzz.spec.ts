import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { MODEL_ID, ScriptedTaskClient, startTestRouter } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'

const ROUTES = ['/v1/chat/completions', '/v1/completions', '/api/v1/completions', '/api/v1/completions/1', '/api/v1/completions/2']

/** Values that often sit at the edges of what the router checks. */
const edgy = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1, 1.5, 2, 3, 1e9, -1e9, Number.MAX_SAFE_INTEGER, '', '1', 'x', [], {}, [1], ['a'], MODEL_ID, 'gpt-4o'),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 6 })
)

const message = fc.record({
  role: fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'developer', 'tool', 'wizard'), edgy),
  content: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null), fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: fc.oneof(fc.string({ maxLength: 10 }), edgy) }), { maxLength: 3 }), edgy),
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
}, { requiredKeys: [] }).chain(body => fc.dictionary(fc.string({ maxLength: 8 }), edgy, { maxKeys: 3 }).map(extra => ({ ...extra, ...body })))

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
  user: fc.string({ maxLength: 20 })
}, { requiredKeys: ['model', 'messages', 'prompt'] })

const rawBody = fc.oneof(
  valid.map(b => JSON.stringify(b)),
  valid.map(b => JSON.stringify(b)),
  nearValid.map(b => JSON.stringify(b)),
  fc.jsonValue().map(v => JSON.stringify(v)),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('', '{', '{"model":', '[]', 'null', '{"__proto__":{}}', '{"constructor":{"prototype":{}}}', '\u0000', '{"messages":[{"role":"user","content":"x"}]}')
)

describe('router: property test over random request bodies', function () {
  let r: TestRouter

  before(async function () {
    r = await startTestRouter({
      client: new ScriptedTaskClient({ script: { delayMs: 0, settleDelayMs: 0, tokens: ['a', 'b'] } }),
      options: { rateLimitPerMinute: 1e9, maxStreamsPerKey: 1000 }
    })
  })

  after(async function () {
    await r?.close()
  })

  it('never answers 5xx, always answers 4xx with the error shape, and keeps serving', async function () {
    this.timeout(120000)
    const statuses = new Map<number, number>()
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...ROUTES),
      rawBody,
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', undefined),
      async (route, body, contentType) => {
        const headers: Record<string, string> = { authorization: `Bearer ${r.key}` }
        if (contentType != null) {
          headers['content-type'] = contentType
        }
        const res = await fetch(`${r.base}${route}`, { method: 'POST', headers, body })
        const text = await res.text()
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect(res.status, `${route} ${body} → ${text}`).to.be.lessThan(500)
        if (res.status >= 400) {
          const err = JSON.parse(text).error
          expect(err.message).to.be.a('string')
          expect(err.type).to.be.a('string')
          expect(err.code).to.be.a('string')
          expect(err.param === null || typeof err.param === 'string').to.equal(true)
        } else if (res.headers.get('content-type')?.startsWith('text/event-stream') === true) {
          expect(text.trimEnd().endsWith('data: [DONE]'), text).to.equal(true)
        } else {
          expect(JSON.parse(text)).to.be.an('object')
        }
      }
    ), { numRuns: 400, seed: 20240611 })
    // the run must have reached the task path too, not only validation errors
    expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).to.be.greaterThan(10)
    const ping = await fetch(`${r.base}/api/v1/ping`)
    expect(ping.status).to.equal(200)
  })
})
