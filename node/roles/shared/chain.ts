/**
 * What a role needs from the chain: the shared chain context and hub log
 * poller (contracts/context.ts), plus the indexes roles keep of submitted
 * tasks and their assignments.
 */
import { bytesToHex, numberToBytes } from 'viem'
import { getContractEvents } from 'viem/actions'
import { getOracles } from '../../../contracts/actions/oracles.ts'
import { getSession } from '../../../contracts/actions/sessions.ts'
import { cortensorHubAbi } from '../../../contracts/generated/cortensorHub.ts'
import { LookupCache } from '../../../protocols/pool/registrations.ts'
import type { ChainContext, HubLog, HubWatcher } from '../../../contracts/context.ts'
import type { Address, Hex } from 'viem'

export { createChainContext, settledTaskIds, watchHub } from '../../../contracts/context.ts'
export type { ChainContext, ChainContextInit, HubLog, HubWatcher } from '../../../contracts/context.ts'

/** What the hub's TaskSubmitted log says about a task. */
export interface SubmittedTask {
  sessionId: bigint
  maxTokens: number
  /** the selection seed the chain chose (prevrandao of the submit block mixed with the task id), as bytes32 */
  seed: Hex
  /** the submit block: every later event of the task is at or after it */
  blockNumber: bigint
  /** the digest of the prompt's CID (its multihash digest) */
  promptDigest: Hex
  /** `taskParamsDigest` of the sampling parameters */
  paramsDigest: Hex
}

/** The chain has no TaskSubmitted log for the task. */
export class NotSubmittedError extends Error {
  static name = 'NotSubmittedError'
  readonly taskId: bigint

  constructor (taskId: bigint) {
    super(`task ${taskId}: no TaskSubmitted event on chain`)
    this.name = 'NotSubmittedError'
    this.taskId = taskId
  }
}

/** Submitted tasks kept for lookup; announcements follow submission within seconds. */
const SUBMITTED_INDEX_SIZE = 10_000

type TaskSubmittedLog = Extract<HubLog, { eventName: 'TaskSubmitted' }>

/**
 * TaskSubmitted logs by task id, fed by the role's log poller (`onLog`).
 * A task the poller has not delivered yet is read from the chain from the
 * poller's position on, so a lookup costs nothing or one short log query,
 * however long the chain; only a task submitted before the poller started is
 * searched from block 0.
 */
export class SubmittedIndex {
  private readonly ctx: Pick<ChainContext, 'wallet' | 'hub'>
  private readonly tasks = new Map<bigint, SubmittedTask>()
  private watcher?: Pick<HubWatcher, 'deliveredBefore'>

  constructor (ctx: Pick<ChainContext, 'wallet' | 'hub'>) {
    this.ctx = ctx
  }

  /** the poller whose position bounds the chain queries */
  follow (watcher: Pick<HubWatcher, 'deliveredBefore'>): void {
    this.watcher = watcher
  }

  onLog (log: HubLog): void {
    if (log.eventName === 'TaskSubmitted') {
      this.remember(log.args.taskId, submittedOf(log))
    }
  }

  /**
   * A submission since the poller started: from the index, else one log
   * query from the poller's position on. Undefined if neither has it (the
   * task predates the poller, or is not on chain).
   */
  async recent (taskId: bigint): Promise<SubmittedTask | undefined> {
    const known = this.tasks.get(taskId)
    if (known != null) {
      return known
    }
    // logs below the poller's position were delivered (and indexed) unless they predate the poller; a
    // position past the chain's head (no block since the last poll) is refused by the node: nothing is newer
    const from = this.watcher?.deliveredBefore
    const found = await this.query(taskId, from ?? 0n).catch((err) => { if (from == null) { throw err } }) ?? this.tasks.get(taskId)
    if (found != null) {
      this.remember(taskId, found)
    }
    return found
  }

  /** The task's submission, searched from block 0 if it predates the poller; throws if the chain has none. */
  async lookup (taskId: bigint): Promise<SubmittedTask> {
    const found = await this.recent(taskId) ?? (this.watcher?.deliveredBefore != null ? await this.query(taskId, 0n) : undefined)
    if (found == null) {
      throw new NotSubmittedError(taskId)
    }
    return found
  }

  /** Forget a task once its submission is recorded elsewhere. */
  delete (taskId: bigint): void {
    this.tasks.delete(taskId)
  }

  private remember (taskId: bigint, task: SubmittedTask): void {
    this.tasks.set(taskId, task)
    if (this.tasks.size > SUBMITTED_INDEX_SIZE) {
      const oldest = this.tasks.keys().next().value
      if (oldest != null) {
        this.tasks.delete(oldest)
      }
    }
  }

