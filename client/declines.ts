/**
 * A task its miners decline: when a majority of the task's redundancy (the
 * same quorum the oracles use, protocols/queue) of its assigned miners says
 * the task cannot run on the model, the submitter fails it at once with the
 * reason instead of waiting for its deadline. One miner's word is not
 * enough: a lone decline (a rogue, or a miner with a smaller context) leaves
 * the task to the others.
 */
import { bytesToHex } from 'viem'
import { Decline } from '../protocols/messages/index.ts'
import { declineQuorum } from '../protocols/queue/machine.ts'
import { TaskFailedError } from './errors.ts'
import type { Tracked } from './tracked.ts'

/** The error code a decline reason fails a task with. */
export function declineCode (reason: Decline.Reason): string {
  return reason === Decline.Reason.CONTEXT_OVERFLOW ? 'context_length_exceeded' : 'invalid_params'
}

/** Record `m` on the task; the failure it completes, if a quorum of assigned miners now agrees. */
export function noteDecline (t: Tracked, m?: Decline): TaskFailedError | undefined {
  const declines = t.declines ??= new Map()
  if (m != null) {
    declines.set(bytesToHex(m.miner).toLowerCase(), m)
  }
  const assigned = declines.size === 0 ? [] : [...declines.entries()].filter(([miner]) => t.record.miners.includes(miner))
  const redundancy = t.queued?.redundancy ?? 1
  if (assigned.length < declineQuorum(redundancy)) {
    return undefined
  }
  // the reason most of them give, and its figures from the first that gave it
  const byReason = new Map<Decline.Reason, Decline[]>()
  for (const [, d] of assigned) {
    byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), d])
  }
  const [reason, agreeing] = [...byReason.entries()].sort((a, b) => b[1].length - a[1].length)[0]
  const d = agreeing[0]
  const maxTokens = t.queued?.params?.maxTokens ?? 0
  const message = reason === Decline.Reason.CONTEXT_OVERFLOW
    ? `task ${t.record.taskId} does not fit the model's context: the prompt is ${d.promptTokens} tokens and max_tokens is ${maxTokens}, ` +
      `${d.promptTokens + maxTokens} tokens in all; the model's context is ${d.contextTokens} tokens`
    : `task ${t.record.taskId} cannot run on the model: ${d.message}`
  return new TaskFailedError(declineCode(reason), message, t.record.taskId, {
    promptTokens: d.promptTokens > 0 ? d.promptTokens : undefined,
    contextTokens: d.contextTokens > 0 ? d.contextTokens : undefined
  })
}
