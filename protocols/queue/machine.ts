/**
 * The session queue as a pure state machine: `transition(state, event, nowMs)`
 * and `tick(state, nowMs)` return a new state and effects as data; inputs are
 * never mutated. Oracle, miner and client run the same code, each reacting to
 * the effects that concern its role.
 */
import {
  ACK_TIMEOUT_MS, ASSIGN_TIMEOUT_MS, MAX_REASSIGNMENTS, MAX_RETRIES, MIN_REVEALS, PRECOMMIT_TIMEOUT_MS,
  REVEAL_TIMEOUT_MS, SETTLE_TIMEOUT_MS, STATE_VERSION, VALIDATE_TIMEOUT_MS
} from './constants.ts'
import { advance, fire } from './deadlines.ts'
import { InvalidEventError, TaskFinishedError } from './errors.ts'
import { applyEvent } from './events.ts'
import { WORKING_PHASES, isTerminal } from './phases.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskInit, TaskState, TransitionResult } from './types.ts'

export { TERMINAL_PHASES, isTerminal, normaliseAddress } from './phases.ts'
export { declineQuorum } from './events.ts'

/** The longest a task stays in the queue before it settles or expires (retries aside): the sum of its phases' timeouts. */
export function queueLifetimeMs (timeouts: Partial<QueueTimeouts> = {}): number {
  const t = { ...defaultTimeouts(), ...timeouts }
  return t.assignMs + t.ackMs + t.precommitMs + t.revealMs + t.validateMs + t.settleMs
}

function defaultTimeouts (): QueueTimeouts {
  return { assignMs: ASSIGN_TIMEOUT_MS, ackMs: ACK_TIMEOUT_MS, precommitMs: PRECOMMIT_TIMEOUT_MS, revealMs: REVEAL_TIMEOUT_MS, validateMs: VALIDATE_TIMEOUT_MS, settleMs: SETTLE_TIMEOUT_MS }
}

/** A new task in `queued`, with a `select-miners` effect for the leader. */
export function createTask (init: TaskInit, nowMs: number): TransitionResult {
  if (!Number.isInteger(init.redundancy) || init.redundancy < 1) {
    throw new InvalidEventError(`redundancy must be a positive integer, got ${init.redundancy}`)
  }
  const timeouts = { ...defaultTimeouts(), ...init.timeouts }
  const limits = { maxReassignments: MAX_REASSIGNMENTS, maxRetries: MAX_RETRIES, minReveals: MIN_REVEALS, ...init.limits }
  const state: TaskState = {
    version: STATE_VERSION,
    taskId: init.taskId.toString(),
    sessionId: init.sessionId.toString(),
    phase: 'queued',
    redundancy: init.redundancy,
    createdAtMs: nowMs,
    deadlineMs: init.deadlineMs,
    phaseDeadlineMs: nowMs + timeouts.assignMs,
    round: 0,
    reassignments: 0,
    vacancies: 0,
    vacancyDeadlineMs: null,
    retries: 0,
    slots: [],
    accepted: [],
    rejected: [],
    timeouts,
    limits
  }
  return { state, effects: [{ type: 'select-miners', count: init.redundancy, round: 0 }] }
}

/**
 * Apply one event at `nowMs`. Deadlines that passed before `nowMs` fire first
 * (as `tick` would), so a late ack is refused even if nobody ticked.
 */
export function transition (state: TaskState, event: QueueEvent, nowMs: number): TransitionResult {
  // the chain's settlement stands whatever this node's clock says: no deadline fires before it
  const ticked = event.type === 'settled-on-chain' ? { state, effects: [] } : tick(state, nowMs)
  const s = ticked.state === state ? clone(state) : ticked.state
  const effects = ticked.effects
  if (isTerminal(s)) {
    throw new TaskFinishedError(s.phase, event.type)
  }
  applyEvent(s, event, nowMs, effects)
  advance(s, nowMs, effects)
  return { state: s, effects }
}

/**
 * Fire every deadline due at or before `nowMs`, earliest first, each at its
 * own time (so follow-up deadlines are computed from when it fired). Returns
 * the same state object when nothing was due.
 */
export function tick (state: TaskState, nowMs: number): TransitionResult {
  let s: TaskState | undefined
  const effects: QueueEffect[] = []
  for (;;) {
    const current = s ?? state
    const due = nextDeadline(current)
    if (due == null || due > nowMs) {
      break
    }
    s ??= clone(state)
    fire(s, due, effects)
    advance(s, due, effects)
  }
  return { state: s ?? state, effects }
}

/** The earliest pending deadline (epoch ms), or null for a terminal task. */
export function nextDeadline (s: TaskState): number | null {
  if (isTerminal(s)) {
    return null
  }
  const times: number[] = []
  if (s.phaseDeadlineMs != null) {
    times.push(s.phaseDeadlineMs)
  }
  if (s.phase === 'queued' || WORKING_PHASES.has(s.phase)) {
    times.push(s.deadlineMs)
  }
  if (WORKING_PHASES.has(s.phase)) {
    if (s.vacancyDeadlineMs != null) {
      times.push(s.vacancyDeadlineMs)
    }
    for (const slot of s.slots) {
      if (slot.deadlineMs != null) {
        times.push(slot.deadlineMs)
      }
    }
  }
  return times.length === 0 ? null : Math.min(...times)
}

function clone (s: TaskState): TaskState {
  return structuredClone(s)
}
