/**
 * Cortensor's router routes under `/api/v1`: completions on a session
 * (JSON after settlement, or a stream of tokens, task updates and the
 * settled result), sessions, tasks, miners, and the public status, info and
 * ping routes the dashboard reads.
 */
import { abortOnDisconnect } from './context.ts'
import { ApiError, toApiError } from './errors.ts'
import { cortensorFields, taskHeaders } from './openai.ts'
import { CallerGoneError, SseWriter, relayTokens, tokenCount, waitForResult } from './stream.ts'
import { asBody, parseCortensorRequest, parseId, parseIdField } from './validate.ts'
import type { Admission, Principal, RouterContext } from './context.ts'
import type { TaskRequest } from './validate.ts'
import type { TaskHandle, TaskRecord, TaskResult, TaskStatus, TaskUpdate } from '../../../client/types.ts'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const ROUTER_VERSION = '0.1.0'

const RECENT_TASKS = 25

/** The JSON body of a settled Cortensor completion (also the WebSocket's `result` frame). */
export function completionBody (result: TaskResult, model: string, clientReference: string | undefined): Record<string, unknown> {
  return {
    object: 'cortensor.completion',
    model,
    text: result.text,
    finish_reason: result.finishReason,
    client_reference: clientReference ?? null,
    usage: { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens },
    ...cortensorFields(result)
  }
}

export function updateBody (u: TaskUpdate): Record<string, unknown> {
  return { task_id: u.taskId, session_id: u.sessionId, status: u.status, at_ms: u.atMs, detail: u.detail ?? null }
}

/** A task record without the prompt and caller reference: what the public status shows. */
function publicTask (t: TaskRecord): Record<string, unknown> {
  return {
    task_id: t.taskId,
    session_id: t.sessionId,
    status: t.status,
    miners: t.miners,
    submitted_at_ms: t.submittedAtMs,
    output_cid: t.result?.outputCid ?? null,
    tx_hash: t.result?.txHash ?? null,
    verdicts: t.result?.miners ?? [],
    error: t.error ?? null
  }
}

export function registerCortensorRoutes (app: FastifyInstance, ctx: RouterContext): void {
  const bodyLimit = ctx.options.bodyLimitBytes
  const pub = { config: { access: 'public' } }

  app.post('/api/v1/completions', { bodyLimit }, async (req, reply) => {
    return completion(ctx, req, reply, undefined)
  })
  app.post<{ Params: { sessionId: string } }>('/api/v1/completions/:sessionId', { bodyLimit }, async (req, reply) => {
    return completion(ctx, req, reply, parseId(req.params.sessionId, 'sessionId'))
  })

  app.get('/api/v1/sessions', async (req) => {
    const principal = ctx.principal(req)
    return { object: 'list', data: [await sessionInfo(ctx, principal.sessionId)] }
  })
  app.get<{ Params: { id: string } }>('/api/v1/sessions/:id', async (req) => {
    const id = parseId(req.params.id, 'id')
    ctx.checkSession(ctx.principal(req), id)
    return sessionInfo(ctx, id)
  })

  app.get<{ Params: { sessionId: string } }>('/api/v1/tasks/:sessionId', async (req) => {
    const sessionId = parseId(req.params.sessionId, 'sessionId')
    ctx.checkSession(ctx.principal(req), sessionId)
    const data = [...ctx.client.tasks(sessionId)].sort((a, b) => b.submittedAtMs - a.submittedAtMs)
    return { object: 'list', data }
  })
  app.get<{ Params: { sessionId: string, taskId: string } }>('/api/v1/tasks/:sessionId/:taskId', async (req) => {
    const sessionId = parseId(req.params.sessionId, 'sessionId')
    const taskId = parseId(req.params.taskId, 'taskId')
    ctx.checkSession(ctx.principal(req), sessionId)
    const record = ctx.client.task(taskId)
    if (record == null || record.sessionId !== sessionId.toString()) {
      throw new ApiError(404, 'task_not_found', `no task ${taskId} in session ${sessionId}`, { param: 'taskId' })
    }
    return record
  })

  app.get('/api/v1/miners', pub, async () => ({ object: 'list', data: ctx.client.miners() }))

  app.get('/api/v1/ping', pub, async () => ({ status: 'ok', time_ms: Date.now() }))

  app.get('/api/v1/info', pub, async () => ({
    name: 'cortensor-mesh router',
    version: ROUTER_VERSION,
    default_session_id: ctx.client.sessionId.toString(),
    models: namedModels(ctx),
    auth: ctx.options.requireKey ? 'bearer' : 'optional',
    limits: {
      rate_limit_per_minute: ctx.options.rateLimitPerMinute,
      max_streams_per_key: ctx.options.maxStreamsPerKey,
      max_streams: ctx.options.maxStreams,
      body_limit_bytes: ctx.options.bodyLimitBytes,
      max_tokens: ctx.options.maxTokensLimit
    },
    endpoints: [
      'POST /v1/chat/completions', 'POST /v1/completions', 'GET /v1/models', 'POST /v1/embeddings', 'GET /api/v1/usage',
      'POST /api/v1/completions[/:sessionId]', 'GET /api/v1/sessions[/:id]', 'GET /api/v1/tasks/:sessionId[/:taskId]',
      'GET /api/v1/miners', 'GET /api/v1/status', 'GET /api/v1/info', 'GET /api/v1/ping', 'GET /ws', 'GET /metrics', 'GET /'
    ]
  }))

  app.get('/api/v1/status', pub, async () => status(ctx))
}

