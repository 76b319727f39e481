/**
 * The oracle's retries of chain writes and replays: p-retry (libp2p's own
 * retry library) with doubling pauses, stopped by the role's signal.
 */
import pRetry from 'p-retry'

export interface RetryingOptions {
  /** tries in all, the first included */
  attempts: number
  /** the pause after the first failure; doubles after each */
  firstDelayMs: number
  /** the role stopped: no more tries, no pause waited out */
  signal: AbortSignal
  /** a failure that trying again cannot change (a hub rule): no more tries */
  permanent?(err: any): boolean
  /** a failure that will be tried again, after its pause */
  onRetry?(err: any, attempt: number): void
}

/**
 * Run `fn` (given its attempt number, from 1) until it resolves, tried again
 * after a failure while attempts are left. The first attempt always runs,
 * and an attempt under way when the role stops finishes (a transaction sent
 * is not reported as failed); after a failure no pause is waited out and no
 * attempt made once the signal is aborted. Rejects with the last error `fn`
 * threw, not the abort's reason, so the caller reports what failed.
 */
export async function retrying<T> (fn: (attempt: number) => Promise<T>, options: RetryingOptions): Promise<T> {
  let last: unknown
  // p-retry's own signal would also refuse the first attempt and fail one that succeeded: it is aborted only while a pause runs
  const pause = new AbortController()
  let pausing = false
  const onAbort = (): void => {
    if (pausing) {
      pause.abort(options.signal.reason)
    }
  }
  options.signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await pRetry(async (attempt) => {
      pausing = false
      try {
        return await fn(attempt)
      } catch (err) {
        last = err
        throw err
      }
    }, {
      retries: options.attempts - 1,
      minTimeout: options.firstDelayMs,
      factor: 2,
      signal: pause.signal,
      shouldRetry: ({ error, attemptNumber }) => {
        if (options.signal.aborted || options.permanent?.(error) === true) {
          return false
        }
        options.onRetry?.(error, attemptNumber)
        pausing = true
        return true
      }
    })
  } catch (err) {
    throw last ?? err
  } finally {
    options.signal.removeEventListener('abort', onAbort)
  }
}
