/** A single-consumer async queue: producers push, one `for await` reads; `end` or `fail` closes it. */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private done = false
  private error?: Error
  private wake?: () => void

  push (item: T): void {
    if (this.done) {
      return
    }
    this.items.push(item)
    this.wake?.()
  }

  end (): void {
    this.done = true
    this.wake?.()
  }

  fail (err: Error): void {
    if (this.done) {
      return
    }
    this.error = err
    this.done = true
    this.wake?.()
  }

  get closed (): boolean {
    return this.done
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<T> {
    for (;;) {
      while (this.items.length > 0) {
        yield this.items.shift() as T
      }
      if (this.done) {
        if (this.error != null) {
          throw this.error
        }
        return
      }
      await new Promise<void>(resolve => { this.wake = resolve })
      this.wake = undefined
    }
  }
}
