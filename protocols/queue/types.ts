/**
 * Data of the session queue: task state, events and effects. Everything here
 * is plain JSON (ids as decimal strings, addresses as lowercase hex, times as
 * epoch milliseconds) so a state can be stored in a datastore and reloaded.
 */

/** Task phases of DESIGN.md §3; `settled` and `expired` are terminal. */
export type TaskPhase = 'queued' | 'assigned' | 'acked' | 'precommitted' | 'committed' | 'validated' | 'settled' | 'expired'

/**
 * Per-miner sub-state. `reassigned`: timed out before precommitting and was
 * replaced; `missed`: precommitted but did not reveal; `faulty`: revealed
 * something other than what it precommitted.
 */
export type MinerStatus = 'assigned' | 'acked' | 'precommitted' | 'revealed' | 'reassigned' | 'missed' | 'faulty'

export type ExpireReason = 'deadline' | 'unassigned' | 'insufficient-miners' | 'insufficient-reveals' | 'validation-timeout' | 'settlement-timeout' | 'declined'

/**
 * Why the leader gave a task up on chain (the hub's `TaskAbandoned` reason is the index here): the queue's
 * expiries, and `unverifiable` (the outputs differ and no oracle could replay them). Append only: the index
 * is on chain.
 */
export const ABANDON_REASONS = ['deadline', 'unassigned', 'insufficient-miners', 'insufficient-reveals', 'validation-timeout', 'settlement-timeout', 'declined', 'unverifiable'] as const
export type AbandonReason = typeof ABANDON_REASONS[number]

/** What each reason means, for people (the SDK's and the router's error messages). */
export const ABANDON_REASON_TEXT: Record<AbandonReason, string> = {
  deadline: 'its deadline passed before it settled',
  unassigned: 'no miner could be assigned to it in time',
  'insufficient-miners': 'too few of its miners stayed to finish it',
  'insufficient-reveals': 'too few of its miners revealed an output',
  'validation-timeout': 'its outputs could not be validated in time',
  'settlement-timeout': 'its settlement could not be written in time',
  declined: 'its miners declined it (it cannot run on the model)',
  unverifiable: 'its outputs differ and no oracle could replay them'
}

export type PenaltyReason = 'ack-timeout' | 'precommit-timeout' | 'reveal-timeout'

export interface MinerSlot {
  miner: string
  round: number
  status: MinerStatus
  /** when the miner's next step is due (ack or precommit), null otherwise */
  deadlineMs: number | null
  commitment?: string
  outputCid?: string
}

export interface QueueTimeouts {
  assignMs: number
  ackMs: number
  precommitMs: number
  revealMs: number
  validateMs: number
  settleMs: number
}

export interface QueueLimits {
  maxReassignments: number
  maxRetries: number
  minReveals: number
}

export interface TaskState {
  version: number
  taskId: string
  sessionId: string
  phase: TaskPhase
  redundancy: number
  createdAtMs: number
  /** absolute deadline of the task: after it, a task not yet in its reveal window expires */
  deadlineMs: number
  /** deadline of the current task-level phase (assign, reveal window, validate, settle) */
  phaseDeadlineMs: number | null
  /** highest assignment round seen */
  round: number
  /** replacements requested so far */
  reassignments: number
  /** replacements requested but not yet assigned */
  vacancies: number
  vacancyDeadlineMs: number | null
  /** overdue retries in the current phase */
  retries: number
  slots: MinerSlot[]
  accepted: string[]
  rejected: string[]
  txHash?: string
  expiredReason?: ExpireReason
  /** assigned miners that declined the task as one no miner can run (absent in states stored before declines existed) */
  declined?: string[]
  timeouts: QueueTimeouts
  limits: QueueLimits
}

export interface TaskInit {
  taskId: bigint | string
  sessionId: bigint | string
  redundancy: number
  /** absolute task deadline (epoch ms), from TaskQueued */
  deadlineMs: number
  timeouts?: Partial<QueueTimeouts>
  limits?: Partial<QueueLimits>
}

/** Inputs from the outside world (gossip, chain). Deadlines are not events: `tick` fires them. */
export type QueueEvent =
  /** `replaced` (a replacement round only): miners whose slots end now, their places taken by `miners` (the hub refused them) */
  | { type: 'assigned', miners: string[], round: number, replaced?: string[] }
  | { type: 'ack', miner: string }
  /** an assigned miner cannot run the task (too long for the model's context, unrunnable parameters) */
  | { type: 'declined', miner: string }
  | { type: 'precommit', miner: string, commitment: string }
  /** `matchesCommitment` is checked by the caller (hashing stays outside this pure core) */
  | { type: 'reveal', miner: string, outputCid: string, matchesCommitment: boolean }
  | { type: 'verdict', accepted: string[], rejected: string[] }
  | { type: 'settled', txHash: string }
  /** the hub settled the task (seen on chain, whoever sent it): from any phase not terminal, deadlines passed here notwithstanding */
  | { type: 'settled-on-chain', txHash: string }

/** What the caller should do; the state machine itself never does I/O. */
export type QueueEffect =
  | { type: 'select-miners', count: number, round: number }
  | { type: 'assignment-overdue', attempt: number }
  | { type: 'reassign', miner: string, round: number, reason: PenaltyReason }
  | { type: 'reassign-abandoned', count: number }
  | { type: 'penalise', miner: string, reason: PenaltyReason }
  | { type: 'slash', miner: string, reason: 'reveal-mismatch' }
  | { type: 'reveal-window-open', miners: string[] }
  | { type: 'validate', miners: string[], attempt: number }
  | { type: 'settle', accepted: string[], rejected: string[], attempt: number }
  | { type: 'settled', txHash: string }
  | { type: 'expired', reason: ExpireReason }

export interface TransitionResult {
  state: TaskState
  effects: QueueEffect[]
}
