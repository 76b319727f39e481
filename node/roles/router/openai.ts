/**
 * The OpenAI-compatible API: `POST /v1/chat/completions`, `POST
 * /v1/completions` (streamed as OpenAI streams them, or one JSON response
 * after settlement) and `GET /v1/models[/:model]`.
 *
 * Streams send nothing until the first token arrives (the SDK may switch
 * miners before that), so a task that fails before its first token gets an
 * ordinary HTTP error. After the tokens come a chunk with `finish_reason`, a
 * usage chunk when `stream_options.include_usage` is set, and `data: [DONE]`;
 * the stream does not wait for settlement (watch the task on
 * `/api/v1/tasks/...` or the WebSocket). A failure after the first token ends
 * the stream with `data: {"error": {...}}` and `data: [DONE]`.
 */
import { abortOnDisconnect } from './context.ts'
import { ApiError, toApiError } from './errors.ts'
import { CallerGoneError, SseWriter, relayTokens, tokenCount, waitForResult } from './stream.ts'
import { estimatePromptTokens } from './usage.ts'
import { chatTask, completionTask, routerBodies } from './validate.ts'
import type { Admission, Principal, RouterContext } from './context.ts'
import type { Body, TaskRequest } from './validate.ts'
import type { TaskHandle, TaskResult, TokenEvent } from '../../../client/types.ts'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

type Kind = 'chat' | 'text'

/** Cortensor's additions to a settled response, under `cortensor`. */
export function cortensorFields (result: TaskResult): Record<string, unknown> {
  return {
    task_id: result.taskId,
    session_id: result.sessionId,
    output_cid: result.outputCid,
    chat_template: result.chatTemplate ?? null,
    miners: result.miners.map(m => ({ address: m.address, outcome: m.outcome })),
    tx_hash: result.txHash,
    submit_tx_hash: result.submitTxHash,
    submitted_at_ms: result.submittedAtMs,
    first_token_at_ms: result.firstTokenAtMs ?? null,
    settled_at_ms: result.settledAtMs
  }
}

export function finishReason (r: TaskResult['finishReason']): 'stop' | 'length' {
  return r === 'length' ? 'length' : 'stop'
}

export { estimatePromptTokens } from './usage.ts'

export function taskHeaders (handle: TaskHandle): Record<string, string> {
  return { 'x-cortensor-task-id': handle.taskId.toString(), 'x-cortensor-session-id': handle.sessionId.toString() }
}

export function registerOpenAiRoutes (app: FastifyInstance, ctx: RouterContext): void {
  const bodyLimit = ctx.options.bodyLimitBytes

  app.get('/v1/models', async () => {
    await ctx.names.refresh()
    return {
      object: 'list',
      data: ctx.client.models().map(m => modelObject(m.id, m.miners, m.contextTokens, ctx.names.nameOf(m.id)))
    }
  })

  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req) => {
    await ctx.names.refresh()
    const id = ctx.names.idOf(req.params.model) ?? req.params.model
    const m = ctx.client.models().find(x => x.id === id)
    if (m == null) {
      throw new ApiError(404, 'model_not_found', `the model "${req.params.model}" is not served by any miner`, { param: 'model' })
    }
    return modelObject(m.id, m.miners, m.contextTokens, ctx.names.nameOf(m.id))
  })

  const bodies = routerBodies(ctx.options)
  app.post('/v1/chat/completions', { bodyLimit, schema: { body: bodies.chat.schema } }, async (req, reply) => {
    return completion(ctx, req, reply, 'chat', chatTask(req.body as Body, ctx.options))
  })

  app.post('/v1/completions', { bodyLimit, schema: { body: bodies.text.schema } }, async (req, reply) => {
    return completion(ctx, req, reply, 'text', completionTask(req.body as Body, ctx.options))
  })
}

function modelObject (id: string, miners: number, contextTokens?: number, name?: string): Record<string, unknown> {
  return { id, object: 'model', created: 0, owned_by: 'cortensor', cortensor: { name: name ?? null, miners, context_tokens: contextTokens ?? null } }
}

async function completion (ctx: RouterContext, req: FastifyRequest, reply: FastifyReply, kind: Kind, treq: TaskRequest): Promise<unknown> {
  const admission = ctx.admit(treq)
  try {
    return await admitted(ctx, req, reply, kind, treq, admission)
  } finally {
    admission.release()
  }
}

