/**
 * `GET /ws`: one WebSocket per caller, JSON text frames both ways.
 *
 * The key goes in the `Authorization: Bearer` header or, for browsers (which
 * cannot set headers on a WebSocket), in the `api_key` query parameter.
 *
 * Caller → router:
 *
 * ```
 * { "type": "submit", "id": "a1", "prompt": "…", "max_tokens": 32, … }   Cortensor completion fields
 * { "type": "cancel", "id": "a1" }
 * { "type": "subscribe", "session_id": "7" }     updates of every task of the session (default: the key's)
 * { "type": "unsubscribe", "session_id": "7" }
 * { "type": "ping" }
 * ```
 *
 * Router → caller: hello, accepted {id, task_id, session_id, model}, token {id, task_id, index, text,
 * token_ids, miner}, update {id?, task_id, session_id, status, at_ms, detail}, tokens_done {id, task_id,
 * completion_tokens, finish_reason}, result {id, task_id, result}, error {id?, error: {message, type, code,
 * param}}, subscribed {session_id, tasks}, unsubscribed, pong
 *
 * A submit counts against the key's rate limit and holds one of its stream
 * slots until the settled result (or an error) has been sent. Closing the
 * socket cancels its tasks' streams.
 */
import { completionBody, updateBody } from './cortensor.ts'
import { ApiError, toApiError } from './errors.ts'
import { CallerGoneError, relayTokens, tokenCount, waitForResult } from './stream.ts'
import { parseCortensorRequest, parseIdField } from './validate.ts'
import type { Principal, RouterContext } from './context.ts'
import type { TaskHandle } from '../../../client/types.ts'
import type { WebsocketHandler } from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'

/** The part of a `ws` WebSocket the router uses. */
interface Socket {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string): void
  close(code?: number, reason?: string): void
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void
  on(event: 'close' | 'error', listener: (...args: any[]) => void): void
}

const OPEN = 1
/** a caller that lets this much pile up unread is disconnected */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024
const MAX_ID_LENGTH = 128

interface Running {
  handle?: TaskHandle
  abort: AbortController
}

export function registerWebSocketRoute (app: FastifyInstance, ctx: RouterContext): void {
  const handler: WebsocketHandler = (socket, req) => {
    const conn = new Connection(ctx, socket as Socket, ctx.principal(req))
    conn.start()
  }
  app.get('/ws', { websocket: true, config: { access: 'key', queryKey: true } }, handler)
}

class Connection {
  private readonly ctx: RouterContext
  private readonly socket: Socket
  private readonly principal: Principal
  private readonly running = new Map<string, Running>()
  private readonly subscriptions = new Map<string, () => void>()
  private nextId = 1
  private closed = false

  constructor (ctx: RouterContext, socket: Socket, principal: Principal) {
    this.ctx = ctx
    this.socket = socket
    this.principal = principal
  }

