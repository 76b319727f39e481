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
import {
  DuplicateEventError, IllegalTransitionError, InvalidEventError, PrematureRevealError, TaskFinishedError, UnknownMinerError
} from './errors.ts'
import type { ExpireReason, MinerSlot, PenaltyReason, QueueEffect, QueueEvent, QueueTimeouts, TaskInit, TaskPhase, TaskState, TransitionResult } from './types.ts'

export const TERMINAL_PHASES: ReadonlySet<TaskPhase> = new Set(['settled', 'expired'])
/** Phases in which miners are still being assigned and working (before the reveal window). */
const WORKING_PHASES: ReadonlySet<TaskPhase> = new Set(['assigned', 'acked'])

export function isTerminal (state: TaskState): boolean {
  return TERMINAL_PHASES.has(state.phase)
}

export function normaliseAddress (address: string): string {
  return address.toLowerCase()
}

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
  const ticked = tick(state, nowMs)
  const s = ticked.state === state ? clone(state) : ticked.state
  const effects = ticked.effects
  if (isTerminal(s)) {
    throw new TaskFinishedError(s.phase, event.type)
  }
  switch (event.type) {
    case 'assigned': onAssigned(s, event, nowMs, effects); break
    case 'ack': onAck(s, event.miner, nowMs); break
    case 'declined': onDeclined(s, event.miner, effects); break
    case 'precommit': onPrecommit(s, event.miner, event.commitment); break
    case 'reveal': onReveal(s, event, effects); break
    case 'verdict': onVerdict(s, event, nowMs, effects); break
    case 'settled': onSettled(s, event.txHash, effects); break
    default: throw new InvalidEventError(`unknown event ${(event as { type: string }).type}`)
  }
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

// ---------------------------------------------------------------- events

function onAssigned (s: TaskState, e: Extract<QueueEvent, { type: 'assigned' }>, nowMs: number, effects: QueueEffect[]): void {
  const miners = e.miners.map(normaliseAddress)
  if (miners.length === 0 || new Set(miners).size !== miners.length) {
    throw new InvalidEventError('an assignment needs distinct miners')
  }
  if (s.phase === 'queued') {
    // a node that missed the first assignment (it joined later) knows none of the replaced: the
    // replacement is the task's assignment as far as it can tell
    if (miners.length > s.redundancy) {
      throw new InvalidEventError(`${miners.length} miners assigned, redundancy is ${s.redundancy}`)
    }
  } else if (WORKING_PHASES.has(s.phase)) {
    if (e.round <= s.round) {
      throw new InvalidEventError(`replacement round ${e.round} is not after round ${s.round}`)
    }
    // the leader names whom it replaces: a slot this node's clock has not timed out yet ends now
    for (const gone of (e.replaced ?? []).map(normaliseAddress)) {
      const slot = s.slots.find(x => x.miner === gone)
      if (slot?.status === 'reassigned') {
        continue
      }
      if (slot == null || !(slot.status === 'assigned' || slot.status === 'acked' || slot.status === 'precommitted')) {
        throw new InvalidEventError(`miner ${gone} holds no live slot to replace`)
      }
      slot.status = 'reassigned'
      slot.deadlineMs = null
      s.vacancies++
    }
    if (miners.length > s.vacancies) {
      throw new IllegalTransitionError(s.phase, e.type, `${miners.length} replacements for ${s.vacancies} vacancies`)
    }
    const known = new Set(s.slots.map(x => x.miner))
    const again = miners.find(m => known.has(m))
    if (again != null) {
      throw new InvalidEventError(`miner ${again} was already assigned to this task`)
    }
    s.vacancies -= miners.length
    if (s.vacancies === 0) {
      s.vacancyDeadlineMs = null
    }
  } else {
    throw new IllegalTransitionError(s.phase, e.type)
  }
  s.round = Math.max(s.round, e.round)
  for (const miner of miners) {
    s.slots.push({ miner, round: e.round, status: 'assigned', deadlineMs: nowMs + s.timeouts.ackMs })
  }
  if (s.phase === 'queued') {
    s.phase = 'assigned'
    s.phaseDeadlineMs = null
    s.retries = 0
  }
  void effects
}

function slotOf (s: TaskState, miner: string): MinerSlot {
  const m = normaliseAddress(miner)
  const slot = s.slots.find(x => x.miner === m)
  if (slot == null) {
    throw new UnknownMinerError(m)
  }
  return slot
}

