/**
 * Items gathered for a short window (or until a batch is full) and handed
 * over together: the leader's hub writes of assignments and of settlements
 * go out this way, one transaction for the tasks of a window instead of one
 * each.
 */

export interface GathererInit<T> {
  /** how long the first item of a batch waits for others */
  batchMs: number
  /** items in one batch at most: a full batch goes at once */
  maxBatch: number
  /** hand over one batch; batches are handed over one at a time, in order */
  flush(items: T[]): Promise<void>
  /** a flush that failed (the items are not handed over again) */
  onError?(err: Error): void
}

export class Gatherer<T> {
  private readonly init: GathererInit<T>
  private readonly queue = new Map<string, T>()
  private timer?: ReturnType<typeof setTimeout>
  private flushing: Promise<void> = Promise.resolve()
  private stopped = false

  constructor (init: GathererInit<T>) {
    this.init = init
  }

  /** Items waiting for their batch. */
  get size (): number {
    return this.queue.size
  }

  /** Gather `item` under `key` (an item already waiting under the key is replaced). */
  add (key: string, item: T): void {
    if (this.stopped) {
      return
    }
    this.queue.set(key, item)
    if (this.queue.size >= this.init.maxBatch) {
      this.flushNow()
    } else {
      this.timer ??= setTimeout(() => { this.flushNow() }, this.init.batchMs)
    }
  }

  /** Take every waiting item out of its batch (to handle them at once, together); the batch's timer is cleared. */
  takeAll (): T[] {
    const items = [...this.queue.values()]
    this.queue.clear()
    clearTimeout(this.timer)
    this.timer = undefined
    return items
  }

  /** Whether an item waits under `key`. */
  has (key: string): boolean {
    return this.queue.has(key)
  }

  /**
   * Take no more items; what waits is handed over at once (`flush`) or
   * dropped. Resolves when the batches being handed over are done.
   */
  async stop (options: { flush?: boolean } = {}): Promise<void> {
    if (options.flush === true) {
      this.flushNow()
    }
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue.clear()
    await this.flushing
  }

  private flushNow (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.queue.size > 0) {
      const batch = [...this.queue.values()].slice(0, this.init.maxBatch)
      for (const key of [...this.queue.keys()].slice(0, batch.length)) {
        this.queue.delete(key)
      }
      this.flushing = this.flushing
        .then(async () => { await this.init.flush(batch) })
        .catch((err) => { this.init.onError?.(err) })
    }
  }
}