  private async query (taskId: bigint, fromBlock: bigint): Promise<SubmittedTask | undefined> {
    const logs = await getContractEvents(this.ctx.wallet, { address: this.ctx.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', args: { taskId }, fromBlock, strict: true })
    return logs.length === 0 ? undefined : submittedOf(logs[0])
  }
}

function submittedOf (log: Pick<TaskSubmittedLog, 'args' | 'blockNumber'>): SubmittedTask {
  return {
    sessionId: log.args.sessionId,
    maxTokens: log.args.maxTokens,
    seed: seedHex(log.args.seed),
    blockNumber: log.blockNumber,
    promptDigest: log.args.promptDigest.toLowerCase() as Hex,
    paramsDigest: log.args.paramsDigest.toLowerCase() as Hex
  }
}

function seedHex (seed: bigint): Hex {
  return bytesToHex(numberToBytes(seed, { size: 32 }))
}

/** how long an unknown session stays unknown before it is read again */
const UNKNOWN_SESSION_RECHECK_MS = 5_000
/** session reads started per second at most, however many unknown ids are announced */
const SESSION_READS_PER_S = 20

/**
 * Owners of sessions, read from the hub once each (an owner never changes):
 * only a session's owner can submit its tasks, so only it can announce
 * them. An unknown session is read again after a while; reads of unknown ids
 * are bounded per second.
 */
export class SessionOwners {
  private readonly sessions: LookupCache<{ owner: Address, slaClass: number } | null>

  constructor (ctx: Pick<ChainContext, 'wallet' | 'hub'>) {
    this.sessions = new LookupCache({
      read: async (id) => {
        const s = await getSession(ctx.wallet, { hub: ctx.hub, sessionId: BigInt(id) })
        return /^0x0{40}$/.test(s.owner) ? null : { owner: s.owner.toLowerCase() as Address, slaClass: s.slaClass }
      },
      ttlMs: (session) => session == null ? UNKNOWN_SESSION_RECHECK_MS : Number.POSITIVE_INFINITY,
      readsPerSecond: SESSION_READS_PER_S,
      maxEntries: SUBMITTED_INDEX_SIZE
    })
  }

  /** The owner; null if the session does not exist; undefined if it cannot be read now. */
  async owner (sessionId: bigint): Promise<Address | null | undefined> {
    const s = await this.sessions.get(sessionId.toString())
    if (s == null) {
      return s
    }
    return s.owner
  }

  /** The session's SLA class (its terms never change); undefined if it cannot be read now or does not exist. */
  async slaClass (sessionId: bigint): Promise<number | undefined> {
    return (await this.sessions.get(sessionId.toString()))?.slaClass
  }
}

/** the hub's oracle set is read again at most this often when an unknown sender claims to be one */
const ORACLE_SET_RECHECK_MS = 5_000

/**
 * The hub's oracle set, for nodes that do not follow leadership (miners):
 * only an oracle may assign. Read once, and again when a sender not in it
 * claims to be one, at most every ORACLE_SET_RECHECK_MS.
 */
export class OracleSet {
  private readonly ctx: Pick<ChainContext, 'wallet' | 'hub'>
  private oracles?: Set<string>
  private readAtMs = 0
  private reading?: Promise<Set<string>>

  constructor (ctx: Pick<ChainContext, 'wallet' | 'hub'>) {
    this.ctx = ctx
  }

  /** Whether `address` is an oracle on the hub (as last read); undefined if the set could not be read. */
  async has (address: string): Promise<boolean | undefined> {
    const a = address.toLowerCase()
    if (this.oracles?.has(a) === true) {
      return true
    }
    if (this.oracles != null && Date.now() - this.readAtMs < ORACLE_SET_RECHECK_MS) {
      return false
    }
    try {
      return (await this.read()).has(a)
    } catch {
      return this.oracles?.has(a)
    }
  }

  private async read (): Promise<Set<string>> {
    this.reading ??= getOracles(this.ctx.wallet, { hub: this.ctx.hub })
      .then((list) => {
        this.oracles = new Set(list.map(o => o.toLowerCase()))
        this.readAtMs = Date.now()
        return this.oracles
      })
      .finally(() => { this.reading = undefined })
    return this.reading
  }
}

/**
 * The task's miners in assignment order as the hub knows them (its
 * assignment, then each replacement), read from `fromBlock` on: pass the
 * submit block so the query spans the task's life, not the chain's.
 * Empty if the task has no assignment on chain.
 */
export async function assignedMiners (ctx: Pick<ChainContext, 'wallet' | 'hub'>, taskId: bigint, fromBlock: bigint): Promise<Address[]> {
  const [assigned, replaced] = await Promise.all([
    getContractEvents(ctx.wallet, { address: ctx.hub, abi: cortensorHubAbi, eventName: 'TaskAssigned', args: { taskId }, fromBlock, strict: true }),
    getContractEvents(ctx.wallet, { address: ctx.hub, abi: cortensorHubAbi, eventName: 'MinerReassigned', args: { taskId }, fromBlock, strict: true })
  ])
  if (assigned.length === 0) {
    return []
  }
  const miners = [...assigned[assigned.length - 1].args.miners]
  for (const r of replaced) {
    miners[Number(r.args.index)] = r.args.replacement
  }
  return miners
}
