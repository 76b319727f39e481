/**
 * The miner's work on one task as a pure state machine: `step(state, event)`
 * returns the next state and the effects the miner role must carry out, in
 * order; the input is never mutated. An event the phase cannot take throws
 * IllegalMinerEventError. A restarted miner feeds its stored state a
 * `restart` event and resumes through the same transitions.
 */
import { AlreadyDeclinedError, IllegalMinerEventError } from './errors.ts'
import type { MinerWorkEffect, MinerWorkEvent, MinerWorkState, MinerWorkStep } from './types.ts'

export type { MinerCommitment, MinerWorkEffect, MinerWorkEvent, MinerWorkPhase, MinerWorkState, MinerWorkStep, NotRunnable } from './types.ts'
export { AlreadyDeclinedError, IllegalMinerEventError } from './errors.ts'

/** A task just heard of. */
export function initialWork (): MinerWorkState {
  return { phase: 'idle', assignmentSeen: false }
}

/** Work on the miner's own draw waits for the assignment to settle it. */
export function isSpeculative (s: MinerWorkState): boolean {
  return s.phase === 'speculating' || (s.phase === 'unrunnable' && s.speculative)
}

/** The miner's ack is out: a token stream may be served. */
export function isAcked (s: MinerWorkState): boolean {
  return s.phase === 'revealed' || ((s.phase === 'working' || s.phase === 'unrunnable' || s.phase === 'committed') && s.acked)
}

/** An assignment of the task has been handled (true once any assignment settled the work). */
export function assignmentSeen (s: MinerWorkState): boolean {
  switch (s.phase) {
    case 'idle': return s.assignmentSeen
    case 'speculating': return false
    case 'unrunnable': return s.seen
    default: return true
  }
}

/**
 * The miner will not serve the task's tokens: it refused the assignment, or
 * declined it as not runnable.
 */
export function isRefusing (s: MinerWorkState): boolean {
  return s.phase === 'refused' || (s.phase === 'unrunnable' && s.seen)
}

/** What the miner committed to, if it has. */
export function commitmentOf (s: MinerWorkState): Extract<MinerWorkState, { phase: 'committed' }>['commitment'] | undefined {
  return s.phase === 'committed' || s.phase === 'revealed' ? s.commitment : undefined
}

const WAKE: MinerWorkEffect = { type: 'wake' }

function illegal (s: MinerWorkState, e: MinerWorkEvent): never {
  throw new IllegalMinerEventError(s.phase, e.type)
}

type Transition<K extends MinerWorkEvent['type']> = (s: MinerWorkState, e: Extract<MinerWorkEvent, { type: K }>) => MinerWorkStep

