/**
 * The submitter's measurement of each miner's first token, reported to the
 * oracles: the leader puts a report it gets before its verdict into the
 * miner's verdict entry, and every node folds it into the miner's measured
 * first-token latency (protocols/pool/delivery.ts), which draws use instead
 * of the miner's claim. Signed by the submitter's key (gossip signing); the
 * oracles take it only from the owner of the task's session.
 */
import { logger } from '@libp2p/logger'
import { publishMessage } from '../protocols/gossip/index.ts'
import { MAX_FIRST_TOKEN_MS, addressToBytes } from '../protocols/messages/index.ts'
import type { Tracked } from './tracked.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Hex } from 'viem'

const log = logger('cortensor:client')

/** Gossip the report of `miner`'s first token on `t` (once per miner and task; a failure is only logged). */
export function reportFirstToken (pubsub: GossipSub, prefix: string, submitter: Hex, t: Tracked, miner: string, ms: number): void {
  const reported = (t.reportedFirstToken ??= new Set())
  if (reported.has(miner)) {
    return
  }
  reported.add(miner)
  publishMessage(pubsub, 'first-token', {
    taskId: BigInt(t.record.taskId),
    sessionId: BigInt(t.record.sessionId),
    submitter: addressToBytes(submitter),
    miner: addressToBytes(miner as Hex),
    firstTokenMs: Math.min(MAX_FIRST_TOKEN_MS, Math.max(0, Math.round(ms)))
  }, { prefix }).catch((err) => { log('first-token report of task %s: %s', t.record.taskId, err?.message) })
}