  start (): void {
    this.socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.send({ type: 'error', error: new ApiError(400, 'invalid_message', 'send JSON text frames').toBody().error })
        return
      }
      this.onMessage(String(data))
    })
    this.socket.on('close', () => { this.shutdown() })
    this.socket.on('error', () => { this.shutdown() })
    this.send({ type: 'hello', session_id: this.principal.sessionId.toString(), key_id: this.principal.keyId })
  }

  private send (frame: Record<string, unknown>): void {
    if (this.closed || this.socket.readyState !== OPEN) {
      return
    }
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.socket.close(1008, 'reading too slowly')
      this.shutdown()
      return
    }
    this.socket.send(JSON.stringify(frame))
  }

  private sendError (id: string | undefined, err: unknown): void {
    const api = toApiError(err)
    this.send({ type: 'error', ...(id != null ? { id } : {}), status: api.status, error: api.toBody().error })
  }

  private onMessage (text: string): void {
    let msg: any
    try {
      msg = JSON.parse(text)
    } catch {
      this.sendError(undefined, new ApiError(400, 'invalid_json', 'the message is not valid JSON'))
      return
    }
    if (msg == null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.sendError(undefined, new ApiError(400, 'invalid_message', 'a message is a JSON object with a "type"'))
      return
    }
    try {
      switch (msg.type) {
        case 'submit':
          this.submit(msg)
          return
        case 'cancel':
          this.cancel(msg)
          return
        case 'subscribe':
          this.subscribe(msg)
          return
        case 'unsubscribe':
          this.unsubscribe(msg)
          return
        case 'ping':
          this.send({ type: 'pong', time_ms: Date.now() })
          return
        default:
          throw new ApiError(400, 'unknown_type', `unknown message type ${JSON.stringify(msg.type) ?? 'none'} (submit, cancel, subscribe, unsubscribe, ping)`, { param: 'type' })
      }
    } catch (err) {
      this.sendError(typeof msg.id === 'string' ? msg.id : undefined, err)
    }
  }

  private callerId (msg: any): string {
    if (msg.id == null) {
      return `ws-${this.nextId++}`
    }
    if ((typeof msg.id !== 'string' && typeof msg.id !== 'number') || String(msg.id).length > MAX_ID_LENGTH || String(msg.id) === '') {
      throw new ApiError(400, 'invalid_value', `id: must be a string of 1 to ${MAX_ID_LENGTH} characters`, { param: 'id' })
    }
    return String(msg.id)
  }

  private submit (msg: any): void {
    const id = this.callerId(msg)
    if (this.running.has(id)) {
      throw new ApiError(400, 'duplicate_id', `a task with id ${id} is still running on this socket`, { param: 'id' })
    }
    const sessionId = msg.session_id == null ? this.principal.sessionId : parseIdField(msg.session_id, 'session_id')
    this.ctx.checkSession(this.principal, sessionId)
    const treq = parseCortensorRequest(msg, this.ctx.options)
    this.ctx.take(this.principal)
    const release = this.ctx.slots.acquire(this.principal.id, this.principal.maxStreams)
    const run: Running = { abort: new AbortController() }
    this.running.set(id, run)
    this.run(id, run, treq).catch((err) => {
      if (!(err instanceof CallerGoneError)) {
        this.sendError(id, err)
      }
    }).finally(() => {
      release()
      this.running.delete(id)
    })
  }

  private async run (id: string, run: Running, treq: ReturnType<typeof parseCortensorRequest>): Promise<void> {
    const requestAtMs = Date.now()
    const admission = this.ctx.admit(treq)
    let model: string
    let handle: TaskHandle
    try {
      model = await this.ctx.resolveModel(this.principal, treq.model)
      handle = await admission.submit(this.principal, run.abort.signal)
    } finally {
      admission.release()
    }
    run.handle = handle
    const taskId = handle.taskId.toString()
    this.send({ type: 'accepted', id, task_id: taskId, session_id: handle.sessionId.toString(), model })
    const stopUpdates = handle.onUpdate((u) => { this.send({ type: 'update', id, ...updateBody(u) }) })
    let firstAtMs: number | undefined
    let lastAtMs: number | undefined
    let count = 0
    try {
      const tokens = relayTokens(handle, {
        signal: run.abort.signal,
        firstTokenTimeoutMs: treq.params.timeoutMs ?? this.ctx.options.firstTokenTimeoutMs,
        idleTimeoutMs: this.ctx.options.tokenIdleTimeoutMs
      })
      for await (const ev of tokens) {
        const now = Date.now()
        firstAtMs ??= now
        lastAtMs = now
        count += tokenCount(ev)
        this.send({ type: 'token', id, task_id: taskId, index: ev.index, text: ev.text, token_ids: ev.tokenIds, miner: ev.miner })
      }
      this.send({ type: 'tokens_done', id, task_id: taskId, completion_tokens: count, finish_reason: count >= treq.maxTokens ? 'length' : 'stop' })
      const result = await waitForResult(handle, this.ctx.options.resultTimeoutMs, run.abort.signal)
      this.send({ type: 'result', id, task_id: taskId, result: completionBody(result, model, treq.params.clientReference) })
    } catch (err) {
      handle.cancel()
      throw err
    } finally {
      stopUpdates()
      this.ctx.metrics.stream(requestAtMs, firstAtMs, lastAtMs, count)
    }
  }

  private cancel (msg: any): void {
    const id = this.callerId(msg)
    const run = this.running.get(id)
    if (run == null) {
      throw new ApiError(404, 'not_running', `no running task with id ${id} on this socket`, { param: 'id' })
    }
    run.abort.abort()
    run.handle?.cancel()
    this.send({ type: 'error', id, status: 499, error: new ApiError(499, 'cancelled', 'cancelled by the caller', { type: 'invalid_request_error' }).toBody().error })
  }

  private subscribe (msg: any): void {
    const sessionId = msg.session_id == null ? this.principal.sessionId : parseIdField(msg.session_id, 'session_id')
    this.ctx.checkSession(this.principal, sessionId)
    const key = sessionId.toString()
    if (!this.subscriptions.has(key)) {
      this.subscriptions.set(key, this.ctx.hub.subscribe(key, (u) => { this.send({ type: 'update', ...updateBody(u) }) }))
    }
    let tasks: unknown[] = []
    try {
      tasks = this.ctx.client.tasks(sessionId).map(t => ({ task_id: t.taskId, status: t.status, submitted_at_ms: t.submittedAtMs }))
    } catch {
      tasks = []
    }
    this.send({ type: 'subscribed', session_id: key, tasks })
  }

  private unsubscribe (msg: any): void {
    const key = (msg.session_id == null ? this.principal.sessionId : parseIdField(msg.session_id, 'session_id')).toString()
    this.subscriptions.get(key)?.()
    this.subscriptions.delete(key)
    this.send({ type: 'unsubscribed', session_id: key })
  }

  private shutdown (): void {
    if (this.closed) {
      return
    }
    this.closed = true
    for (const run of this.running.values()) {
      run.abort.abort()
      run.handle?.cancel()
    }
    for (const off of this.subscriptions.values()) {
      off()
    }
    this.subscriptions.clear()
  }
}
