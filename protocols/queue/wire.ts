/**
 * Gossip messages → queue inputs, so every role feeds the state machine the
 * same way. Messages must have passed the gossip validators first.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { MinerVerdict } from '../messages/index.ts'
import type { QueueEvent, TaskInit } from './types.ts'
import type { Ack, Assignment, Decline, Precommit, Reveal, TaskQueued, Verdict } from '../messages/index.ts'

const hexAddress = (b: Uint8Array): string => bytesToHex(b).toLowerCase()

export function taskInitFrom (m: TaskQueued, init: Partial<Pick<TaskInit, 'timeouts' | 'limits'>> = {}): TaskInit {
  return { taskId: m.taskId, sessionId: m.sessionId, redundancy: m.redundancy, deadlineMs: Number(m.deadlineMs), ...init }
}

export function assignedEvent (m: Assignment): QueueEvent {
  return { type: 'assigned', miners: m.miners.map(hexAddress), round: m.round, ...(m.replaced.length > 0 ? { replaced: m.replaced.map(hexAddress) } : {}) }
}

export function ackEvent (m: Ack): QueueEvent {
  return { type: 'ack', miner: hexAddress(m.miner) }
}

export function declineEvent (m: Decline): QueueEvent {
  return { type: 'declined', miner: hexAddress(m.miner) }
}

export function precommitEvent (m: Precommit): QueueEvent {
  return { type: 'precommit', miner: hexAddress(m.miner), commitment: bytesToHex(m.commitment) }
}

/** `matchesCommitment`: the caller recomputed the EIP-712 hash of the reveal and compared it with the precommit. */
export function revealEvent (m: Reveal, matchesCommitment: boolean): QueueEvent {
  return { type: 'reveal', miner: hexAddress(m.miner), outputCid: CID.decode(m.outputCid).toString(), matchesCommitment }
}

export function verdictEvent (m: Verdict): QueueEvent {
  const judged = m.miners.filter(v => v.outcome !== MinerVerdict.Outcome.MISSING && v.outcome !== MinerVerdict.Outcome.REVEAL_MISMATCH)
  return {
    type: 'verdict',
    accepted: judged.filter(v => v.outcome === MinerVerdict.Outcome.ACCEPTED).map(v => hexAddress(v.miner)),
    rejected: judged.filter(v => v.outcome !== MinerVerdict.Outcome.ACCEPTED).map(v => hexAddress(v.miner))
  }
}
