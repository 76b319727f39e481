/**
 * The page's one link to a router (node/router): `POST
 * <router>/v1/chat/completions` with `stream: true` and the caller's API key,
 * read as OpenAI server-sent events (`choices[0].delta.content` per token,
 * `data: [DONE]` at the end). The router names the task in the
 * `x-cortensor-task-id` / `x-cortensor-session-id` headers; its OpenAI stream
 * ends with the tokens and does not wait for settlement, so the settled facts
 * (output CID, miners and the oracles' verdicts, settlement transaction) are
 * then read from `GET <router>/api/v1/tasks/<session>/<task>` until the task
 * settles. A `cortensor` object on a chunk or on a non-streamed answer (the
 * router's snake_case fields) is taken too. Browser-safe (fetch only).
 */
import { sleep } from '../sleep.ts'

/** What the router tells about the task behind a completion (all optional: it arrives piecemeal). */
export interface CortensorInfo {
  taskId?: string
  sessionId?: string
  /** latest task status (submitted, queued, assigned, generating, committed, validated, settled, expired, failed) */
  status?: string
  outputCid?: string
  miners?: Array<{ address: string, outcome?: string }>
  /** settlement transaction */
  txHash?: string
  submitTxHash?: string
  error?: string
  [key: string]: unknown
}

export interface ChatRequest {
  /** router base URL, e.g. http://127.0.0.1:5010 */
  router: string
  prompt: string
  /** sent as `Authorization: Bearer <key>` (the router's `csk_…` keys) */
  apiKey?: string
  model?: string
  maxTokens?: number
  temperature?: number
  signal?: AbortSignal
  /** after the tokens, follow the task until it settles (default true) */
  follow?: boolean
  /** give up following after this long (default 180 s); the result then has `settled: false` */
  followTimeoutMs?: number
  /** default 1000 ms */
  followIntervalMs?: number
}

export interface ChatCallbacks {
  onToken?(text: string, index: number): void
  onInfo?(info: CortensorInfo): void
}

export interface ChatResult {
  id?: string
  model?: string
  text: string
  finishReason?: string
  usage?: { prompt_tokens?: number, completion_tokens?: number, total_tokens?: number }
  /** content deltas received */
  chunks: number
  firstTokenMs?: number
  /** request → last token */
  streamMs: number
  /** request → settled (or → given up following) */
  totalMs: number
  /** the task settled on chain (its result is in `cortensor`) */
  settled: boolean
  cortensor: CortensorInfo
}

export class RouterError extends Error {
  static name = 'RouterError'
  readonly status: number
  readonly code?: string

  constructor (message: string, status: number, code?: string) {
    super(message)
    this.name = 'RouterError'
    this.status = status
    if (code != null) {
      this.code = code
    }
  }
}

/** Task states after which nothing changes. */
export const FINAL_STATUSES = ['settled', 'expired', 'failed']

export interface SseEvent {
  event: string
  data: string
  id?: string
}

/** Incremental `text/event-stream` parser (WHATWG rules: CR, LF or CRLF line ends; `data:` lines joined with \n). */
export class SseParser {
  private buffer = ''
  private data: string[] = []
  private event = ''
  private id?: string

  push (text: string): SseEvent[] {
    this.buffer += text
    const out: SseEvent[] = []
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer)
      if (m == null) {
        break
      }
      // a lone CR at the end of the buffer may be the first half of CRLF: wait for more
      if (m[0] === '\r' && m.index === this.buffer.length - 1) {
        break
      }
      const line = this.buffer.slice(0, m.index)
      this.buffer = this.buffer.slice(m.index + m[0].length)
      const ev = this.line(line)
      if (ev != null) {
        out.push(ev)
      }
    }
    return out
  }

  /** End of stream: a final event without its blank line still counts. */
  end (): SseEvent[] {
    const out = this.buffer.length > 0 ? this.push('\n') : []
    const ev = this.line('')
    return ev != null ? [...out, ev] : out
  }

  private line (line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = ''
        return undefined
      }
      const ev: SseEvent = { event: this.event === '' ? 'message' : this.event, data: this.data.join('\n'), ...(this.id != null ? { id: this.id } : {}) }
      this.data = []
      this.event = ''
      return ev
    }
    if (line.startsWith(':')) {
      return undefined
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) {
      value = value.slice(1)
    }
    if (field === 'data') {
      this.data.push(value)
    } else if (field === 'event') {
      this.event = value
    } else if (field === 'id') {
      this.id = value
    }
    return undefined
  }
}

