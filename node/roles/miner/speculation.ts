/**
 * Work on a miner's own draw: a task's announcement carries the seed of its
 * round-0 selection, so a miner can draw it from its own pool view and,
 * when the draw names it and it is free, start before the assignment comes.
 * The assignment then confirms the work or drops it; none within
 * SPECULATION_WAIT_MS drops it too (the work machine's `not-assigned`).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { SPECULATION_WAIT_MS } from './constants.ts'
import type { MinerBehaviour, Speculation } from './types.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'

/** The miner as its own draw sees it. */
export interface OwnDraw {
  /** the pool as the miner sees it */
  pool: PoolView
  /** the miner's address, lower case */
  address: string
  behaviour: Pick<MinerBehaviour, 'drawsSelf'>
  /** not free to start: stopped, no idle engine sequence, or reserved by another session */
  busy: boolean
}

/**
 * Whether this miner's own draw of the task's round-0 selection (the seed
 * the announcement carries, checked against the chain by the oracles, and
 * the pool as this miner sees it) names it, and it is free to start: idle
 * engine sequence, not reserved by another session.
 */
export function drawsSelf (m: TaskQueued, own: OwnDraw): boolean {
  const seed = m.seed
  if (own.busy || seed == null) {
    return false
  }
  return own.behaviour.drawsSelf(() => own.pool.draw({ sessionId: m.sessionId, taskId: m.taskId, model: m.params?.modelId ?? '', chainSeed: seed, count: m.redundancy }).includes(own.address))
}

/**
 * Work on the miner's own draw, waiting to be settled: `onTimeout` once
 * SPECULATION_WAIT_MS pass with no assignment (not after `settle`, nor after
 * `signal`, the role's lifetime, aborts).
 */
export function speculation (signal: AbortSignal, onTimeout: () => void): Speculation {
  let decide!: (assigned: boolean) => void
  const decided = new Promise<boolean>(resolve => { decide = resolve })
  const settled = new AbortController()
  void sleep(SPECULATION_WAIT_MS, undefined, { signal: AbortSignal.any([settled.signal, signal]) })
    .then(() => { onTimeout() }, () => {})
  return { decided, decide, settled }
}

/** Settle the wait: the work is confirmed (true) or dropped (false). */
export function settle (s: Speculation, assigned: boolean): void {
  s.settled.abort()
  s.decide(assigned)
}