async function sessionInfo (ctx: RouterContext, id: bigint): Promise<unknown> {
  try {
    return await ctx.client.session(id)
  } catch (err: any) {
    const api = toApiError(err)
    if (api.status === 500 && /not found|unknown|does not exist|no such/i.test(String(err?.message))) {
      throw new ApiError(404, 'session_not_found', `no session ${id}`, { param: 'id' })
    }
    throw api.status === 500 ? new ApiError(502, 'session_unavailable', `cannot read session ${id} now`) : api
  }
}

/** The served models with their names on this node (`cortensor model add`; null when unnamed). */
function namedModels (ctx: RouterContext): Array<Record<string, unknown>> {
  return ctx.client.models().map(m => ({ ...m, name: ctx.names.nameOf(m.id) ?? null }))
}

function status (ctx: RouterContext): Record<string, unknown> {
  let node: unknown = null
  try {
    node = ctx.options.node?.health() ?? null
  } catch {
    node = null
  }
  const byState: Partial<Record<TaskStatus, number>> = {}
  const all: TaskRecord[] = []
  for (const id of ctx.sessions) {
    try {
      all.push(...ctx.client.tasks(id))
    } catch {
      // a session the client cannot list now is left out
    }
  }
  for (const t of all) {
    byState[t.status] = (byState[t.status] ?? 0) + 1
  }
  all.sort((a, b) => b.submittedAtMs - a.submittedAtMs)
  return {
    time_ms: Date.now(),
    uptime_seconds: Math.round((Date.now() - ctx.startedAtMs) / 1000),
    node,
    pool: { models: namedModels(ctx), miners: ctx.client.miners() },
    streams: { in_flight: ctx.slots.inFlight },
    tasks: { by_state: byState, recent: all.slice(0, RECENT_TASKS).map(publicTask) }
  }
}

async function completion (ctx: RouterContext, req: FastifyRequest, reply: FastifyReply, pathSession: bigint | undefined): Promise<unknown> {
  const requestAtMs = Date.now()
  const principal = ctx.principal(req)
  const body = asBody(req.body)
  const bodySession = body.session_id == null ? undefined : parseIdField(body.session_id, 'session_id')
  const sessionId = pathSession ?? bodySession ?? principal.sessionId
  ctx.checkSession(principal, sessionId)
  const treq = parseCortensorRequest(body, ctx.options)
  const admission = ctx.admit(treq)
  try {
    return await admitted(ctx, reply, treq, principal, admission, requestAtMs)
  } finally {
    admission.release()
  }
}