async function errorFrom (res: Response): Promise<RouterError> {
  let message = `router answered ${res.status} ${res.statusText}`
  let code: string | undefined
  try {
    const body = await res.json() as { error?: { message?: string, code?: string } }
    if (body?.error?.message != null) {
      message = `${message}: ${body.error.message}`
      code = body.error.code
    }
  } catch {
    // not a JSON error body: the status line says enough
  }
  return new RouterError(message, res.status, code)
}

function base (router: string): string {
  return router.replace(/\/+$/, '')
}

function headersFor (req: Pick<ChatRequest, 'apiKey'>, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, ...(req.apiKey != null && req.apiKey !== '' ? { authorization: `Bearer ${req.apiKey}` } : {}) }
}

/** The router's snake_case fields (`task_id`, `output_cid`, `tx_hash`, …) as CortensorInfo's camelCase. */
export function normalizeInfo (obj: Record<string, unknown>): CortensorInfo {
  const out: CortensorInfo = {}
  for (const [k, v] of Object.entries(obj)) {
    if (v != null) {
      out[k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = v
    }
  }
  return out
}

/** A task record of `GET /api/v1/tasks/:sessionId/:taskId` (the SDK's TaskRecord) as CortensorInfo. */
export function infoFromRecord (record: any): CortensorInfo {
  const result = record?.result
  const info: CortensorInfo = {
    taskId: String(record.taskId),
    sessionId: String(record.sessionId),
    status: String(record.status),
    miners: result?.miners ?? (record.miners ?? []).map((address: string) => ({ address }))
  }
  if (result != null) {
    Object.assign(info, { outputCid: result.outputCid, txHash: result.txHash, submitTxHash: result.submitTxHash })
  }
  if (record.error != null) {
    info.error = String(record.error)
  }
  return info
}

export interface FollowRequest extends Pick<ChatRequest, 'router' | 'apiKey' | 'signal' | 'followTimeoutMs' | 'followIntervalMs'> {
  sessionId: string
  taskId: string
}

/** Poll the task until it reaches a final state (or the deadline); every change goes to `onInfo`. */
export async function followTask (req: FollowRequest, onInfo?: (info: CortensorInfo) => void): Promise<CortensorInfo> {
  const deadline = Date.now() + (req.followTimeoutMs ?? 180_000)
  let last = ''
  let info: CortensorInfo = { taskId: req.taskId, sessionId: req.sessionId }
  for (;;) {
    const res = await fetch(`${base(req.router)}/api/v1/tasks/${encodeURIComponent(req.sessionId)}/${encodeURIComponent(req.taskId)}`, {
      headers: headersFor(req, { accept: 'application/json' }),
      ...(req.signal != null ? { signal: req.signal } : {})
    })
    if (!res.ok) {
      throw await errorFrom(res)
    }
    info = infoFromRecord(await res.json())
    const key = JSON.stringify(info)
    if (key !== last) {
      last = key
      onInfo?.(info)
    }
    if (FINAL_STATUSES.includes(info.status ?? '') || Date.now() >= deadline) {
      return info
    }
    await sleep(req.followIntervalMs ?? 1000, req.signal)
  }
}

function contentOf (choice: any): string | undefined {
  const content = choice?.delta?.content ?? choice?.message?.content ?? choice?.text
  return typeof content === 'string' && content.length > 0 ? content : undefined
}

function streamError (obj: any, fallback: string): RouterError {
  const err = obj?.error ?? obj
  return new RouterError(`router stream error: ${err?.message ?? fallback}`, 200, err?.code)
}

/** Folds chunks and events into a ChatResult. */
class ChatAccumulator {
  readonly result: ChatResult = { text: '', chunks: 0, streamMs: 0, totalMs: 0, settled: false, cortensor: {} }
  private readonly started: number
  private readonly cb: ChatCallbacks

  constructor (started: number, cb: ChatCallbacks) {
    this.started = started
    this.cb = cb
  }

  info (extra: unknown): void {
    if (extra != null && typeof extra === 'object') {
      Object.assign(this.result.cortensor, normalizeInfo(extra as Record<string, unknown>))
      this.cb.onInfo?.({ ...this.result.cortensor })
    }
  }

  chunk (obj: any): void {
    if (obj?.error != null) {
      throw streamError(obj, JSON.stringify(obj.error))
    }
    const r = this.result
    r.id ??= obj.id
    r.model ??= obj.model
    const choice = obj.choices?.[0]
    const content = contentOf(choice)
    if (content != null) {
      r.firstTokenMs ??= performance.now() - this.started
      r.text += content
      this.cb.onToken?.(content, r.chunks)
      r.chunks++
    }
    if (choice?.finish_reason != null) {
      r.finishReason = choice.finish_reason
    }
    if (obj.usage != null) {
      r.usage = obj.usage
    }
    this.info(obj.cortensor)
  }

  /** Handle parsed SSE events; true once `[DONE]` arrived. */
  events (events: SseEvent[]): boolean {
    for (const ev of events) {
      if (ev.data === '[DONE]') {
        return true
      }
      const obj = JSON.parse(ev.data)
      if (ev.event === 'error') {
        throw streamError(obj, ev.data)
      }
      this.chunk(obj)
    }
    return false
  }
}

async function readStream (res: Response, acc: ChatAccumulator): Promise<void> {
  if (res.body == null) {
    throw new RouterError('router sent an empty stream', res.status)
  }
  const parser = new SseParser()
  const decoder = new TextDecoder()
  const reader = res.body.getReader()
  let finished = false
  try {
    while (!finished) {
      const { value, done } = await reader.read()
      const events = done ? [...parser.push(decoder.decode()), ...parser.end()] : parser.push(decoder.decode(value, { stream: true }))
      finished = acc.events(events) || done
    }
  } finally {
    await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}

/** Send one prompt, stream the answer, then follow the task to its settlement. */
export async function streamChatCompletion (req: ChatRequest, cb: ChatCallbacks = {}): Promise<ChatResult> {
  const started = performance.now()
  const body: Record<string, unknown> = {
    messages: [{ role: 'user', content: req.prompt }],
    stream: true
  }
  if (req.model != null) {
    body.model = req.model
  }
  if (req.maxTokens != null) {
    body.max_tokens = req.maxTokens
  }
  if (req.temperature != null) {
    body.temperature = req.temperature
  }
  const res = await fetch(`${base(req.router)}/v1/chat/completions`, {
    method: 'POST',
    headers: headersFor(req, { 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify(body),
    ...(req.signal != null ? { signal: req.signal } : {})
  })
  if (!res.ok) {
    throw await errorFrom(res)
  }
  const acc = new ChatAccumulator(started, cb)
  const taskId = res.headers.get('x-cortensor-task-id')
  const sessionId = res.headers.get('x-cortensor-session-id')
  if (taskId != null && sessionId != null) {
    acc.info({ taskId, sessionId, status: 'generating' })
  }
  if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    await readStream(res, acc)
  } else {
    // a non-streamed answer waits for settlement and carries the result under `cortensor`
    acc.chunk(await res.json())
  }
  const r = acc.result
  r.streamMs = performance.now() - started
  const info = r.cortensor
  if (req.follow !== false && info.taskId != null && info.sessionId != null && !FINAL_STATUSES.includes(info.status ?? '') && info.txHash == null) {
    acc.info(await followTask({ ...req, taskId: String(info.taskId), sessionId: String(info.sessionId) }, (i) => { acc.info(i) }))
  }
  r.settled = r.cortensor.status === 'settled' || r.cortensor.txHash != null
  r.totalMs = performance.now() - started
  return r
}
