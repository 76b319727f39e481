/**
 * The session queue's deadlines and phase progress: what fires when a
 * deadline passes (`fire`), how the task-level phase moves on once its
 * miners' sub-states allow it (`advance`), and expiry. Each mutates the
 * clone it is given; protocols/queue/machine.ts calls them.
 */
import { WORKING_PHASES, revealed } from './phases.ts'
import type { ExpireReason, MinerSlot, PenaltyReason, QueueEffect, TaskState } from './types.ts'

export function fire (s: TaskState, at: number, effects: QueueEffect[]): void {
  // the task deadline first: it ends the working phases outright
  if ((s.phase === 'queued' || WORKING_PHASES.has(s.phase)) && s.deadlineMs <= at) {
    expire(s, 'deadline', effects)
    return
  }
  if (s.phaseDeadlineMs != null && s.phaseDeadlineMs <= at) {
    firePhaseDeadline(s, at, effects)
    return
  }
  if (s.vacancyDeadlineMs != null && s.vacancyDeadlineMs <= at) {
    effects.push({ type: 'reassign-abandoned', count: s.vacancies })
    s.vacancies = 0
    s.vacancyDeadlineMs = null
    return
  }
  for (const slot of s.slots) {
    if (slot.deadlineMs != null && slot.deadlineMs <= at) {
      timeoutSlot(s, slot, at, slot.status === 'assigned' ? 'ack-timeout' : 'precommit-timeout', effects)
    }
  }
}

function firePhaseDeadline (s: TaskState, at: number, effects: QueueEffect[]): void {
  switch (s.phase) {
    case 'queued':
      if (retry(s, at, s.timeouts.assignMs)) {
        effects.push({ type: 'assignment-overdue', attempt: s.retries })
      } else {
        expire(s, 'unassigned', effects)
      }
      return
    case 'precommitted':
      // the reveal window closes: precommitted miners that did not reveal missed it
      for (const slot of s.slots) {
        if (slot.status === 'precommitted') {
          slot.status = 'missed'
          effects.push({ type: 'penalise', miner: slot.miner, reason: 'reveal-timeout' })
        }
      }
      s.phaseDeadlineMs = null
      return
    case 'committed':
      if (retry(s, at, s.timeouts.validateMs)) {
        effects.push({ type: 'validate', miners: revealed(s), attempt: s.retries })
      } else {
        expire(s, 'validation-timeout', effects)
      }
      return
    case 'validated':
      if (retry(s, at, s.timeouts.settleMs)) {
        effects.push({ type: 'settle', accepted: s.accepted, rejected: s.rejected, attempt: s.retries })
      } else {
        expire(s, 'settlement-timeout', effects)
      }
      return
    default:
      s.phaseDeadlineMs = null
  }
}

function retry (s: TaskState, at: number, periodMs: number): boolean {
  if (s.retries >= s.limits.maxRetries) {
    return false
  }
  s.retries++
  s.phaseDeadlineMs = at + periodMs
  return true
}

function timeoutSlot (s: TaskState, slot: MinerSlot, at: number, reason: PenaltyReason, effects: QueueEffect[]): void {
  slot.status = 'reassigned'
  slot.deadlineMs = null
  effects.push({ type: 'penalise', miner: slot.miner, reason })
  if (s.reassignments < s.limits.maxReassignments) {
    s.reassignments++
    s.vacancies++
    s.vacancyDeadlineMs ??= at + s.timeouts.assignMs
    // one round per open vacancy: slots timing out together are replaced in rounds after one another, since a
    // node takes a replacement only in a round after the last it applied
    effects.push({ type: 'reassign', miner: slot.miner, round: s.round + s.vacancies, reason })
  }
}

export function expire (s: TaskState, reason: ExpireReason, effects: QueueEffect[]): void {
  s.phase = 'expired'
  s.expiredReason = reason
  s.phaseDeadlineMs = null
  s.vacancies = 0
  s.vacancyDeadlineMs = null
  for (const slot of s.slots) {
    slot.deadlineMs = null
  }
  effects.push({ type: 'expired', reason })
}

// ---------------------------------------------------------------- phase progress

/** Move the task-level phase forward once the per-miner sub-states allow it. */
export function advance (s: TaskState, at: number, effects: QueueEffect[]): void {
  if (WORKING_PHASES.has(s.phase)) {
    const live = s.slots.filter(x => x.status === 'assigned' || x.status === 'acked')
    if (live.length > 0 || s.vacancies > 0) {
      s.phase = live.some(x => x.status === 'assigned') ? 'assigned' : 'acked'
      return
    }
    const committed = s.slots.filter(x => x.status === 'precommitted').map(x => x.miner)
    if (committed.length >= s.limits.minReveals) {
      s.phase = 'precommitted'
      s.phaseDeadlineMs = at + s.timeouts.revealMs
      effects.push({ type: 'reveal-window-open', miners: committed })
    } else {
      expire(s, 'insufficient-miners', effects)
    }
    return
  }
  if (s.phase === 'precommitted' && !s.slots.some(x => x.status === 'precommitted')) {
    const miners = revealed(s)
    if (miners.length >= s.limits.minReveals) {
      s.phase = 'committed'
      s.retries = 0
      s.phaseDeadlineMs = at + s.timeouts.validateMs
      effects.push({ type: 'validate', miners, attempt: 0 })
    } else {
      expire(s, 'insufficient-reveals', effects)
    }
  }
}
