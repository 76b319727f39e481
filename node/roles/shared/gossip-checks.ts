/**
 * Checks of gossip beyond the default validators: a task announcement is
 * the chain's record of the task (its author owns the session, its prompt,
 * parameters and seed are the ones submitted), and a precommit does not copy
 * another miner's commitment. Each throws ContradictsRecordError: the message
 * is ignored and its author, not the peers that relayed it, scored down.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { cidDigest, taskParamsDigest } from '../../../protocols/blocks/index.ts'
import { ContradictsRecordError, UnknownTaskError } from '../../../protocols/gossip/index.ts'
import { checkRevealSignature } from '../oracle/equivocation.ts'
import { OracleSet, SessionOwners, NotSubmittedError } from './chain.ts'
import { chainRegistrations, registeredHeartbeats } from './pool.ts'
import type { ChainContext, SubmittedIndex, SubmittedTask } from './chain.ts'
import type { MinerRegistrations } from './pool.ts'
import type { HubDomain } from '../../../contracts/index.ts'
import type { GossipValidators } from '../../../protocols/gossip/index.ts'
import type { FirstTokenReport, Precommit, TaskQueued } from '../../../protocols/messages/index.ts'
import type { OracleRecord } from '../oracle/tasks.ts'

/**
 * Only a session's owner can submit its tasks, so only it can announce them:
 * an announcement by anyone else is a forgery (a front-run of the task id, a
 * task that is not on chain). Cheap: one chain read per session, ever.
 */
export async function checkSubmitter (owners: Pick<SessionOwners, 'owner'>, m: Pick<TaskQueued, 'sessionId' | 'taskId' | 'submitter'>): Promise<void> {
  const owner = await owners.owner(m.sessionId)
  if (owner === undefined) {
    // the session could not be read now: not the author's fault, try with the next announcement
    throw new UnknownTaskError(m.taskId)
  }
  if (owner === null) {
    throw new ContradictsRecordError('sessionId', `session ${m.sessionId} does not exist`)
  }
  const submitter = bytesToHex(m.submitter).toLowerCase()
  if (submitter !== owner.toLowerCase()) {
    throw new ContradictsRecordError('submitter', `session ${m.sessionId} belongs to ${owner}, not ${submitter}`)
  }
}

/**
 * What a node holding the chain but not every task's record (a miner)
 * checks beyond `base`: an announcement is its session owner's, an
 * assignment an oracle's, a heartbeat an eligible miner's (only those the
 * hub assigns).
 */
export function chainCheckedValidators (base: GossipValidators, chain: Pick<ChainContext, 'wallet' | 'hub'>): GossipValidators {
  const owners = new SessionOwners(chain)
  const oracles = new OracleSet(chain)
  return {
    ...base,
    task: async (m, ctx) => {
      await base.task(m, ctx)
      await checkSubmitter(owners, m)
    },
    assignment: async (m, ctx) => {
      await base.assignment(m, ctx)
      const oracle = await oracles.has(ctx.fromAddress)
      if (oracle === undefined) {
        throw new UnknownTaskError(m.taskId)
      }
      if (!oracle) {
        // a forged assignment would have miners work for nothing, and make the leader's a duplicate
        throw new ContradictsRecordError('leader', `${ctx.fromAddress} is not an oracle on chain`)
      }
    },
    'first-token': async (m, ctx) => {
      await base['first-token'](m, ctx)
      await checkSubmitter(owners, m)
    },
    heartbeat: registeredHeartbeats(base.heartbeat, chainRegistrations(chain))
  }
}

/** What an oracle checks beyond `base`: announcements, heartbeats, precommits and reveals against the chain and its records. */
export function oracleValidators (base: GossipValidators, records: {
  domain: HubDomain
  submitted: Pick<SubmittedIndex, 'lookup'>
  owners: Pick<SessionOwners, 'owner'>
  registrations: MinerRegistrations
  record(taskId: bigint): Pick<OracleRecord, 'precommits'> | undefined
  /** the session of a task this oracle follows (undefined: not known here) */
  sessionOf?(taskId: bigint): bigint | undefined
}): GossipValidators {
  return {
    ...base,
    task: async (m, ctx) => {
      await base.task(m, ctx)
      await checkOnChain(records, m)
    },
    heartbeat: registeredHeartbeats(base.heartbeat, records.registrations),
    precommit: async (m, ctx) => {
      await base.precommit(m, ctx)
      checkNotCopied(records.record(m.taskId), m)
    },
    reveal: async (m, ctx) => {
      await base.reveal(m, ctx)
      await checkRevealSignature(records.domain, m, ctx)
    },
    'first-token': async (m, ctx) => {
      await base['first-token'](m, ctx)
      await checkReporter(records, m)
    }
  }
}

/**
 * A first-token report comes from the submitter of its task: the owner of
 * the session on chain, and the task is one of that session's (as the
 * oracle's record of its announcement, checked against the chain, says).
 * Anyone else's report is a forgery: ignored, its author scored down.
 */
export async function checkReporter (records: { owners: Pick<SessionOwners, 'owner'>, sessionOf?(taskId: bigint): bigint | undefined }, m: FirstTokenReport): Promise<void> {
  if (records.sessionOf != null) {
    const sessionId = records.sessionOf(m.taskId)
    if (sessionId == null) {
      throw new UnknownTaskError(m.taskId)
    }
    if (sessionId !== m.sessionId) {
      throw new ContradictsRecordError('sessionId', `task ${m.taskId} belongs to session ${sessionId}`)
    }
  }
  await checkSubmitter(records.owners, m)
}

/** The announcement says what the chain's TaskSubmitted log says. */
export function checkSubmitted (t: SubmittedTask, m: TaskQueued): void {
  if (t.sessionId !== m.sessionId) {
    throw new ContradictsRecordError('sessionId', `task ${m.taskId} belongs to session ${t.sessionId} on chain`)
  }
  if (cidDigest(CID.decode(m.promptCid)) !== t.promptDigest) {
    throw new ContradictsRecordError('promptCid', `task ${m.taskId} was submitted with prompt digest ${t.promptDigest}`)
  }
  if (m.params == null || taskParamsDigest(m.params) !== t.paramsDigest) {
    throw new ContradictsRecordError('params', `task ${m.taskId} was submitted with params digest ${t.paramsDigest}`)
  }
  if (t.maxTokens !== m.params.maxTokens) {
    throw new ContradictsRecordError('params.maxTokens', `chain says ${t.maxTokens}`)
  }
  // a false seed would have miners start (and waste) work on tasks they will not be given
  if (m.seed != null && bytesToHex(m.seed) !== t.seed.toLowerCase()) {
    throw new ContradictsRecordError('seed', `chain says ${t.seed}`)
  }
}

/**
 * The announcement is the chain's record of the task: its author owns the
 * session, and the submission log (indexed by the log poller, or one short
 * query, or for a task older than the poller a search from block 0) has its
 * prompt, parameters and seed. A chain that cannot be read is nobody's
 * fault: that error goes on (the message is ignored, nobody scored).
 */
export async function checkOnChain (records: { submitted: Pick<SubmittedIndex, 'lookup'>, owners: Pick<SessionOwners, 'owner'> }, m: TaskQueued): Promise<void> {
  await checkSubmitter(records.owners, m)
  let t: SubmittedTask
  try {
    t = await records.submitted.lookup(m.taskId)
  } catch (err: any) {
    if (err instanceof NotSubmittedError) {
      throw new ContradictsRecordError('taskId', `task ${m.taskId} is not on chain`)
    }
    throw err
  }
  checkSubmitted(t, m)
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