async function admitted (ctx: RouterContext, reply: FastifyReply, treq: TaskRequest, principal: Principal, admission: Admission, requestAtMs: number): Promise<unknown> {
  const model = await ctx.resolveModel(principal, treq.model)
  if (treq.stream) {
    await stream(ctx, reply, treq, principal, model, requestAtMs, admission)
    return reply
  }
  const disconnect = abortOnDisconnect(reply)
  let handle: TaskHandle | undefined
  try {
    handle = await admission.submit(principal, disconnect.signal)
    const result = await waitForResult(handle, treq.params.timeoutMs ?? ctx.options.resultTimeoutMs, disconnect.signal)
    reply.headers(taskHeaders(handle))
    return completionBody(result, model, treq.params.clientReference)
  } catch (err) {
    if (err instanceof CallerGoneError) {
      handle?.cancel()
      return await reply.hijack()
    }
    handle?.cancel()
    throw err
  } finally {
    disconnect.dispose()
  }
}

/**
 * Cortensor stream: `event: accepted`, `event: token` frames, `event:
 * update` frames as the task moves, `event: tokens_done`, then `event:
 * result` with the settled result (or `event: error`), then `data: [DONE]`.
 * Nothing is sent before the first token.
 */
async function stream (ctx: RouterContext, reply: FastifyReply, treq: TaskRequest, principal: Principal, model: string, requestAtMs: number, admission: Admission): Promise<void> {
  const release = ctx.slots.acquire(principal.id, principal.maxStreams)
  const disconnect = abortOnDisconnect(reply)
  const sse = new SseWriter(reply)
  let handle: TaskHandle | undefined
  let firstAtMs: number | undefined
  let lastAtMs: number | undefined
  let count = 0
  let gone = false
  let stopUpdates = (): void => {}
  try {
    handle = await admission.submit(principal, disconnect.signal)
    const h = handle
    const pending: TaskUpdate[] = []
    let sendUpdates = false
    stopUpdates = h.onUpdate((u) => {
      if (sendUpdates) {
        sse.data(updateBody(u), 'update').catch(() => {})
      } else {
        pending.push(u)
      }
    })
    const tokens = relayTokens(h, {
      signal: disconnect.signal,
      firstTokenTimeoutMs: treq.params.timeoutMs ?? ctx.options.firstTokenTimeoutMs,
      idleTimeoutMs: ctx.options.tokenIdleTimeoutMs
    })
    const tokenFrame = (ev: { index: number, text: string, tokenIds: number[], miner: string }): Record<string, unknown> =>
      ({ task_id: h.taskId.toString(), index: ev.index, text: ev.text, token_ids: ev.tokenIds, miner: ev.miner })

    const first = await tokens.next()
    sse.open(taskHeaders(h))
    await sse.data({ task_id: h.taskId.toString(), session_id: h.sessionId.toString(), model, status: ctx.client.task(h.taskId)?.status ?? null }, 'accepted')
    for (const u of pending.splice(0)) {
      await sse.data(updateBody(u), 'update')
    }
    sendUpdates = true
    if (first.done !== true) {
      firstAtMs = lastAtMs = Date.now()
      count += tokenCount(first.value)
      await sse.data(tokenFrame(first.value), 'token')
      for await (const ev of tokens) {
        count += tokenCount(ev)
        lastAtMs = Date.now()
        await sse.data(tokenFrame(ev), 'token')
      }
    }
    await sse.data({ task_id: h.taskId.toString(), completion_tokens: count }, 'tokens_done')
    const result = await waitForResult(h, ctx.options.resultTimeoutMs, disconnect.signal)
    await sse.data(completionBody(result, model, treq.params.clientReference), 'result')
    await sse.data('[DONE]')
  } catch (err) {
    handle?.cancel()
    if (err instanceof CallerGoneError) {
      gone = true
      return
    }
    if (!sse.isOpen) {
      throw err
    }
    await sse.write(`event: error\ndata: ${JSON.stringify(toApiError(err).toBody())}\n\ndata: [DONE]\n\n`).catch(() => {})
  } finally {
    stopUpdates()
    ctx.metrics.stream(requestAtMs, firstAtMs, lastAtMs, count)
    release()
    disconnect.dispose()
    if (sse.isOpen || gone) {
      sse.end()
    }
  }
}