/** What each event does, by phase. */
const transitions: { [K in MinerWorkEvent['type']]: Transition<K> } = {
  speculate: (s, e) => {
    if (s.phase !== 'idle') {
      return illegal(s, e)
    }
    return { state: { phase: 'speculating' }, effects: [{ type: 'start-work', speculative: true }] }
  },
  'not-assigned': (s, e) => {
    if (s.phase === 'speculating') {
      return { state: { phase: 'idle', assignmentSeen: false }, effects: [{ type: 'drop-work' }, WAKE] }
    }
    if (s.phase === 'unrunnable' && s.speculative) {
      return { state: { ...s, speculative: false }, effects: [{ type: 'drop-work' }, WAKE] }
    }
    return illegal(s, e)
  },
  'assignment-seen': (s) => {
    if (s.phase === 'idle') {
      return { state: { phase: 'idle', assignmentSeen: true }, effects: [WAKE] }
    }
    if (s.phase === 'speculating') {
      return { state: { phase: 'idle', assignmentSeen: true }, effects: [{ type: 'drop-work' }, WAKE] }
    }
    if (s.phase === 'unrunnable' && s.speculative) {
      return { state: { ...s, speculative: false, seen: true }, effects: [{ type: 'drop-work' }, WAKE] }
    }
    if (s.phase === 'unrunnable') {
      return { state: { ...s, seen: true }, effects: [WAKE] }
    }
    return { state: s, effects: [WAKE] }
  },
  refuse: (s) => {
    if (s.phase === 'speculating') {
      return { state: { phase: 'refused' }, effects: [{ type: 'drop-work' }, WAKE] }
    }
    if (s.phase === 'unrunnable') {
    // it stays unrunnable (a later round is declined), and refused streams meanwhile
      return { state: { ...s, speculative: false, seen: true }, effects: s.speculative ? [{ type: 'drop-work' }, WAKE] : [WAKE] }
    }
    return { state: { phase: 'refused' }, effects: [WAKE] }
  },
  accept: (s) => {
    if (s.phase === 'speculating') {
      return { state: { phase: 'working', acked: false }, effects: [{ type: 'confirm-work' }, WAKE] }
    }
    if (s.phase === 'unrunnable') {
      return { state: { ...s, speculative: false, seen: true }, effects: [...(s.speculative ? [{ type: 'drop-work' } as const] : []), { type: 'decline', cause: s.cause }] }
    }
    return { state: { phase: 'working', acked: false }, effects: [{ type: 'start-work', speculative: false }, WAKE] }
  },
  acked: (s, e) => {
    if (s.phase === 'working' || s.phase === 'unrunnable' || s.phase === 'committed') {
      return { state: { ...s, acked: true }, effects: [WAKE] }
    }
    return illegal(s, e)
  },
  'not-runnable': (s, e) => {
    if (s.phase === 'committed' || s.phase === 'revealed') {
      return illegal(s, e)
    }
    return {
      state: {
        phase: 'unrunnable',
        cause: e.cause,
        acked: s.phase === 'working' && s.acked,
        speculative: s.phase === 'speculating',
        seen: s.phase === 'idle' ? s.assignmentSeen : s.phase !== 'speculating',
        declinedRound: null
      },
      effects: [{ type: 'decline', cause: e.cause }]
    }
  },
  declined: (s, e) => {
    if (s.phase !== 'unrunnable') {
      return illegal(s, e)
    }
    if (s.declinedRound === e.round) {
      throw new AlreadyDeclinedError(e.round)
    }
    return { state: { ...s, declinedRound: e.round }, effects: [WAKE] }
  },
  committed: (s, e) => {
    if (s.phase !== 'working') {
      return illegal(s, e)
    }
    return { state: { phase: 'committed', commitment: e.commitment, acked: s.acked }, effects: [{ type: 'persist' }] }
  },
  'reveal-window': (s, e) => {
    if (s.phase === 'committed') {
      return { state: s, effects: [{ type: 'reveal' }] }
    }
    if (s.phase === 'revealed') {
      return { state: s, effects: [] }
    }
    return illegal(s, e)
  },
  revealed: (s, e) => {
    if (s.phase !== 'committed') {
      return illegal(s, e)
    }
    return { state: { phase: 'revealed', commitment: s.commitment }, effects: [{ type: 'persist' }] }
  },
  restart: (s, e) => {
    const toQueue = e.slot === 'acked'
    if (s.phase === 'committed') {
      return { state: { ...s, acked: true }, effects: [{ type: 'resend-precommit', toQueue }] }
    }
    if (s.phase === 'revealed') {
    // a reveal just sent may have been lost with the stop: sent again (receivers drop the copies)
      return { state: { phase: 'committed', commitment: s.commitment, acked: true }, effects: [{ type: 'resend-precommit', toQueue }, { type: 'reveal' }] }
    }
    if (e.slot === 'acked') {
    // accepted, not yet committed: the work starts again
      return { state: { phase: 'working', acked: true }, effects: [{ type: 'start-work', speculative: false }] }
    }
    return { state: s, effects: [] }
  }
}

/** The next state of the miner's work on a task, and what the miner must do, in order. */
export function step (s: MinerWorkState, e: MinerWorkEvent): MinerWorkStep {
  return (transitions[e.type] as Transition<typeof e.type>)(s, e)
}
