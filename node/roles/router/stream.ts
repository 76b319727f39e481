/**
 * Relaying a task to a caller: tokens as they arrive (never waiting forever:
 * each wait races the task's failure, a timeout and the caller going away),
 * the settled result, and an SSE writer that respects backpressure.
 */
import { ApiError, toApiError } from './errors.ts'
import type { TaskHandle, TaskResult, TokenEvent } from '../../../client/types.ts'
import type { FastifyReply } from 'fastify'

export class CallerGoneError extends Error {
  static name = 'CallerGoneError'

  constructor () {
    super('the caller went away')
    this.name = 'CallerGoneError'
  }
}

export interface RelayOptions {
  /** the caller went away */
  signal: AbortSignal
  firstTokenTimeoutMs: number
  idleTimeoutMs: number
}

/** Settles with the first of: `work`, the task's failure, a timeout, the caller going away. */
async function race<T> (work: Promise<T>, failure: Promise<never>, timeoutMs: number, signal: AbortSignal, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      work,
      failure,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(onTimeout()) }, timeoutMs)
        if (signal.aborted) {
          reject(new CallerGoneError())
          return
        }
        onAbort = () => { reject(new CallerGoneError()) }
        signal.addEventListener('abort', onAbort, { once: true })
      })
    ])
  } finally {
    clearTimeout(timer)
    if (onAbort != null) {
      signal.removeEventListener('abort', onAbort)
    }
  }
}

/** A promise that rejects when the task fails and never settles when it succeeds (its rejection is always handled). */
export function failureOf (handle: TaskHandle): Promise<never> {
  const failure = new Promise<never>((_resolve, reject) => { handle.result.catch(reject) })
  failure.catch(() => {})
  return failure
}

/**
 * The handle's tokens, each wait bounded. Throws an ApiError when the task
 * fails or times out, CallerGoneError when the caller went away; stops the
 * handle's iterator when the caller stops early.
 */
export async function * relayTokens (handle: TaskHandle, opts: RelayOptions): AsyncGenerator<TokenEvent, void, undefined> {
  const it = handle.tokens[Symbol.asyncIterator]()
  const failure = failureOf(handle)
  let first = true
  let finished = false
  try {
    while (true) {
      const next = it.next()
      next.catch(() => {})
      const waitingForFirst = first
      const timeoutMs = waitingForFirst ? opts.firstTokenTimeoutMs : opts.idleTimeoutMs
      let r: IteratorResult<TokenEvent>
      try {
        r = await race(next, failure, timeoutMs, opts.signal, () => waitingForFirst
          ? new ApiError(504, 'first_token_timeout', `no token arrived within ${timeoutMs} ms`, { headers: { 'x-should-retry': 'false' } })
          : new ApiError(504, 'token_timeout', `the stream stalled: no token for ${timeoutMs} ms`, { headers: { 'x-should-retry': 'false' } }))
      } catch (err) {
        throw err instanceof CallerGoneError ? err : toApiError(err)
      }
      if (r.done === true) {
        finished = true
        return
      }
      first = false
      yield r.value
    }
  } finally {
    if (!finished) {
      Promise.resolve(it.return?.()).catch(() => {})
    }
  }
}

/** The settled result, bounded by a timeout and the caller going away. */
export async function waitForResult (handle: TaskHandle, timeoutMs: number, signal: AbortSignal): Promise<TaskResult> {
  try {
    return await race(handle.result, new Promise<never>(() => {}), timeoutMs, signal,
      () => new ApiError(504, 'result_timeout', `the task did not settle within ${timeoutMs} ms`, { headers: { 'x-should-retry': 'false' } }))
  } catch (err) {
    throw err instanceof CallerGoneError ? err : toApiError(err)
  }
}

/** Number of model tokens in a token event (an event may carry several ids, or none for a text-only frame). */
export function tokenCount (ev: TokenEvent): number {
  return Array.isArray(ev.tokenIds) && ev.tokenIds.length > 0 ? ev.tokenIds.length : 1
}

const KEEPALIVE_MS = 15_000

/**
 * Server-sent events on a hijacked fastify reply. Headers (CORS and rate
 * limit headers set earlier in the request included) go out with the first
 * write; writes wait for `drain` when the caller reads slowly.
 */
export class SseWriter {
  private readonly reply: FastifyReply
  private opened = false
  private lastWriteAt = 0
  private keepalive?: ReturnType<typeof setInterval>

  constructor (reply: FastifyReply) {
    this.reply = reply
  }

  get isOpen (): boolean {
    return this.opened
  }

  get closed (): boolean {
    const res = this.reply.raw
    return res.destroyed || res.writableEnded
  }

  open (headers: Record<string, string> = {}): void {
    if (this.opened) {
      return
    }
    this.opened = true
    this.reply.hijack()
    const res = this.reply.raw
    const inherited: Record<string, string | number | string[]> = {}
    for (const [k, v] of Object.entries(this.reply.getHeaders())) {
      if (v != null) {
        inherited[k] = v
      }
    }
    res.writeHead(200, {
      ...inherited,
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    res.socket?.setNoDelay(true)
    this.lastWriteAt = Date.now()
    this.keepalive = setInterval(() => {
      if (Date.now() - this.lastWriteAt >= KEEPALIVE_MS && !this.closed) {
        this.write(': keep-alive\n\n').catch(() => {})
      }
    }, KEEPALIVE_MS)
    this.keepalive.unref?.()
  }

  /** `data: <json>\n\n`, optionally with an `event:` line. */
  async data (payload: unknown, event?: string): Promise<void> {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload)
    await this.write(`${event != null ? `event: ${event}\n` : ''}data: ${text}\n\n`)
  }

  async write (chunk: string): Promise<void> {
    if (this.closed) {
      throw new CallerGoneError()
    }
    this.lastWriteAt = Date.now()
    const res = this.reply.raw
    if (res.write(chunk)) {
      return
    }
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        res.off('drain', onDrain)
        res.off('close', onClose)
      }
      const onDrain = (): void => { done(); resolve() }
      const onClose = (): void => { done(); reject(new CallerGoneError()) }
      res.on('drain', onDrain)
      res.on('close', onClose)
    })
  }

  end (): void {
    clearInterval(this.keepalive)
    this.keepalive = undefined
    if (!this.opened) {
      // nothing was sent: the caller left before the first token; release the socket
      this.opened = true
      this.reply.hijack()
      this.reply.raw.destroy()
      return
    }
    if (!this.closed) {
      this.reply.raw.end()
    }
  }
}
