import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { InvalidSubmitParamsError, NoEligibleMinerError, TaskFailedError } from '../../client/errors.ts'
import { ContractRuleError } from '../../contracts/errors.ts'
import { createRouter } from '../../node/roles/router/app.ts'
import { toApiError } from '../../node/roles/router/errors.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { RateLimiter } from '../../node/roles/router/limits.ts'
import { MODEL_ID, ScriptedTaskClient, startTestRouter, waitUntil } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'
import type { Socket } from 'node:net'

interface Reply {
  status: number
  headers: Headers
  body: any
}

async function call (r: TestRouter, path: string, init: { method?: string, body?: string | object, key?: string | null, headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers }
  const key = init.key === undefined ? r.key : init.key
  if (key != null) {
    headers.authorization = `Bearer ${key}`
  }
  if (init.body != null && headers['content-type'] == null) {
    headers['content-type'] = 'application/json'
  }
  const res = await fetch(`${r.base}${path}`, {
    method: init.method ?? (init.body != null ? 'POST' : 'GET'),
    headers,
    body: typeof init.body === 'object' ? JSON.stringify(init.body) : init.body
  })
  const text = await res.text()
  let body: any = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body }
}

function expectError (res: Reply, status: number, code: string, param?: string | null): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status)
  expect(res.body).to.have.property('error')
  expect(res.body.error).to.have.all.keys('message', 'type', 'code', 'param')
  expect(res.body.error.code).to.equal(code)
  expect(res.body.error.message).to.be.a('string').and.not.equal('')
  if (param !== undefined) {
    expect(res.body.error.param).to.equal(param)
  }
}

const chat = (extra: object = {}): object => ({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], ...extra })

