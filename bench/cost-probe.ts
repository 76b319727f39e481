/**
 * Loaded into each process of the cost benchmark with `--import` (through
 * NODE_OPTIONS, so the CLI runs unchanged): on SIGUSR2 it writes one stderr
 * line `cost-probe {"cpuUs":…,"rssBytes":…,"heapUsedBytes":…}` with the
 * process's CPU time so far (`process.cpuUsage()`: user + system of every
 * thread, microseconds, the one counter that sees llama.cpp's and libuv's
 * threads as well as JavaScript, threads that have exited included) and its
 * memory.
 *
 * With COST_PROBE_PROFILE_DIR set, the first signal (the COST_PROBE_PROFILE_FROM-th:
 * 3 for the task window) also starts V8's sampling profiler and the next one writes what it saw in between to
 * `<dir>/<COST_PROBE_PROFILE_NAME or pid>.cpuprofile`: the profile of
 * exactly the measured window (`node --cpu-prof` would cover the start-up
 * too).
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { join } from 'node:path'

const PROFILE_DIR = process.env.COST_PROBE_PROFILE_DIR
const PROFILE_NAME = process.env.COST_PROBE_PROFILE_NAME ?? String(process.pid)
/** the signal that starts the profile (1: the idle window, 3: the task window); the next one writes it */
const PROFILE_FROM = Number(process.env.COST_PROBE_PROFILE_FROM ?? 1)
/** V8's default sampling interval is 1 ms; 2 ms halves the profiler's own cost and still sees a 60 s idle window well */
const PROFILE_INTERVAL_US = 2000

let session: Session | undefined
let signals = 0

function post (method: string, params?: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    session?.post(method, params ?? {}, (err, res) => { if (err != null) { reject(err) } else { resolve(res) } })
  })
}

async function profile (n: number): Promise<void> {
  if (PROFILE_DIR == null) {
    return
  }
  if (n === PROFILE_FROM) {
    session = new Session()
    session.connect()
    await post('Profiler.enable')
    await post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US })
    await post('Profiler.start')
  } else if (n === PROFILE_FROM + 1 && session != null) {
    const { profile } = await post('Profiler.stop')
    writeFileSync(join(PROFILE_DIR, `${PROFILE_NAME}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
    session = undefined
  }
}

process.on('SIGUSR2', () => {
  const n = ++signals
  const cpu = process.cpuUsage()
  const mem = process.memoryUsage()
  process.stderr.write(`cost-probe ${JSON.stringify({ n, cpuUs: cpu.user + cpu.system, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed })}\n`)
  profile(n).catch((err) => { process.stderr.write(`cost-probe: profiler: ${err?.message ?? err}\n`) })
})
