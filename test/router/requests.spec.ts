/**
 * Requests the network accepts are served, or refused at once, on a whole
 * local network (anvil, miners and oracles with the generated `tiny` model,
 * whose context is 512 tokens, the client SDK and a router on its own HTTP
 * server): chats are rendered with the model's own template (ChatML) by
 * miners and replaying oracles alike, sampled chat without a seed settles
 * and passes replay, a max_tokens or prompt too long for the context is a
 * 400 naming the limit, odd fields are 400s, usage counts the prompt's real
 * tokens, and slow callers are cut off.
 */
import { connect } from 'node:net'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { startRouterRole } from '../../node/roles/router/role.ts'
import { reportIfFailed, startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { RouterRole } from '../../node/roles/router/role.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'

/** the tiny preset's context (node/inference/gguf/presets.ts), below the engine's 2,048 default */
const TINY_CONTEXT_TOKENS = 512
/** a refusal the router makes itself, or that the miners' declines make, arrives within this */
const REFUSAL_MS = 1000

interface Reply { status: number, contentType: string, body: any, ms: number }

describe('router on a whole local network: requests are served, or refused at once', function () {
  this.timeout(300_000)
  let ln: LifecycleNet
  let role: RouterRole
  let openai: OpenAI
  let base: string
  let key: string

  before(async function () {
    // every output is replayed, so a sampled output is checked against the model
    ln = await startLifecycleNet({ sampleRate: 1 })
    const keys = KeyStore.memory()
    key = (await keys.create({})).key
    role = await startRouterRole(ln.net.clientNode, ln.net.client, {
      port: 0,
      keys,
      http: { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500, maxConnectionsPerIp: 20 }
    })
    base = `http://127.0.0.1:${role.port}`
    openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
  })

  afterEach(function () {
    reportIfFailed(this)
  })

  after(async function () {
    await role?.close()
    await ln?.stop()
  })

  async function post (path: string, body: unknown): Promise<Reply> {
    const t0 = performance.now()
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: JSON.parse(text), ms: performance.now() - t0 }
  }

  const modelId = (): string => ln.net.modelId

  it('the pool advertises the model\'s context, and /v1/models shows it', async function () {
    expect(ln.net.client.models()).to.deep.equal([{ id: modelId(), miners: 3, contextTokens: TINY_CONTEXT_TOKENS }])
    const models = await (await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()
    // no name: this node's data directory names no model (`cortensor model add`)
    expect(models.data[0].cortensor).to.deep.equal({ name: null, miners: 3, context_tokens: TINY_CONTEXT_TOKENS })
  })

  it('a sampled chat (temperature 1, no seed) through the official openai client streams, settles, and passes replay', async function () {
    const replaysBefore = ln.net.oracles.reduce((n, o) => n + o.role.stats.replays, 0)
    const messages = [{ role: 'user' as const, content: 'the man said that water was cold' }]
    const stream = await openai.chat.completions.create({ model: modelId(), messages, max_tokens: 16, temperature: 1, stream: true })
    let streamed = ''
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? ''
    }
    expect(streamed).to.not.equal('')
    const settled = await openai.chat.completions.create({ model: modelId(), messages, max_tokens: 16, temperature: 1 })
    const extra = (settled as any).cortensor
    expect(extra.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    // the three miners sampled with the seed derived from the chain's: the same output, all accepted
    expect(extra.miners.map((m: { outcome: string }) => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted'])
    expect(settled.choices[0].message.content).to.be.a('string').and.not.equal('')
    // every task is audited here (sample rate 1): each oracle replays the sampled output against the task's sampler, after settlement
    const taskId = BigInt(extra.task_id)
    await waitFor(() => ln.net.oracles.every(o => o.role.auditOf(taskId)?.failed != null), 30_000)
    for (const o of ln.net.oracles) {
      expect(o.role.auditOf(taskId)?.failed).to.deep.equal([])
    }
    expect(ln.net.oracles.reduce((n, o) => n + o.role.stats.replays, 0)).to.be.greaterThan(replaysBefore)
  })

  it('a chat is rendered with the model\'s own template (ChatML): the response names it, usage counts its tokens, the oracles\' replay accepts it', async function () {
    const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'the man said that water was cold' }]
    const rendered = ln.net.miners[0].engine.renderPrompt({ messages })
    expect(rendered.chatTemplate).to.equal('ChatML')
    const settled = await openai.chat.completions.create({ model: modelId(), messages, max_tokens: 8, temperature: 0 })
    const extra = (settled as any).cortensor
    expect(extra.chat_template).to.equal('ChatML')
    expect(settled.usage?.prompt_tokens).to.equal(rendered.tokens.length)
    // every miner rendered the same tokens (one output, all accepted), and every oracle, rendering the
    // messages itself, replays the accepted output in its audit (every agreeing task is audited here)
    expect(extra.miners.map((m: { outcome: string }) => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted'])
    const taskId = BigInt(extra.task_id)
    await waitFor(() => ln.net.oracles.every(o => o.role.auditOf(taskId)?.failed != null), 30_000)
    for (const o of ln.net.oracles) {
      expect(o.role.auditOf(taskId)).to.include({ due: true })
      expect(o.role.auditOf(taskId)?.failed).to.deep.equal([])
    }
    // the task carried the messages, not a rendering of them
    expect(ln.net.client.task(taskId)?.messages).to.deep.equal(messages)
    // a plain prompt is run as it is: no template
    const text = await post('/v1/completions', { model: modelId(), prompt: 'the man said', max_tokens: 4 })
    expect(text.status, JSON.stringify(text.body)).to.equal(200)
    expect(text.body.cortensor.chat_template).to.equal(null)
    expect(text.body.usage.prompt_tokens).to.equal(ln.net.miners[0].engine.tokenizePrompt('the man said').length)
  })

  it('a sampled task submitted with the SDK (temperature 1, no seed) settles with every miner accepted', async function () {
    const task = await ln.net.client.submit('people call it a long day', { maxTokens: 12, temperature: 1, topP: 0.9 })
    const result = await task.result
    expect(result.miners.map(m => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted'])
    expect(result.completionTokens).to.be.within(1, 12)
  })

  it('a max_tokens the context cannot hold is a 400 naming the limit, before anything is paid', async function () {
    const tasksBefore = ln.net.client.tasks().length
    const res = await post('/v1/chat/completions', { model: modelId(), messages: [{ role: 'user', content: 'hi' }], max_tokens: TINY_CONTEXT_TOKENS })
    expect(res.status).to.equal(400)
    expect(res.body).to.deep.equal({
      error: {
        message: `max_tokens: must be at most ${TINY_CONTEXT_TOKENS - 1} for the model "${modelId()}": its context of ${TINY_CONTEXT_TOKENS} tokens holds the prompt and the output (got ${TINY_CONTEXT_TOKENS})`,
        type: 'invalid_request_error',
        code: 'invalid_value',
        param: 'max_tokens'
      }
    })
    expect(res.ms).to.be.lessThan(REFUSAL_MS)
    const sdk = await ln.net.client.submit('hi', { maxTokens: 4000 }).then(() => undefined, (err: Error) => err)
    expect(sdk?.name).to.equal('InvalidSubmitParamsError')
    expect(sdk?.message).to.equal(`maxTokens: must be less than the model's context of ${TINY_CONTEXT_TOKENS} tokens, which holds the prompt and the output (at most ${TINY_CONTEXT_TOKENS - 1}, got 4000)`)
    expect(ln.net.client.tasks().length).to.equal(tasksBefore)
  })

  it('a prompt longer than the context: the miners decline it, the client gets a 400 naming the limit within a second, the oracles expire it', async function () {
    const prompt = 'the man said that water was cold '.repeat(100)
    const promptTokens = ln.net.miners[0].engine.renderPrompt({ messages: [{ role: 'user', content: prompt }] }).tokens.length
    expect(promptTokens + 16).to.be.greaterThan(TINY_CONTEXT_TOKENS)
    const res = await post('/v1/chat/completions', { model: modelId(), messages: [{ role: 'user', content: prompt }], max_tokens: 16 })
    expect(res.status, JSON.stringify(res.body)).to.equal(400)
    const taskId = /^task (\d+) /.exec(res.body.error.message)?.[1]
    expect(res.body).to.deep.equal({
      error: {
        message: `task ${taskId} does not fit the model's context: the prompt is ${promptTokens} tokens and max_tokens is 16, ${promptTokens + 16} tokens in all; the model's context is ${TINY_CONTEXT_TOKENS} tokens`,
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
        param: 'messages'
      }
    })
    expect(res.ms, 'the refusal came after submitting on chain and the miners\' declines').to.be.lessThan(REFUSAL_MS + 1000)
    // every oracle ended the task on the declines, without waiting for its deadline
    for (const o of ln.net.oracles) {
      await waitFor(() => o.role.taskState(BigInt(taskId as string))?.phase === 'expired')
      expect(o.role.taskState(BigInt(taskId as string))?.expiredReason).to.equal('declined')
    }

    // the SDK: a typed error with the figures
    const t0 = performance.now()
    const task = await ln.net.client.submit(prompt, { maxTokens: 16 })
    const err = await task.result.then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('TaskFailedError')
    expect(err?.code).to.equal('context_length_exceeded')
    expect(err?.promptTokens).to.equal(ln.net.miners[0].engine.tokenizePrompt(prompt).length)
    expect(err?.contextTokens).to.equal(TINY_CONTEXT_TOKENS)
    expect(performance.now() - t0).to.be.lessThan(REFUSAL_MS + 1000)
  })

  it('chat roles named after prototype keys are 400s', async function () {
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await post('/v1/chat/completions', { model: modelId(), messages: [{ role, content: 'hi' }] })
      expect(res.body, role).to.deep.equal({
        error: { message: 'messages[0].role: must be one of system, developer, user, assistant, tool, function', type: 'invalid_request_error', code: 'invalid_value', param: 'messages[0].role' }
      })
      expect(res.status).to.equal(400)
      expect(res.ms).to.be.lessThan(REFUSAL_MS)
    }
  })

  it('session_id must be an id: [1], true and "0x1" are 400s', async function () {
    for (const [value, got] of [[[1], 'an array'], [true, 'boolean'], ['0x1', 'string'], [1.5, '1.5']] as const) {
      const res = await post('/api/v1/completions', { prompt: 'hi', session_id: value })
      expect(res.status, JSON.stringify(value)).to.equal(400)
      expect(res.body).to.deep.equal({
        error: { message: `session_id: must be a decimal integer id, as a string or a number (got ${got})`, type: 'invalid_request_error', code: 'invalid_type', param: 'session_id' }
      })
    }
    const ok = await post('/api/v1/completions', { prompt: 'hi', session_id: Number(ln.net.sessionId), max_tokens: 4 })
    expect(ok.status, JSON.stringify(ok.body)).to.equal(200)
  })

  it('OPTIONS without Origin answers a JSON error; a preflight is answered', async function () {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'OPTIONS' })
    expect(res.status).to.equal(400)
    expect(res.headers.get('content-type')).to.match(/^application\/json/)
    expect(await res.json()).to.deep.equal({
      error: { message: 'an OPTIONS request must be a CORS preflight, with Origin and Access-Control-Request-Method headers', type: 'invalid_request_error', code: 'invalid_preflight', param: null }
    })
    const pre = await fetch(`${base}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(pre.status).to.equal(204)
  })

  it('usage counts the prompt\'s tokens as the miners\' model does, streamed and settled', async function () {
    const content = 'we work on the river near home'
    const expected = ln.net.miners[0].engine.renderPrompt({ messages: [{ role: 'user', content }] }).tokens.length
    const settled = await openai.chat.completions.create({ model: modelId(), messages: [{ role: 'user', content }], max_tokens: 8 })
    expect(settled.usage?.prompt_tokens).to.equal(expected)
    expect(settled.usage?.total_tokens).to.equal(expected + (settled.usage?.completion_tokens ?? 0))
    const stream = await openai.chat.completions.create({ model: modelId(), messages: [{ role: 'user', content }], max_tokens: 8, stream: true, stream_options: { include_usage: true } })
    let usage: any
    for await (const chunk of stream) {
      usage = chunk.usage ?? usage
    }
    expect(usage?.prompt_tokens).to.equal(expected)
    const text = await post('/v1/completions', { model: modelId(), prompt: content, max_tokens: 8 })
    expect(text.body.usage.prompt_tokens).to.equal(ln.net.miners[0].engine.tokenizePrompt(content).length)
  })

  it('a caller that sends its headers or its body too slowly gets a 408 JSON error and is cut off', async function () {
    const slow = async (first: string, drip?: string): Promise<{ ms: number, text: string }> => new Promise((resolve) => {
      const t0 = performance.now()
      let text = ''
      const s = connect(role.port ?? 0, '127.0.0.1', () => { s.write(first) })
      const timer = drip != null ? setInterval(() => { s.write(drip) }, 100) : undefined
      s.on('data', (d) => { text += d.toString() })
      s.on('error', () => {})
      s.on('close', () => { clearInterval(timer); resolve({ ms: performance.now() - t0, text }) })
    })
    const expectTimeout = (r: { ms: number, text: string }): void => {
      expect(r.text).to.match(/^HTTP\/1\.1 408 Request Timeout\r\n/)
      expect(JSON.parse(r.text.split('\r\n\r\n')[1])).to.deep.equal({
        error: { message: 'the request did not arrive in time (headers or body too slow)', type: 'invalid_request_error', code: 'request_timeout', param: null }
      })
      // the limit plus at most one pass of Node's once-a-second check
      expect(r.ms).to.be.lessThan(2500)
    }
    expectTimeout(await slow('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'))
    expectTimeout(await slow(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{"model":`))
    // and the router still serves
    expect((await fetch(`${base}/api/v1/ping`)).status).to.equal(200)
  })

  it('idle sockets cannot pile up: one address over its cap gets a 503 at once, idle ones are closed, then it is served', async function () {
    // the keep-alive connections of the tests before are closed after 500 ms idle: none is counted here
    await new Promise(resolve => setTimeout(resolve, 1000))
    const idle = await Promise.all(Array.from({ length: 20 }, async () => new Promise<{ closed: Promise<string> }>((resolve) => {
      let text = ''
      const s = connect(role.port ?? 0, '127.0.0.1', () => { resolve({ closed }) })
      const closed = new Promise<string>((resolve) => { s.on('close', () => { resolve(text) }) })
      s.on('data', (d) => { text += d.toString() })
      s.on('error', () => {})
    })))
    const t0 = performance.now()
    const refused = await new Promise<string>((resolve) => {
      let text = ''
      const s = connect(role.port ?? 0, '127.0.0.1')
      s.on('data', (d) => { text += d.toString() })
      s.on('error', () => {})
      s.on('close', () => { resolve(text) })
    })
    expect(performance.now() - t0).to.be.lessThan(REFUSAL_MS)
    expect(refused.split('\r\n')[0]).to.equal('HTTP/1.1 503 Service Unavailable')
    expect(JSON.parse(refused.split('\r\n\r\n')[1])).to.deep.equal({
      error: { message: 'this address already holds 20 connections (limit 20); close some and retry', type: 'upstream_error', code: 'too_many_connections', param: null }
    })
    // the idle sockets sent no request: each is answered 408 and closed once its headers are overdue
    for (const text of await Promise.all(idle.map(async i => i.closed))) {
      expect(text).to.match(/^HTTP\/1\.1 408 Request Timeout\r\n/)
    }
    expect((await fetch(`${base}/api/v1/ping`)).status).to.equal(200)
  })

  it('a settled task\'s output still reaches its client when every miner is gone: the oracles that judged it send it', async function () {
    const task = await ln.net.client.submit('the river near the city', { maxTokens: 8 })
    let streamed = ''
    for await (const t of task.tokens) {
      streamed += t.text
    }
    // once the verdict is out, the miners go away (no goodbye): only the oracles hold the output now
    await new Promise<void>((resolve) => {
      const off = task.onUpdate((u) => {
        if (u.status === 'validated') {
          off()
          resolve()
        }
      })
      if (ln.net.client.task(task.taskId)?.status === 'validated') {
        off()
        resolve()
      }
    })
    expect(ln.net.client.task(task.taskId)?.status, 'stopped before its settlement was seen').to.equal('validated')
    await Promise.all([ln.net.stopMiner(0), ln.net.stopMiner(1), ln.net.stopMiner(2)])
    const result = await task.result
    expect(result.text).to.equal(streamed)
    expect(result.miners.map(m => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted'])
    await Promise.all([ln.net.restartMiner(0), ln.net.restartMiner(1), ln.net.restartMiner(2)])
  })
})

async function waitFor (check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error('timed out')
    }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
