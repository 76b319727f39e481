/**
 * A pool of items (context sequences) with a bounded FIFO wait queue.
 * `acquire` resolves with a free item, waits in line, or throws
 * QueueFullError; an aborted signal takes the waiter out of the line.
 */
import { EngineClosedError, GenerationAbortedError, QueueFullError } from './errors.ts'

interface Waiter<T> {
  resolve(item: T): void
  reject(err: Error): void
}

export class BoundedPool<T> {
  private readonly free: T[]
  private readonly waiters: Array<Waiter<T>> = []
  private readonly maxQueued: number
  private closed = false

  constructor (items: T[], maxQueued: number) {
    this.free = [...items]
    this.maxQueued = maxQueued
  }

  get available (): number {
    return this.free.length
  }

  get queued (): number {
    return this.waiters.length
  }

  async acquire (signal?: AbortSignal): Promise<T> {
    if (this.closed) {
      throw new EngineClosedError()
    }
    if (signal?.aborted === true) {
      throw new GenerationAbortedError()
    }
    const item = this.free.pop()
    if (item !== undefined) {
      return item
    }
    if (this.waiters.length >= this.maxQueued) {
      throw new QueueFullError(this.maxQueued)
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter)
        if (i >= 0) {
          this.waiters.splice(i, 1)
        }
        reject(new GenerationAbortedError())
      }
      const waiter: Waiter<T> = {
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  release (item: T): void {
    const next = this.waiters.shift()
    if (next != null) {
      next.resolve(item)
    } else {
      this.free.push(item)
    }
  }

  /** Reject every waiter; later acquires throw EngineClosedError. */
  close (): void {
    this.closed = true
    for (const w of this.waiters.splice(0)) {
      w.reject(new EngineClosedError())
    }
  }
}
