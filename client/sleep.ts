/**
 * A pause that ends early when its signal aborts: browser-safe (a plain
 * timer, no `node:timers/promises`), so the SDK's waits stop with the client
 * in Node and in the page alike.
 */

/** Resolve after `ms`, or reject with the signal's reason as soon as it aborts (at once when it already has). */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
