/**
 * The miner's own work on one task, as data: what it has done (its phase),
 * what may happen to it (events) and what the miner must do about it
 * (effects). The session queue (protocols/queue) says what the network
 * expects of the miner; this says how far the miner itself has got.
 */
import type { Decline } from '../messages/index.ts'

/** What the miner committed to: the output it stored and the precommit it signed (a copier has no output of its own). */
export interface MinerCommitment {
  outputCid?: string
  /** hex */
  salt?: string
  /** hex: the EIP-712 precommit hash */
  commitment: string
  /** hex: the node key's signature of it */
  signature: string
  /** tokens paid for the output */
  tokens?: number
}

/** Why the task cannot run on this miner's model: the decline it gets. */
export interface NotRunnable {
  reason: Decline.Reason
  message: string
  promptTokens: number
  contextTokens: number
}

/**
 * - `idle`: heard of, no work running (`assignmentSeen`: an assignment of the task has been handled, naming this miner or not)
 * - `speculating`: work started on the miner's own draw, before the assignment
 * - `refused`: assigned, but this miner will not ack (reserved for another session, or no announcement here has the chain's prompt)
 * - `working`: assigned and working; `acked` once its ack is gossiped and on disk (tokens go out only then)
 * - `unrunnable`: the work found that the task cannot run here; declined once per round it is assigned (`declinedRound`); `speculative` while work on its own draw is still to be settled; `seen` once an assignment was handled
 * - `committed`: the output is stored and the precommit signed
 * - `revealed`: the reveal is gossiped
 */
export type MinerWorkState =
  | { phase: 'idle', assignmentSeen: boolean }
  | { phase: 'speculating' }
  | { phase: 'refused' }
  | { phase: 'working', acked: boolean }
  | { phase: 'unrunnable', cause: NotRunnable, acked: boolean, speculative: boolean, seen: boolean, declinedRound: number | null }
  | { phase: 'committed', commitment: MinerCommitment, acked: boolean }
  | { phase: 'revealed', commitment: MinerCommitment }

export type MinerWorkPhase = MinerWorkState['phase']

/** The assignment's answer to this miner, as the role found it. */
export type MinerWorkEvent =
  /** the miner's own draw names it and it is free: start before the assignment */
  | { type: 'speculate' }
  /** work on the miner's own draw is not confirmed: the assignment names others, swaps the announcement, or none came in time */
  | { type: 'not-assigned' }
  /** an assignment of the task was handled (naming this miner or not) */
  | { type: 'assignment-seen' }
  /** assigned, but this miner will not ack */
  | { type: 'refuse' }
  /** assigned and free to serve */
  | { type: 'accept' }
  /** the ack is gossiped and stored */
  | { type: 'acked' }
  /** the work found the task cannot run here */
  | { type: 'not-runnable', cause: NotRunnable }
  /** the decline for `round` is being sent */
  | { type: 'declined', round: number }
  /** the output is stored and the precommit signed */
  | { type: 'committed', commitment: MinerCommitment }
  /** the queue opened the reveal window for this miner */
  | { type: 'reveal-window' }
  /** the reveal is gossiped */
  | { type: 'revealed' }
  /**
   * The miner restarted with this state stored; `slot` is its status in the
   * task's queue state as stored (acked or precommitted: the miner had
   * accepted the work).
   */
  | { type: 'restart', slot: 'acked' | 'precommitted' }

export type MinerWorkEffect =
  /** start generating (on the miner's own draw: held back until the assignment confirms it) */
  | { type: 'start-work', speculative: boolean }
  /** work started on the miner's own draw is confirmed */
  | { type: 'confirm-work' }
  /** work started on the miner's own draw is dropped: stop it, forget its tokens */
  | { type: 'drop-work' }
  /** tell the submitter and the oracles that the task cannot run here (for the round assigned) */
  | { type: 'decline', cause: NotRunnable }
  /** store the task's record */
  | { type: 'persist' }
  /** gossip the stored precommit again (a stop can lose what was just published); `toQueue`: apply it to the queue state too */
  | { type: 'resend-precommit', toQueue: boolean }
  /** gossip the reveal of the commitment */
  | { type: 'reveal' }
  /** token-stream requests waiting on the task look again */
  | { type: 'wake' }

export interface MinerWorkStep {
  state: MinerWorkState
  effects: MinerWorkEffect[]
}
