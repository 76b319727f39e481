/**
 * The oracle's checks of gossip beyond the default validators: a task
 * announcement agrees with the chain, and a precommit does not copy another
 * miner's commitment. Each throws ContradictsRecordError: the message is
 * ignored and its author, not the peers that relayed it, scored down.
 */
import { bytesToHex } from 'viem'
import { getTask } from '../../contracts/index.ts'
import { ContradictsRecordError } from '../../protocols/gossip/index.ts'
import type { ChainContext, SubmittedIndex } from './chain.ts'
import type { OracleRecord } from './oracle-tasks.ts'
import type { Precommit, TaskQueued } from '../../protocols/messages/index.ts'

/**
 * The announcement agrees with the chain: its submission log (indexed by
 * the log poller, or one short query, and kept for the seed) or, for a task
 * submitted before this oracle's poller started, the task's record.
 */
export async function checkOnChain (chain: ChainContext, submitted: SubmittedIndex, m: TaskQueued): Promise<void> {
  let t
  try {
    t = await submitted.recent(m.taskId) ?? await getTask(chain.wallet, { hub: chain.hub, taskId: m.taskId })
  } catch {
    throw new ContradictsRecordError('taskId', `task ${m.taskId} is not on chain`)
  }
  if (t.sessionId !== m.sessionId) {
    throw new ContradictsRecordError('sessionId', `task ${m.taskId} belongs to session ${t.sessionId} on chain`)
  }
  // a false seed would have miners start (and waste) work on tasks they will not be given
  if (m.seed != null && 'seed' in t && bytesToHex(m.seed) !== t.seed.toLowerCase()) {
    throw new ContradictsRecordError('seed', `chain says ${t.seed}`)
  }
  if (m.promptCid.length > 0 && t.maxTokens !== (m.params?.maxTokens ?? 0)) {
    throw new ContradictsRecordError('params.maxTokens', `chain says ${t.maxTokens}`)
  }
}

/** Two miners cannot commit to the same hash: salts are random, so the second one copied the first. */
export function checkNotCopied (record: Pick<OracleRecord, 'precommits'> | undefined, m: Precommit): void {
  if (record == null) {
    return
  }
  const commitment = bytesToHex(m.commitment)
  const miner = bytesToHex(m.miner).toLowerCase()
  for (const [other, p] of Object.entries(record.precommits)) {
    if (other !== miner && p.commitment === commitment) {
      throw new ContradictsRecordError('commitment', `already committed by ${other}: a copied commitment`)
    }
  }
}