function onAck (s: TaskState, miner: string, nowMs: number): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'ack')
  }
  const slot = slotOf(s, miner)
  if (slot.status === 'acked' || slot.status === 'precommitted') {
    throw new DuplicateEventError('ack', slot.miner)
  }
  if (slot.status !== 'assigned') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'ack')
  }
  slot.status = 'acked'
  slot.deadlineMs = nowMs + s.timeouts.precommitMs
}

/**
 * A decline is about the task, not the miner: once a majority of the
 * redundancy has declined, no miner will run it and the task expires now
 * (no one is penalised). A minority decline changes nothing: that miner's
 * ack or precommit deadline replaces it as usual.
 */
function onDeclined (s: TaskState, miner: string, effects: QueueEffect[]): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'declined')
  }
  const slot = slotOf(s, miner)
  if (slot.status !== 'assigned' && slot.status !== 'acked') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'declined')
  }
  const declined = new Set(s.declined ?? [])
  if (declined.has(slot.miner)) {
    throw new DuplicateEventError('declined', slot.miner)
  }
  declined.add(slot.miner)
  s.declined = [...declined]
  if (declined.size >= declineQuorum(s.redundancy)) {
    expire(s, 'declined', effects)
  }
}

/** Declines that end a task: a majority of its redundancy. */
export function declineQuorum (redundancy: number): number {
  return Math.floor(Math.max(1, redundancy) / 2) + 1
}

function onPrecommit (s: TaskState, miner: string, commitment: string): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'precommit')
  }
  const slot = slotOf(s, miner)
  if (slot.status === 'precommitted') {
    throw new DuplicateEventError('precommit', slot.miner)
  }
  // a precommit may overtake its ack on gossip: it implies the ack
  if (slot.status !== 'assigned' && slot.status !== 'acked') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'precommit')
  }
  slot.status = 'precommitted'
  slot.commitment = commitment
  slot.deadlineMs = null
}

function onReveal (s: TaskState, e: Extract<QueueEvent, { type: 'reveal' }>, effects: QueueEffect[]): void {
  if (WORKING_PHASES.has(s.phase)) {
    slotOf(s, e.miner)
    throw new PrematureRevealError(normaliseAddress(e.miner))
  }
  if (s.phase !== 'precommitted') {
    throw new IllegalTransitionError(s.phase, 'reveal')
  }
  const slot = slotOf(s, e.miner)
  if (slot.status === 'revealed' || slot.status === 'faulty') {
    throw new DuplicateEventError('reveal', slot.miner)
  }
  if (slot.status !== 'precommitted') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'reveal')
  }
  if (e.matchesCommitment) {
    slot.status = 'revealed'
    slot.outputCid = e.outputCid
  } else {
    slot.status = 'faulty'
    effects.push({ type: 'slash', miner: slot.miner, reason: 'reveal-mismatch' })
  }
}

function onVerdict (s: TaskState, e: Extract<QueueEvent, { type: 'verdict' }>, nowMs: number, effects: QueueEffect[]): void {
  if (s.phase !== 'committed') {
    throw new IllegalTransitionError(s.phase, 'verdict')
  }
  const accepted = e.accepted.map(normaliseAddress)
  const rejected = e.rejected.map(normaliseAddress)
  const judged = [...accepted, ...rejected]
  if (new Set(judged).size !== judged.length) {
    throw new InvalidEventError('a miner cannot be both accepted and rejected')
  }
  for (const miner of judged) {
    if (slotOf(s, miner).status !== 'revealed') {
      throw new InvalidEventError(`miner ${miner} did not reveal and cannot be judged`)
    }
  }
  s.accepted = accepted
  s.rejected = rejected
  s.phase = 'validated'
  s.retries = 0
  s.phaseDeadlineMs = nowMs + s.timeouts.settleMs
  effects.push({ type: 'settle', accepted, rejected, attempt: 0 })
}

function onSettled (s: TaskState, txHash: string, effects: QueueEffect[]): void {
  if (s.phase !== 'validated') {
    throw new IllegalTransitionError(s.phase, 'settled')
  }
  s.phase = 'settled'
  s.txHash = txHash
  s.phaseDeadlineMs = null
  effects.push({ type: 'settled', txHash })
}

// ---------------------------------------------------------------- deadlines

function fire (s: TaskState, at: number, effects: QueueEffect[]): void {
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

function expire (s: TaskState, reason: ExpireReason, effects: QueueEffect[]): void {
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

function revealed (s: TaskState): string[] {
  return s.slots.filter(x => x.status === 'revealed').map(x => x.miner)
}

// ---------------------------------------------------------------- phase progress

/** Move the task-level phase forward once the per-miner sub-states allow it. */
function advance (s: TaskState, at: number, effects: QueueEffect[]): void {
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

function clone (s: TaskState): TaskState {
  return structuredClone(s)
}
