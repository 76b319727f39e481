/**
 * Tasks the network gives up, given up on chain at once: the leader calls
 * the hub's `abandonTasks` for the tasks its queue expired (and those it
 * cannot verify), so each session's reservation returns now rather than at
 * the hub's deadline (minutes), and the submitter reads the reason from the
 * `TaskAbandoned` log instead of waiting for its own timeout. Every oracle
 * keeps the tasks its queue expired until the chain shows them settled or
 * expired, so a leader that dies before giving them up leaves them to the
 * next one.
 */
import { abandonTasks } from '../../../contracts/index.ts'
import { ABANDON_REASONS } from '../../../protocols/queue/types.ts'
import { settledTaskIds } from '../shared/chain.ts'
import type { AbandonReason } from '../../../protocols/queue/types.ts'
import type { ChainContext, HubLog } from '../shared/chain.ts'

/** Tasks in one `abandonTasks` transaction at most (each about 10k gas). */
export const ABANDON_MAX_BATCH = 100
/** how long a task expired here waits for tasks expiring with it before the transaction */
export const ABANDON_BATCH_MS = 250
/** how often tasks left by a failed or not-leading attempt are tried again */
export const ABANDON_RETRY_MS = 2_000
/** a task still open on chain this long after it expired here is left to the hub's deadline */
export const ABANDON_GIVE_UP_MS = 10 * 60_000
/** tasks remembered at most (oldest dropped first) */
export const ABANDON_MAX_PENDING = 10_000

interface Pending { taskId: bigint, reason: AbandonReason, sinceMs: number }

export interface AbandonsInit {
  chain: ChainContext
  isLeader(): Promise<boolean>
  /** tasks given up on chain by this oracle's transaction */
  onAbandoned?(tasks: Array<{ taskId: bigint, reason: AbandonReason }>): void
  say(line: string): void
  now?(): number
}

export class Abandons {
  private readonly init: AbandonsInit
  private readonly pending = new Map<string, Pending>()
  private timer?: ReturnType<typeof setTimeout>
  private flushing?: Promise<void>
  private stopped = false

  constructor (init: AbandonsInit) {
    this.init = init
  }

  private now (): number {
    return this.init.now?.() ?? Date.now()
  }

  /** Tasks waiting to be given up on chain. */
  get size (): number {
    return this.pending.size
  }

  /** Give `taskId` up on chain with the next batch (when this oracle leads). */
  add (taskId: bigint, reason: AbandonReason): void {
    if (this.stopped) {
      return
    }
    const key = taskId.toString()
    if (!this.pending.has(key)) {
      this.pending.set(key, { taskId, reason, sinceMs: this.now() })
      if (this.pending.size > ABANDON_MAX_PENDING) {
        this.pending.delete(this.pending.keys().next().value as string)
      }
    }
    this.schedule(ABANDON_BATCH_MS)
  }

  /** The chain settled or expired a task: nothing left to give up. */
  onChainLog (l: HubLog): void {
    if (l.eventName === 'TaskExpired') {
      this.pending.delete(l.args.taskId.toString())
    } else if (l.eventName === 'TasksSettled') {
      for (const id of settledTaskIds(l.args.settled)) {
        this.pending.delete(id.toString())
      }
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.flushing
  }

  private schedule (delayMs: number): void {
    if (this.stopped || this.timer != null || this.pending.size === 0) {
      return
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined
        this.schedule(ABANDON_RETRY_MS)
      })
    }, delayMs)
  }

  private async flush (): Promise<void> {
    const now = this.now()
    for (const [key, p] of this.pending) {
      if (now - p.sinceMs > ABANDON_GIVE_UP_MS) {
        this.pending.delete(key)
      }
    }
    if (this.stopped || this.pending.size === 0 || !(await this.init.isLeader())) {
      return
    }
    const batch = [...this.pending.values()].slice(0, ABANDON_MAX_BATCH)
    const { chain } = this.init
    try {
      const res = await chain.serial(async () => abandonTasks(chain.wallet, {
        hub: chain.hub,
        tasks: batch.map(p => ({ taskId: p.taskId, reason: ABANDON_REASONS.indexOf(p.reason) }))
      }))
      // sent and mined: the open ones are given up, the others were settled or expired meanwhile
      for (const p of batch) {
        this.pending.delete(p.taskId.toString())
      }
      if (res.abandoned.length > 0) {
        const given = res.abandoned.map(a => ({ taskId: a.taskId, reason: ABANDON_REASONS[a.reason] ?? 'deadline' }))
        this.init.say(`gave up ${given.map(g => `task ${g.taskId} (${g.reason})`).join(', ')} on chain in ${res.hash}: deposits returned`)
        this.init.onAbandoned?.(given)
      }
    } catch (err: any) {
      // lost the lead or the chain refused: tried again later, by whoever leads then
      this.init.say(`giving up ${batch.length} task(s) on chain failed: ${err?.shortMessage ?? err?.message ?? err}`)
    }
  }
}