describe('router: bad requests get 4xx with an OpenAI-style error body', function () {
  let r: TestRouter

  before(async function () {
    r = await startTestRouter({ options: { bodyLimitBytes: 64 * 1024, rateLimitPerMinute: 10_000 } })
  })

  after(async function () {
    await r?.close()
  })

  it('401 without a key, with an unknown, malformed or revoked key', async function () {
    expectError(await call(r, '/v1/chat/completions', { body: chat(), key: null }), 401, 'missing_api_key')
    expectError(await call(r, '/v1/models', { key: 'csk_' + 'A'.repeat(43) }), 401, 'invalid_api_key')
    expectError(await call(r, '/v1/models', { key: 'sk-whatever' }), 401, 'invalid_api_key')
    expectError(await call(r, '/v1/models', { key: null, headers: { authorization: 'Basic abc' } }), 401, 'invalid_authorization')
    const { key, record } = await r.keys.create({ sessionId: 1n })
    expect((await call(r, '/v1/models', { key })).status).to.equal(200)
    await r.keys.revoke(record.id)
    const revoked = await call(r, '/v1/models', { key })
    expectError(revoked, 401, 'invalid_api_key')
    expect(revoked.body.error.type).to.equal('authentication_error')
  })

  it('400 for a body that is not JSON, empty, or not an object', async function () {
    expectError(await call(r, '/v1/chat/completions', { body: '{"model": ' }), 400, 'invalid_json')
    expectError(await call(r, '/v1/chat/completions', { body: '', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
    expectError(await call(r, '/v1/chat/completions', { body: '[1,2]' }), 400, 'invalid_request')
    expectError(await call(r, '/v1/chat/completions', { body: 'null' }), 400, 'invalid_request')
    expectError(await call(r, '/v1/chat/completions', { body: '{"__proto__": {"x": 1}}' }), 400, 'invalid_json')
  })

  it('400 or 415 for a body that is not application/json', async function () {
    const res = await call(r, '/v1/chat/completions', { body: 'hello', headers: { 'content-type': 'text/plain' } })
    expectError(res, 400, 'invalid_request')
    expect(res.body.error.message).to.include('application/json')
    expectError(await call(r, '/v1/chat/completions', { body: 'hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type')
  })

  it('413 for a body over the limit', async function () {
    expectError(await call(r, '/v1/chat/completions', { body: chat({ messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] }) }), 413, 'request_too_large')
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x'.repeat(70 * 1024) } }), 413, 'request_too_large')
  })

  it('404 for a model no miner serves', async function () {
    const res = await call(r, '/v1/chat/completions', { body: chat({ model: 'gpt-4o' }) })
    expectError(res, 404, 'model_not_found', 'model')
    expect(res.body.error.message).to.include(MODEL_ID)
    expectError(await call(r, '/v1/models/gpt-4o'), 404, 'model_not_found')
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x', model: 'other' } }), 404, 'model_not_found', 'model')
  })

  it('400 for negative, fractional, zero or huge max_tokens, naming the param', async function () {
    for (const v of [-1, 0, 1.5, 1e9, '10', true]) {
      expectError(await call(r, '/v1/chat/completions', { body: chat({ max_tokens: v }) }), 400, typeof v === 'number' && Number.isInteger(v) ? 'invalid_value' : 'invalid_type', 'max_tokens')
    }
    expectError(await call(r, '/v1/completions', { body: { model: MODEL_ID, prompt: 'x', max_tokens: -5 } }), 400, 'invalid_value', 'max_tokens')
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x', max_tokens: -5 } }), 400, 'invalid_value', 'max_tokens')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ max_completion_tokens: 0 }) }), 400, 'invalid_value', 'max_completion_tokens')
    // null means "not given", as in OpenAI's API
    expect((await call(r, '/v1/chat/completions', { body: chat({ max_tokens: null }) })).status).to.equal(200)
  })

  it('400 for other invalid fields, naming them', async function () {
    expectError(await call(r, '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'x' }] } }), 400, 'missing_required_parameter', 'model')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ messages: [] }) }), 400, 'invalid_value', 'messages')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ messages: [{ role: 'wizard', content: 'x' }] }) }), 400, 'invalid_value', 'messages[0].role')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }) }), 400, 'unsupported_content', 'messages[0].content[0]')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ temperature: 3 }) }), 400, 'invalid_value', 'temperature')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ top_p: 'high' }) }), 400, 'invalid_type', 'top_p')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ n: 2 }) }), 400, 'unsupported_value', 'n')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ stream: 'yes' }) }), 400, 'invalid_type', 'stream')
    expectError(await call(r, '/v1/chat/completions', { body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }) }), 400, 'invalid_value', 'stop')
    expectError(await call(r, '/v1/completions', { body: { model: MODEL_ID, prompt: [1, 2, 3] } }), 400, 'invalid_type', 'prompt')
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x', timeout: -1 } }), 400, 'invalid_value', 'timeout')
    expectError(await call(r, '/api/v1/completions', { body: {} }), 400, 'missing_required_parameter', 'prompt')
    expectError(await call(r, '/api/v1/tasks/abc'), 400, 'invalid_value', 'sessionId')
  })

  it('403 for another session than the key\'s, 404 for unknown routes and tasks', async function () {
    expectError(await call(r, '/api/v1/completions/2', { body: { prompt: 'x' } }), 403, 'session_forbidden')
    expectError(await call(r, '/api/v1/tasks/2'), 403, 'session_forbidden')
    expectError(await call(r, '/api/v1/tasks/1/999999'), 404, 'task_not_found')
    expectError(await call(r, '/v1/nope'), 404, 'not_found')
  })

  it('maps the SDK\'s refusals: bad params 400, no deposit 402, closed session 403, no miners 503', async function () {
    r.client.next({ rejectSubmit: new InvalidSubmitParamsError('maxTokens', 'maxTokens: above the session\'s limit') })
    expectError(await call(r, '/v1/chat/completions', { body: chat() }), 400, 'invalid_value', 'max_tokens')
    r.client.next({ rejectSubmit: new ContractRuleError('InsufficientDeposit', [1n, 10n ** 15n, 0n]) })
    const spent = await call(r, '/v1/chat/completions', { body: chat() })
    expectError(spent, 402, 'insufficient_deposit')
    expect(spent.body.error.type).to.equal('insufficient_quota')
    r.client.next({ rejectSubmit: new ContractRuleError('SessionIsClosed', [1n]) })
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x' } }), 403, 'session_is_closed')
    r.client.next({ rejectSubmit: new TaskFailedError('client-closed', 'the client was closed') })
    expectError(await call(r, '/api/v1/completions', { body: { prompt: 'x' } }), 503, 'router_stopping')
    r.client.next({ rejectSubmit: new NoEligibleMinerError('session 1 needs 1 miners of model 0xab… per task (its redundancy) and only 0 serve it: nobody can take the task until more miners join', { reason: 'no-miner-for-model', needed: 1, serving: 0, available: 0, retryAfterMs: 10_000 }) })
    const res = await call(r, '/v1/chat/completions', { body: chat({ stream: true }) })
    expectError(res, 503, 'no_eligible_miner')
    expect(res.headers.get('retry-after')).to.equal('10')
  })

  it('CORS: preflight and response headers', async function () {
    const pre = await fetch(`${r.base}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }
    })
    expect(pre.status).to.be.lessThan(300)
    expect(pre.headers.get('access-control-allow-origin')).to.equal('*')
    expect(pre.headers.get('access-control-allow-methods')).to.include('POST')
    const res = await fetch(`${r.base}/v1/models`, { headers: { origin: 'https://app.example', authorization: `Bearer ${r.key}` } })
    expect(res.headers.get('access-control-allow-origin')).to.equal('*')
  })

  it('a request the HTTP parser refuses gets a JSON error, and a HEAD request its headers only', async function () {
    const raw = async (text: string): Promise<string> => new Promise((resolve) => {
      let out = ''
      const sock = connect(r.port, '127.0.0.1', () => { sock.write(text) })
      sock.on('data', (d) => { out += String(d) })
      sock.on('error', () => {})
      sock.on('close', () => { resolve(out) })
    })
    const long = `/v1/models/${'a'.repeat(20_000)}`
    const get = await raw(`GET ${long} HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(get.split('\r\n')[0]).to.equal('HTTP/1.1 431 Request Header Fields Too Large')
    expect(JSON.parse(get.split('\r\n\r\n')[1]).error.code).to.equal('headers_too_large')
    const head = await raw(`HEAD ${long} HTTP/1.1\r\nHost: x\r\n\r\n`)
    expect(head.split('\r\n')[0]).to.equal('HTTP/1.1 431 Request Header Fields Too Large')
    expect(head.split('\r\n\r\n')[1]).to.equal('')
    const junk = await raw('NOT HTTP AT ALL\r\n\r\n')
    expect(junk.split('\r\n')[0]).to.equal('HTTP/1.1 400 Bad Request')
    expect(JSON.parse(junk.split('\r\n\r\n')[1]).error.code).to.equal('bad_http_request')
  })

  it('toApiError hides unexpected errors behind a 500', function () {
    const e = toApiError(new TypeError('x is undefined'))
    expect(e.status).to.equal(500)
    expect(e.message).to.equal('internal error')
    expect(toApiError(new TaskFailedError('expired', 'task 3 expired')).status).to.equal(504)
    // matched by class: a look-alike with the SDK's name is an unexpected error
    expect(toApiError(Object.assign(new Error('late'), { name: 'TaskFailedError', code: 'expired' })).status).to.equal(500)
  })

  it('a task no miner is free for is a 503 no_eligible_miner with the SDK\'s explanation and a Retry-After from its estimate', function () {
    const err = new NoEligibleMinerError('session 2 needs 3 miners of model 0xab…: 3 serve it, 0 free for this session; 3 are reserved by session 1 (3 miners)', {
      reason: 'miners-reserved', needed: 3, serving: 3, available: 0, retryAfterMs: 12_400
    })
    const e = toApiError(err)
    expect([e.status, e.code, e.message]).to.deep.equal([503, 'no_eligible_miner', err.message])
    expect(e.headers['retry-after']).to.equal('13')
  })

  it('a task the network gave up is a retryable 503 task_abandoned with the SDK\'s reason', function () {
    const err = new TaskFailedError('abandoned', 'task 7 was given up by the network: too few of its miners revealed an output (insufficient-reveals); its deposit was returned to the session', '7', { reason: 'insufficient-reveals' })
    const e = toApiError(err)
    expect([e.status, e.code, e.message, e.headers['retry-after']]).to.deep.equal([503, 'task_abandoned', err.message, '1'])
  })
})

describe('router: per-key limits', function () {
  it('429 with Retry-After once a key exceeds its requests per minute', async function () {
    const r = await startTestRouter({ keyLimits: { rateLimitPerMinute: 3 } })
    try {
      for (let i = 0; i < 3; i++) {
        const ok = await call(r, '/v1/models')
        expect(ok.status).to.equal(200)
        expect(ok.headers.get('x-ratelimit-limit-requests')).to.equal('3')
      }
      const res = await call(r, '/v1/models')
      expectError(res, 429, 'rate_limit_exceeded')
      expect(res.body.error.type).to.equal('rate_limit_error')
      expect(Number(res.headers.get('retry-after'))).to.be.within(1, 60)
      // another key is not affected
      const { key } = await r.keys.create({ sessionId: 1n })
      expect((await call(r, '/v1/models', { key })).status).to.equal(200)
    } finally {
      await r.close()
    }
  })

  it('429 when a key opens more concurrent streams than allowed, and a slot frees when a stream ends', async function () {
    const r = await startTestRouter({ keyLimits: { maxStreams: 2 } })
    try {
      r.client.script = { tokens: Array.from({ length: 30 }, () => 'x'), delayMs: 20 }
      const open = async (): Promise<Response> => fetch(`${r.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat({ stream: true }))
      })
      const a = await open()
      const b = await open()
      expect([a.status, b.status]).to.deep.equal([200, 200])
      const c = await call(r, '/v1/chat/completions', { body: chat({ stream: true }) })
      expectError(c, 429, 'too_many_streams')
      expect(c.headers.get('retry-after')).to.equal('1')
      await a.text()
      await b.text()
      r.client.script = {}
      const d = await call(r, '/v1/chat/completions', { body: chat({ stream: true }) })
      expect(d.status).to.equal(200)
    } finally {
      await r.close()
    }
  })

  it('503 with Retry-After, at once, when the router follows its limit of tasks in flight; a slot frees when a task ends', async function () {
    const r = await startTestRouter({ options: { maxTasksInFlight: 2 }, keyLimits: { maxStreams: 10 } })
    try {
      r.client.script = { hang: true }
      const open = async (): Promise<Response> => fetch(`${r.base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(chat({ stream: true }))
      })
      const pending = [open(), open()]
      await waitUntil('two tasks submitted', () => r.client.handles.length === 2)
      const t0 = performance.now()
      const busy = await call(r, '/v1/chat/completions', { body: chat() })
      expect(performance.now() - t0).to.be.lessThan(500)
      expect(busy.status).to.equal(503)
      expect(busy.body).to.deep.equal({ error: { message: 'the router follows its limit of 2 tasks in flight; retry shortly', type: 'upstream_error', code: 'network_busy', param: null } })
      expect(busy.headers.get('retry-after')).to.equal('1')
      expect(r.client.submits).to.have.length(2)
      // one task ends: its slot is free again
      r.client.handles[0].cancel()
      r.client.script = {}
      await waitUntil('a free slot', () => r.client.handles[0].cancelled)
      const ok = await call(r, '/v1/chat/completions', { body: chat() })
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200)
      r.client.handles[1].cancel()
      await Promise.all(pending.map(async p => (await p).text().catch(() => '')))
    } finally {
      await r.close()
    }
  })

  it('503 at once when tasks wait for the network to start them beyond the limit; generating tasks do not count', async function () {
    const r = await startTestRouter({ options: { maxPendingTasks: 1 }, keyLimits: { maxStreams: 10 } })
    try {
      // one task generating slowly, one that no miner starts
      r.client.next({ tokens: Array.from({ length: 50 }, () => 'x'), delayMs: 20 }).next({ hang: true })
      const streaming = fetch(`${r.base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' }, body: JSON.stringify(chat({ stream: true })) })
      await waitUntil('the first task generating', () => r.client.handles[0]?.record.status === 'generating')
      const waiting = fetch(`${r.base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' }, body: JSON.stringify(chat({ stream: true })) })
      await waitUntil('the second task submitted', () => r.client.handles.length === 2)
      const busy = await call(r, '/v1/completions', { body: { model: MODEL_ID, prompt: 'x' } })
      expect(busy.status).to.equal(503)
      expect(busy.body).to.deep.equal({ error: { message: 'the router has 1 tasks waiting for the network to start them (limit 1); retry shortly', type: 'upstream_error', code: 'network_busy', param: null } })
      expect(busy.headers.get('retry-after')).to.equal('1')
      expect(r.client.submits).to.have.length(2)
      r.client.handles[1].cancel()
      expect((await streaming).status).to.equal(200)
      await (await streaming).text()
      await (await waiting).text().catch(() => '')
    } finally {
      await r.close()
    }
  })

  it('a burst is counted as it arrives: the requests beyond the limit are refused at once, not after the session is read', async function () {
    const client = new ScriptedTaskClient({ script: { tokens: ['a'], delayMs: 0 } })
    // a slow chain: the session read that every first request waits for takes 500 ms
    const read = client.session.bind(client)
    client.session = async (id?: bigint) => { await new Promise(resolve => setTimeout(resolve, 500)); return read(id) }
    const r = await startTestRouter({ client, options: { maxPendingTasks: 2 }, keyLimits: { maxStreams: 100 } })
    try {
      const replies = await Promise.all(Array.from({ length: 10 }, async () => {
        const t0 = performance.now()
        const res = await call(r, '/v1/chat/completions', { body: chat() })
        return { status: res.status, code: res.body.error?.code, ms: performance.now() - t0 }
      }))
      const refused = replies.filter(x => x.status === 503)
      expect(replies.filter(x => x.status === 200)).to.have.length(2)
      expect(refused).to.have.length(8)
      expect(refused.every(x => x.code === 'network_busy' && x.ms < 400), JSON.stringify(refused)).to.equal(true)
      expect(r.client.submits).to.have.length(2)
    } finally {
      await r.close()
    }
  })

  it('a client address over its connection cap gets a 503 JSON error and is closed; the others are served', async function () {
    const r = await startTestRouter({ options: { http: { maxConnectionsPerIp: 3 } } })
    const sockets: Socket[] = []
    try {
      for (let i = 0; i < 3; i++) {
        sockets.push(await new Promise<Socket>((resolve) => { const s = connect(r.port, '127.0.0.1', () => { resolve(s) }) }))
      }
      const refused = await new Promise<string>((resolve) => {
        let text = ''
        const s = connect(r.port, '127.0.0.1')
        s.on('data', (d) => { text += String(d) })
        s.on('error', () => {})
        s.on('close', () => { resolve(text) })
      })
      expect(refused.split('\r\n')[0]).to.equal('HTTP/1.1 503 Service Unavailable')
      expect(JSON.parse(refused.split('\r\n\r\n')[1])).to.deep.equal({
        error: { message: 'this address already holds 3 connections (limit 3); close some and retry', type: 'upstream_error', code: 'too_many_connections', param: null }
      })
      sockets.pop()?.destroy()
      await new Promise(resolve => setTimeout(resolve, 50))
      expect((await fetch(`${r.base}/api/v1/ping`)).status).to.equal(200)
    } finally {
      sockets.forEach(s => { s.destroy() })
      await r.close()
    }
  })

  it('the token bucket refills continuously', function () {
    let now = 0
    const limiter = new RateLimiter(() => now)
    expect(limiter.take('k', 60)).to.deep.equal({ ok: true, remaining: 59 })
    for (let i = 0; i < 59; i++) {
      limiter.take('k', 60)
    }
    expect(limiter.take('k', 60)).to.deep.equal({ ok: false, retryAfterSec: 1 })
    now += 1000
    expect(limiter.take('k', 60).ok).to.equal(true)
    expect(limiter.take('k', 60).ok).to.equal(false)
  })

  it('a key created while the router runs works within a second (file-backed store)', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'router-keys-'))
    const served = await KeyStore.open(dir, { reloadIntervalMs: 50 })
    const app = createRouter({ client: new ScriptedTaskClient(), keys: served })
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      const port = (app.server.address() as { port: number }).port
      const other = await KeyStore.open(dir)
      const { key, record } = await other.create({ sessionId: 1n })
      const get = async (): Promise<number> => (await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status
      let status = 0
      for (let i = 0; i < 40 && status !== 200; i++) {
        status = await get()
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      expect(status).to.equal(200)
      await other.revoke(record.id)
      for (let i = 0; i < 40 && status !== 401; i++) {
        await new Promise(resolve => setTimeout(resolve, 50))
        status = await get()
      }
      expect(status).to.equal(401)
    } finally {
      await app.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
