/**
 * A role's clock: a tick every `busyMs` while `busy()` says work is in
 * flight (queue deadlines are kept to that), every `idleMs` otherwise, so
 * an idle node does not wake ten times a second for nothing. `wake()` brings
 * an idle wait's tick forward when work arrives; `stop()` ends it.
 */
export interface TickerInit {
  tick(nowMs: number): void
  busy(): boolean
  busyMs: number
  idleMs: number
}

export class Ticker {
  private readonly init: TickerInit
  private timer?: ReturnType<typeof setTimeout>
  private dueAt = 0
  private stopped = false

  constructor (init: TickerInit) {
    this.init = init
  }

  start (): void {
    this.schedule(this.init.busy() ? this.init.busyMs : this.init.idleMs)
  }

  /** Work arrived: tick within `busyMs` (a due tick is never pushed back). */
  wake (): void {
    if (!this.stopped && this.timer != null && this.dueAt > performance.now() + this.init.busyMs) {
      this.schedule(this.init.busyMs)
    }
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  private schedule (ms: number): void {
    clearTimeout(this.timer)
    if (this.stopped) {
      return
    }
    this.dueAt = performance.now() + ms
    this.timer = setTimeout(() => {
      try {
        this.init.tick(Date.now())
      } finally {
        this.schedule(this.init.busy() ? this.init.busyMs : this.init.idleMs)
      }
    }, ms)
  }
}
