import { request } from 'node:http'
import { expect } from 'aegir/chai'
import { MODEL_ID, ScriptedTaskClient, startTestRouter, waitUntil } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'

/** A WebSocket client that queues every frame it receives. */
class WsClient {
  readonly ws: WebSocket
  readonly frames: any[] = []
  closed?: { code: number, reason: string }

  constructor (url: string, init?: { headers: Record<string, string> }) {
    // Node's WebSocket (undici) accepts headers as a non-standard init option
    this.ws = new WebSocket(url, init as any)
    this.ws.addEventListener('message', (e) => { this.frames.push(JSON.parse(String(e.data))) })
    this.ws.addEventListener('close', (e) => { this.closed = { code: e.code, reason: e.reason } })
  }

  async opened (): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) {
      return
    }
    await new Promise<void>((resolve, reject) => {
      this.ws.addEventListener('open', () => { resolve() }, { once: true })
      this.ws.addEventListener('error', () => { reject(new Error('websocket failed to open')) }, { once: true })
    })
  }

  send (msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  async next (match: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
    let found: any
    await waitUntil('a websocket frame', () => {
      found = this.frames.find(match)
      return found != null
    }, timeoutMs)
    return found
  }

  close (): void {
    this.ws.close()
  }
}

describe('router: WebSocket /ws', function () {
  let r: TestRouter
  let url: string
  const clients: WsClient[] = []
  const connect = async (withKey: 'header' | 'query' = 'header', key?: string): Promise<WsClient> => {
    const k = key ?? r.key
    const c = withKey === 'header'
      ? new WsClient(url, { headers: { authorization: `Bearer ${k}` } })
      : new WsClient(`${url}?api_key=${encodeURIComponent(k)}`)
    clients.push(c)
    await c.opened()
    return c
  }

  before(async function () {
    r = await startTestRouter({ client: new ScriptedTaskClient({ sessionId: 3n }), options: { rateLimitPerMinute: 10_000, sessionPollIntervalMs: 50, bodyLimitBytes: 16 * 1024 } })
    url = `ws://127.0.0.1:${r.port}/ws`
  })

  after(async function () {
    clients.forEach(c => { c.close() })
    await r?.close()
  })

  it('submits a prompt and receives accepted, tokens, updates and the settled result', async function () {
    const c = await connect()
    expect((await c.next(f => f.type === 'hello')).session_id).to.equal('3')
    c.send({ type: 'submit', id: 'a1', prompt: 'Hi there', max_tokens: 16, client_reference: 'ws-test' })
    const result = await c.next(f => f.type === 'result' && f.id === 'a1')
    expect(result.result).to.include({ text: 'Hello, world!', client_reference: 'ws-test', model: MODEL_ID })
    expect(result.result.tx_hash).to.match(/^0x/)
    const accepted = c.frames.find(f => f.type === 'accepted' && f.id === 'a1')
    expect(accepted.task_id).to.equal(result.task_id)
    const tokens = c.frames.filter(f => f.type === 'token' && f.id === 'a1')
    expect(tokens.map(t => t.text).join('')).to.equal('Hello, world!')
    expect(tokens.map(t => t.index)).to.deep.equal([0, 1, 2, 3])
    const done = c.frames.find(f => f.type === 'tokens_done' && f.id === 'a1')
    expect(done).to.include({ completion_tokens: 4, finish_reason: 'stop' })
    const statuses = c.frames.filter(f => f.type === 'update' && f.id === 'a1').map(f => f.status)
    expect(statuses).to.include.members(['generating', 'settled'])
    expect(c.frames.indexOf(done)).to.be.lessThan(c.frames.indexOf(result))
  })

  it('takes the key from the api_key query parameter (browsers)', async function () {
    const c = await connect('query')
    c.send({ type: 'ping' })
    expect((await c.next(f => f.type === 'pong')).time_ms).to.be.a('number')
  })

  it('refuses the upgrade without a valid key', async function () {
    const c = new WsClient(url)
    const failed = await c.opened().then(() => false, () => true)
    expect(failed).to.equal(true)
    // the refusal is an ordinary HTTP response with the JSON error body
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: r.port,
        path: '/ws',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', authorization: 'Bearer csk_nope' }
      })
      req.on('response', (res) => { res.resume(); resolve(res.statusCode) })
      req.on('upgrade', () => { reject(new Error('upgraded without a valid key')) })
      req.on('error', reject)
      req.end()
    })
    expect(status).to.equal(401)
  })

  it('subscribes to a session and sees updates of tasks submitted elsewhere', async function () {
    const watcher = await connect()
    watcher.send({ type: 'subscribe' })
    expect((await watcher.next(f => f.type === 'subscribed')).session_id).to.equal('3')
    // a task submitted on another socket
    const other = await connect()
    other.send({ type: 'submit', id: 'b1', prompt: 'x' })
    const settled = await watcher.next(f => f.type === 'update' && f.status === 'settled')
    expect(settled.session_id).to.equal('3')
    // a task the router never submitted, noticed by polling the client
    const foreign = r.client.addForeignTask(3n, 'queued')
    await watcher.next(f => f.type === 'update' && f.task_id === foreign.taskId && f.status === 'queued')
    foreign.status = 'settled'
    await watcher.next(f => f.type === 'update' && f.task_id === foreign.taskId && f.status === 'settled')
    // another session is not this key's
    watcher.send({ type: 'subscribe', session_id: '4' })
    expect((await watcher.next(f => f.type === 'error' && f.error.code === 'session_forbidden')).status).to.equal(403)
  })

  it('answers bad messages with error frames and keeps the socket open', async function () {
    const c = await connect()
    c.send('not json')
    await c.next(f => f.type === 'error' && f.error.code === 'invalid_json')
    c.send({ type: 'dance' })
    await c.next(f => f.type === 'error' && f.error.code === 'unknown_type')
    c.send({ type: 'submit', id: 'bad', prompt: 'x', max_tokens: -3 })
    const bad = await c.next(f => f.type === 'error' && f.id === 'bad')
    expect(bad.error).to.include({ code: 'invalid_value', param: 'max_tokens' })
    c.send({ type: 'submit', id: 'nomodel', prompt: 'x', model: 'nope' })
    expect((await c.next(f => f.type === 'error' && f.id === 'nomodel')).status).to.equal(404)
    c.send({ type: 'ping' })
    await c.next(f => f.type === 'pong')
    expect(c.closed).to.equal(undefined)
  })

  it('closes a socket that sends a message over the size limit', async function () {
    const c = await connect()
    c.send({ type: 'submit', prompt: 'x'.repeat(20 * 1024) })
    await waitUntil('close', () => c.closed != null)
    expect(c.closed?.code).to.equal(1009)
  })

  it('a failing task ends with an error frame', async function () {
    const c = await connect()
    r.client.next({ failAfterTokens: 1, failure: { code: 'miner_failed', message: 'gone' } })
    c.send({ type: 'submit', id: 'f1', prompt: 'x' })
    const err = await c.next(f => f.type === 'error' && f.id === 'f1')
    expect(err.error.code).to.equal('miner_failed')
    expect(c.frames.filter(f => f.type === 'token' && f.id === 'f1')).to.have.length(1)
  })

  it('cancel and closing the socket cancel the task\'s stream', async function () {
    const c = await connect()
    r.client.next({ hang: true })
    c.send({ type: 'submit', id: 'c1', prompt: 'x' })
    const accepted = await c.next(f => f.type === 'accepted' && f.id === 'c1')
    c.send({ type: 'cancel', id: 'c1' })
    await c.next(f => f.type === 'error' && f.id === 'c1' && f.error.code === 'cancelled')
    await waitUntil('cancel', () => r.client.cancels.includes(BigInt(accepted.task_id)))

    r.client.next({ hang: true })
    c.send({ type: 'submit', id: 'c2', prompt: 'x' })
    const accepted2 = await c.next(f => f.type === 'accepted' && f.id === 'c2')
    c.close()
    await waitUntil('cancel on close', () => r.client.cancels.includes(BigInt(accepted2.task_id)))
  })

  it('counts WebSocket prompts against the key\'s stream limit', async function () {
    const { key } = await r.keys.create({ sessionId: 3n, maxStreams: 1 })
    const c = await connect('header', key)
    r.client.next({ hang: true })
    c.send({ type: 'submit', id: 'l1', prompt: 'x' })
    await c.next(f => f.type === 'accepted' && f.id === 'l1')
    c.send({ type: 'submit', id: 'l2', prompt: 'x' })
    const err = await c.next(f => f.type === 'error' && f.id === 'l2')
    expect(err).to.include({ status: 429 })
    expect(err.error.code).to.equal('too_many_streams')
    c.close()
  })
})
