/**
 * The benchmarks' own child processes (a miner, a client, a group of
 * zero-cost miners): wait for one to say it is ready, stop one.
 */
import { once } from 'node:events'
import type { ChildProcess } from 'node:child_process'

const READY_TIMEOUT_MS = 120_000

/** Until the child writes a stderr line matching `ready`; rejects if it exits first or stays silent for 120 s. Every line goes to `onLine`. */
export async function untilReady (child: ChildProcess, what: string, ready: RegExp, onLine?: (line: string) => void): Promise<void> {
  let stderr = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} not ready after ${READY_TIMEOUT_MS / 1000} s:\n${stderr}`)) }, READY_TIMEOUT_MS)
    child.on('close', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}:\n${stderr}`)) })
    child.stderr?.on('data', (d) => {
      stderr += String(d)
      for (const line of String(d).split('\n').filter(l => l.length > 0)) {
        onLine?.(line)
      }
      if (ready.test(stderr)) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
}

/** SIGTERM the child if it still runs, and wait for it to exit. */
export async function stopChild (child?: ChildProcess): Promise<void> {
  if (child != null && child.exitCode == null && child.signalCode == null) {
    const closed = once(child, 'close')
    child.kill('SIGTERM')
    await closed
  }
}
