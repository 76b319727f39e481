/**
 * Per-key limits: a token bucket for requests per minute (HTTP requests and
 * WebSocket prompts draw from the same bucket) and a counter of concurrent
 * streams. Both are in memory: a router restart forgets them.
 */
import { ApiError } from './errors.ts'

interface Bucket {
  tokens: number
  atMs: number
  perMinute: number
}

export type TakeResult = { ok: true, remaining: number } | { ok: false, retryAfterSec: number }

/** A bucket of `perMinute` requests that refills continuously (perMinute / 60 per second). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  take (id: string, perMinute: number): TakeResult {
    if (!Number.isFinite(perMinute) || perMinute <= 0) {
      return { ok: true, remaining: Infinity }
    }
    const now = this.now()
    let b = this.buckets.get(id)
    if (b == null) {
      if (this.buckets.size >= 100_000) {
        this.prune(now)
      }
      b = { tokens: perMinute, atMs: now, perMinute }
      this.buckets.set(id, b)
    } else {
      b.tokens = Math.min(perMinute, b.tokens + (now - b.atMs) * perMinute / 60_000)
      b.atMs = now
      b.perMinute = perMinute
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return { ok: true, remaining: Math.floor(b.tokens) }
    }
    const waitMs = (1 - b.tokens) * 60_000 / perMinute
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)) }
  }

  /** drop buckets that have refilled completely: they are the same as a new one */
  private prune (now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + (now - b.atMs) * b.perMinute / 60_000 >= b.perMinute) {
        this.buckets.delete(id)
      }
    }
  }
}

export function rateLimited (retryAfterSec: number, perMinute: number): ApiError {
  return new ApiError(429, 'rate_limit_exceeded', `rate limit of ${perMinute} requests per minute reached; retry in ${retryAfterSec} s`, {
    headers: { 'retry-after': String(retryAfterSec) }
  })
}

/** Concurrent streams per key and for the whole router. */
export class StreamSlots {
  private readonly perKey = new Map<string, number>()
  private total = 0
  private readonly maxTotal: number

  constructor (maxTotal: number) {
    this.maxTotal = maxTotal
  }

  get inFlight (): number {
    return this.total
  }

  /** Take a slot or throw a 429; the returned function frees it (calling it twice frees once). */
  acquire (id: string, maxForKey: number): () => void {
    const used = this.perKey.get(id) ?? 0
    if (used >= maxForKey) {
      throw new ApiError(429, 'too_many_streams', `this key already has ${used} streams open (limit ${maxForKey}); wait for one to finish`, {
        headers: { 'retry-after': '1' }
      })
    }
    if (this.total >= this.maxTotal) {
      throw new ApiError(429, 'router_busy', `the router is serving its limit of ${this.maxTotal} streams; retry shortly`, {
        headers: { 'retry-after': '1' }
      })
    }
    this.perKey.set(id, used + 1)
    this.total++
    let released = false
    return () => {
      if (released) {
        return
      }
      released = true
      this.total--
      const n = (this.perKey.get(id) ?? 1) - 1
      if (n <= 0) {
        this.perKey.delete(id)
      } else {
        this.perKey.set(id, n)
      }
    }
  }
}
