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
import QuickLRU from 'quick-lru'
import { abandonTasks } from '../../../contracts/index.ts'
import { ABANDON_REASONS } from '../../../protocols/queue/types.ts'
import { settledTaskIds } from '../shared/chain.ts'
import { ABANDON_BATCH_MS, ABANDON_GIVE_UP_MS, ABANDON_MAX_BATCH, ABANDON_MAX_PENDING, ABANDON_RETRY_MS } from './constants.ts'
import type { AbandonReason } from '../../../protocols/queue/types.ts'
import type { ChainContext, HubLog } from '../shared/chain.ts'

export { ABANDON_BATCH_MS, ABANDON_GIVE_UP_MS, ABANDON_MAX_BATCH, ABANDON_MAX_PENDING, ABANDON_RETRY_MS } from './constants.ts'

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
  /** the latest ABANDON_MAX_PENDING tasks at least (fewer than twice that at most: quick-lru's two generations), the least recently added dropped first */
  private readonly pending = new QuickLRU<string, Pending>({ maxSize: ABANDON_MAX_PENDING })
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
    for (const [key, p] of [...this.pending.entriesAscending()]) {
      if (now - p.sinceMs > ABANDON_GIVE_UP_MS) {
        this.pending.delete(key)
      }
    }
    if (this.stopped || this.pending.size === 0 || !(await this.init.isLeader())) {
      return
    }
    const batch = [...this.pending.entriesAscending()].slice(0, ABANDON_MAX_BATCH).map(([, p]) => p)
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