async function admitted (ctx: RouterContext, req: FastifyRequest, reply: FastifyReply, kind: Kind, treq: TaskRequest, admission: Admission): Promise<unknown> {
  const requestAtMs = Date.now()
  const principal = ctx.principal(req)
  const model = await ctx.resolveModel(principal, treq.model)
  if (treq.stream) {
    await stream(ctx, reply, kind, treq, principal, model, requestAtMs, admission)
    return reply
  }
  const disconnect = abortOnDisconnect(reply)
  let handle: TaskHandle | undefined
  try {
    handle = await admission.submit(principal, disconnect.signal)
    const timeoutMs = treq.params.timeoutMs ?? ctx.options.resultTimeoutMs
    const result = await waitForResult(handle, timeoutMs, disconnect.signal)
    if (result.firstTokenAtMs != null) {
      ctx.metrics.timeToFirstToken.observe(Math.max(0, result.firstTokenAtMs - requestAtMs) / 1000)
    }
    reply.headers(taskHeaders(handle))
    const created = Math.floor(requestAtMs / 1000)
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${result.sessionId}-${result.taskId}`
    const promptTokens = result.promptTokens > 0 ? result.promptTokens : estimatePromptTokens(treq.prompt)
    const usage = { prompt_tokens: promptTokens, completion_tokens: result.completionTokens, total_tokens: promptTokens + result.completionTokens }
    const choice = kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason: finishReason(result.finishReason) }
      : { index: 0, text: result.text, logprobs: null, finish_reason: finishReason(result.finishReason) }
    return {
      id,
      object: kind === 'chat' ? 'chat.completion' : 'text_completion',
      created,
      model,
      system_fingerprint: null,
      choices: [choice],
      usage,
      cortensor: cortensorFields(result)
    }
  } catch (err) {
    if (err instanceof CallerGoneError) {
      handle?.cancel()
      return await reply.hijack()
    }
    if (err instanceof ApiError && err.status === 504) {
      handle?.cancel()
    }
    throw err
  } finally {
    disconnect.dispose()
  }
}

async function stream (ctx: RouterContext, reply: FastifyReply, kind: Kind, treq: TaskRequest, principal: Principal, model: string, requestAtMs: number, admission: Admission): Promise<void> {
  const release = ctx.slots.acquire(principal.id, principal.maxStreams)
  const disconnect = abortOnDisconnect(reply)
  const sse = new SseWriter(reply)
  let handle: TaskHandle | undefined
  let firstAtMs: number | undefined
  let lastAtMs: number | undefined
  let count = 0
  let gone = false
  try {
    handle = await admission.submit(principal, disconnect.signal)
    const tokens = relayTokens(handle, {
      signal: disconnect.signal,
      firstTokenTimeoutMs: treq.params.timeoutMs ?? ctx.options.firstTokenTimeoutMs,
      idleTimeoutMs: ctx.options.tokenIdleTimeoutMs
    })
    const created = Math.floor(requestAtMs / 1000)
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${handle.sessionId}-${handle.taskId}`
    const usageNull = treq.includeUsage ? { usage: null } : {}
    const chunk = (choice: Record<string, unknown>): Record<string, unknown> => kind === 'chat'
      ? { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [{ index: 0, logprobs: null, ...choice }], ...usageNull }
      : { id, object: 'text_completion', created, model, choices: [{ index: 0, logprobs: null, ...choice }], ...usageNull }
    const piece = (ev: TokenEvent): Record<string, unknown> => kind === 'chat'
      ? chunk({ delta: { content: ev.text }, finish_reason: null })
      : chunk({ text: ev.text, finish_reason: null })

    // nothing goes out before the first token: until then a failure is an ordinary HTTP error
    const first = await tokens.next()
    sse.open(taskHeaders(handle))
    let out = ''
    if (kind === 'chat') {
      out += frame(chunk({ delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null }))
    }
    if (first.done !== true) {
      firstAtMs = lastAtMs = Date.now()
      count += tokenCount(first.value)
      out += frame(piece(first.value))
    }
    await sse.write(out)

    try {
      if (first.done !== true) {
        for await (const ev of tokens) {
          count += tokenCount(ev)
          lastAtMs = Date.now()
          await sse.data(piece(ev))
        }
      }
    } catch (err) {
      if (err instanceof CallerGoneError) {
        throw err
      }
      // the task failed after its first token: an error event, then [DONE]
      handle.cancel()
      await sse.data(toApiError(err).toBody())
      await sse.data('[DONE]')
      return
    }

    const reason = count >= treq.maxTokens ? 'length' : 'stop'
    let tail = kind === 'chat'
      ? frame(chunk({ delta: {}, finish_reason: reason }))
      : frame(chunk({ text: '', finish_reason: reason }))
    if (treq.includeUsage) {
      const usage = streamUsage(handle, treq, count)
      tail += frame(kind === 'chat'
        ? { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [], usage }
        : { id, object: 'text_completion', created, model, choices: [], usage })
    }
    tail += 'data: [DONE]\n\n'
    await sse.write(tail)
  } catch (err) {
    handle?.cancel()
    if (err instanceof CallerGoneError) {
      gone = true
      return
    }
    if (!sse.isOpen) {
      // before the first token: a plain HTTP error from the error handler
      throw err
    }
    await sse.write(frame(toApiError(err).toBody()) + 'data: [DONE]\n\n').catch(() => {})
  } finally {
    ctx.metrics.stream(requestAtMs, firstAtMs, lastAtMs, count)
    release()
    disconnect.dispose()
    if (sse.isOpen || gone) {
      sse.end()
    }
  }
}

/** Usage of a stream: the miner's count of the prompt's tokens, sent with the end of its token stream. */
function streamUsage (handle: TaskHandle, treq: TaskRequest, completionTokens: number): Record<string, number> {
  const promptTokens = handle.promptTokens ?? estimatePromptTokens(treq.prompt)
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
}

function frame (payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`
}
