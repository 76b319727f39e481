/**
 * Work on a miner's own draw: a task's announcement carries the seed of its
 * round-0 selection, so a miner can draw it from its own pool view and,
 * when the draw names it and it is free, start before the assignment comes.
 * The assignment then confirms the work or drops it; none within
 * SPECULATION_WAIT_MS drops it too.
 */
import { logger } from '@libp2p/logger'
import { wake } from './tasks.ts'
import type { MinerFaults } from './index.ts'
import type { MinerTask } from './tasks.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'

const log = logger('cortensor:miner')

/** work started on the miner's own draw is dropped if no assignment settles it within this long */
const SPECULATION_WAIT_MS = 5000

/** What speculative starts came to (MinerRole.speculation). */
export interface SpeculationStats {
  /** tasks started on the miner's own draw */
  started: number
  /** of those, assigned to it */
  confirmed: number
  /** of those, not assigned to it (the work was dropped) */
  dropped: number
}

/** The miner as its own draw sees it. */
export interface OwnDraw {
  /** the pool as the miner sees it */
  pool: PoolView
  /** the miner's address, lower case */
  address: string
  faults?: MinerFaults
  /** not free to start: stopped, no idle engine sequence, or reserved by another session */
  busy: boolean
}

/**
 * Whether this miner's own draw of the task's round-0 selection (the seed
 * the announcement carries, checked against the chain by the oracles, and
 * the pool as this miner sees it) names it, and it is free to start: idle
 * engine sequence, not reserved by another session, no injected faults.
 */
export function drawsSelf (m: TaskQueued, own: OwnDraw): boolean {
  if (own.faults?.copyOthers === true || own.busy || m.seed == null) {
    return false
  }
  if (own.faults?.misdraw === true) {
    return true
  }
  return own.pool.draw({ sessionId: m.sessionId, taskId: m.taskId, model: m.params?.modelId ?? '', chainSeed: m.seed, count: m.redundancy }).includes(own.address)
}

/** Start the work now; the assignment settles it (`settleSpeculation`), or SPECULATION_WAIT_MS drops it. */
export function speculate (task: MinerTask, stats: SpeculationStats, startWork: (task: MinerTask) => void): void {
  let decide!: (assigned: boolean) => void
  const decided = new Promise<boolean>(resolve => { decide = resolve })
  const timer = setTimeout(() => { settleSpeculation(task, false, stats) }, SPECULATION_WAIT_MS)
  task.speculation = { decided, decide, timer }
  stats.started++
  log('task %s: started on this miner\'s own draw', task.queued.taskId)
  startWork(task)
}

/** Confirm the work started on the miner's own draw, or drop it; nothing when there is none. */
export function settleSpeculation (task: MinerTask, assigned: boolean, stats: SpeculationStats): void {
  const s = task.speculation
  if (s == null) {
    return
  }
  task.speculation = undefined
  clearTimeout(s.timer)
  if (assigned) {
    stats.confirmed++
  } else {
    stats.dropped++
    log('task %s: not assigned to this miner: work started on its own draw dropped', task.queued.taskId)
    task.abort?.abort()
    task.buffer = undefined
  }
  s.decide(assigned)
  wake(task)
}
