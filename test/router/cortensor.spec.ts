import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { MINERS, MODEL_ID, ScriptedTaskClient, startTestRouter, waitUntil } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'

/** Prometheus text exposition format, line by line. */
const COMMENT = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)( -?\d+)?$/

interface SseEvent { event?: string, data: string }

function parseSse (text: string): SseEvent[] {
  return text.split('\n\n').filter(b => b.trim() !== '' && !b.startsWith(':')).map((block) => {
    const ev: SseEvent = { data: '' }
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) {
        ev.event = line.slice(7)
      } else if (line.startsWith('data: ')) {
        ev.data += line.slice(6)
      }
    }
    return ev
  })
}

describe('router: Cortensor routes, dashboard and metrics', function () {
  let r: TestRouter
  let registry: Registry
  let auth: Record<string, string>

  before(async function () {
    registry = new Registry()
    r = await startTestRouter({
      client: new ScriptedTaskClient({ sessionId: 7n }),
      options: { registry, rateLimitPerMinute: 10_000, node: { health: () => ({ peerId: '16Uiu2HAmTest', connectedPeers: 5, dht: { routingTableSize: 4 } }) } }
    })
    auth = { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' }
  })

  after(async function () {
    await r?.close()
  })

  it('POST /api/v1/completions answers with the settled result', async function () {
    const res = await fetch(`${r.base}/api/v1/completions`, {
      method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'Hi', max_tokens: 8, temperature: 0.5, top_p: 0.9, top_k: 40, timeout: 30, client_reference: 'order-17' })
    })
    expect(res.status).to.equal(200)
    const body = await res.json()
    expect(body).to.include({ object: 'cortensor.completion', text: 'Hello, world!', session_id: '7', client_reference: 'order-17', model: MODEL_ID, finish_reason: 'eos' })
    expect(body.output_cid).to.match(/^bafk/)
    expect(body.miners).to.have.length(3)
    expect(body.usage.completion_tokens).to.equal(4)
    const params = r.client.submits.at(-1)?.params
    expect(params).to.include({ maxTokens: 8, temperature: 0.5, topP: 0.9, topK: 40, timeoutMs: 30000, clientReference: 'order-17', sessionId: 7n })
  })

  it('POST /api/v1/completions takes chat messages instead of a prompt, and refuses both at once', async function () {
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]
    const res = await fetch(`${r.base}/api/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ messages, max_tokens: 8 }) })
    expect(res.status).to.equal(200)
    expect(r.client.submits.at(-1)?.input).to.deep.equal({ messages })
    const both = await fetch(`${r.base}/api/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'Hi', messages, max_tokens: 8 }) })
    expect(both.status).to.equal(400)
    expect(await both.json()).to.deep.equal({
      error: { message: 'messages: give prompt or messages, not both', type: 'invalid_request_error', code: 'invalid_value', param: 'messages' }
    })
  })

  it('POST /api/v1/completions/:sessionId streams accepted, updates, tokens, the settled result and [DONE]', async function () {
    const res = await fetch(`${r.base}/api/v1/completions/7`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'Hi', stream: true }) })
    expect(res.status).to.equal(200)
    const events = parseSse(await res.text())
    expect(events[0].event).to.equal('accepted')
    const tokens = events.filter(e => e.event === 'token').map(e => JSON.parse(e.data))
    expect(tokens.map(t => t.text).join('')).to.equal('Hello, world!')
    expect(tokens[0].miner).to.equal(MINERS[0])
    const statuses = events.filter(e => e.event === 'update').map(e => JSON.parse(e.data).status)
    expect(statuses).to.include.members(['queued', 'assigned', 'generating', 'settled'])
    const result = events.find(e => e.event === 'result')
    expect(JSON.parse(result?.data ?? '{}').tx_hash).to.match(/^0x/)
    const kinds = events.map(e => e.event ?? 'data')
    expect(kinds.indexOf('tokens_done')).to.be.greaterThan(kinds.lastIndexOf('token'))
    expect(kinds.indexOf('result')).to.be.greaterThan(kinds.indexOf('tokens_done'))
    expect(events.at(-1)).to.deep.equal({ data: '[DONE]' })
  })

  it('a Cortensor stream whose task fails mid-stream ends with an error event and [DONE]', async function () {
    r.client.next({ failAfterTokens: 2 })
    const res = await fetch(`${r.base}/api/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'Hi', stream: true }) })
    const events = parseSse(await res.text())
    const err = events.find(e => e.event === 'error')
    expect(JSON.parse(err?.data ?? '{}').error.code).to.equal('miner_failed')
    expect(events.at(-1)).to.deep.equal({ data: '[DONE]' })
  })

  it('GET /api/v1/sessions[/:id] shows the key\'s session only', async function () {
    const list = await (await fetch(`${r.base}/api/v1/sessions`, { headers: auth })).json()
    expect(list.data).to.have.length(1)
    expect(list.data[0]).to.include({ sessionId: '7', modelId: MODEL_ID })
    const one = await (await fetch(`${r.base}/api/v1/sessions/7`, { headers: auth })).json()
    expect(one.sessionId).to.equal('7')
    expect((await fetch(`${r.base}/api/v1/sessions/8`, { headers: auth })).status).to.equal(403)
  })

  it('a key bound to a session the client does not know gets a 404 for it', async function () {
    const { key } = await r.keys.create({ sessionId: 555n })
    const res = await fetch(`${r.base}/api/v1/sessions/555`, { headers: { authorization: `Bearer ${key}` } })
    expect(res.status).to.equal(404)
    expect((await res.json()).error.code).to.equal('session_not_found')
  })

  it('GET /api/v1/tasks/:sessionId[/:taskId] lists the session\'s tasks, newest first', async function () {
    const list = await (await fetch(`${r.base}/api/v1/tasks/7`, { headers: auth })).json()
    expect(list.data.length).to.be.greaterThanOrEqual(2)
    expect(list.data[0].submittedAtMs).to.be.at.least(list.data[1].submittedAtMs)
    const id = list.data.find((t: any) => t.status === 'settled').taskId
    const one = await (await fetch(`${r.base}/api/v1/tasks/7/${id}`, { headers: auth })).json()
    expect(one).to.include({ taskId: id, status: 'settled', prompt: 'Hi' })
    expect(one.result.outputCid).to.match(/^bafk/)
  })

  it('public routes: ping, info, miners, status need no key', async function () {
    const ping = await (await fetch(`${r.base}/api/v1/ping`)).json()
    expect(ping.status).to.equal('ok')
    const info = await (await fetch(`${r.base}/api/v1/info`)).json()
    expect(info.default_session_id).to.equal('7')
    expect(info.endpoints).to.include('POST /v1/chat/completions')
    const miners = await (await fetch(`${r.base}/api/v1/miners`)).json()
    expect(miners.data.map((m: any) => m.address)).to.deep.equal(MINERS)
    const status = await (await fetch(`${r.base}/api/v1/status`)).json()
    expect(status.node.connectedPeers).to.equal(5)
    expect(status.pool.models[0].id).to.equal(MODEL_ID)
    expect(status.pool.miners[0]).to.include({ hardwareClass: 'gpu', level: 3 })
    expect(status.tasks.by_state.settled).to.be.greaterThanOrEqual(2)
    const recent = status.tasks.recent[0]
    expect(recent).to.have.property('tx_hash')
    expect(recent).to.not.have.property('prompt')
  })

  it('GET / serves the dashboard page', async function () {
    const res = await fetch(`${r.base}/`)
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/^text\/html/)
    expect(res.headers.get('content-security-policy')).to.include("connect-src 'self'")
    const html = await res.text()
    expect(html).to.include('api/v1/status')
    expect(html).to.not.include('innerHTML')
  })

  it('/metrics has the router figures as valid Prometheus text', async function () {
    await waitUntil('verdicts counted', () => r.client.handles.every(h => h.record.status === 'settled' || h.record.status === 'failed'))
    const res = await fetch(`${r.base}/metrics`)
    expect(res.status).to.equal(200)
    const text = await res.text()
    const lines = text.split('\n').filter(l => l !== '')
    const bad = lines.filter(l => !COMMENT.test(l) && !SAMPLE.test(l))
    expect(bad, bad.slice(0, 3).join('\n')).to.deep.equal([])
    expect(text).to.match(/cortensor_router_tasks\{state="settled"\} [1-9]/)
    expect(text).to.match(/cortensor_router_time_to_first_token_seconds_count [1-9]/)
    expect(text).to.match(/cortensor_router_stream_tokens_per_second_count [1-9]/)
    expect(text).to.match(/cortensor_router_tokens_total [1-9]/)
    expect(text).to.include('cortensor_router_streams_in_flight 0')
    expect(text).to.match(new RegExp(`cortensor_router_miner_verdicts_total\\{miner="${MINERS[1]}",outcome="accepted"\\} [1-9]`))
    expect(text).to.match(/cortensor_router_task_outcomes_total\{outcome="failed"\} 1/)
    expect(text).to.match(/cortensor_router_requests_total\{route="\/api\/v1\/completions",status="200"\} [1-9]/)
    // the metrics live on the registry that was passed in (the node's)
    expect(await registry.metrics()).to.include('cortensor_router_tokens_total')
  })
})
