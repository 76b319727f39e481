/**
 * Group commit of task submissions. While a submission transaction of this
 * client waits for its receipt, further tasks queue; when it is mined, the
 * queue goes out together, one `submitTasks` transaction per session (at most
 * MAX_SUBMIT_BATCH tasks each). A lone task waits only `batchMs` for company
 * and goes out as a plain `submitTask`. Each task still gets its own id, seed
 * and reservation from its own `TaskSubmitted` event.
 *
 * One refused task would refuse its whole batch (the hub checks them in
 * order, all or nothing): a refused batch is split in halves, sent in order,
 * until every task the hub accepts is in and every task it refuses is alone
 * and gets its own typed error (ContractRuleError InsufficientDeposit, …).
 * The hub simulates each transaction before it is signed, so a refusal costs
 * a call, not gas. Browser-safe (viem only).
 */
import { MAX_SUBMIT_BATCH, submitTask, submitTasks } from '../contracts/actions/tasks.ts'
import { ContractRuleError, TransactionRevertedError } from '../contracts/errors.ts'
import type { SubmitTaskResult, TaskSubmission } from '../contracts/actions/tasks.ts'
import type { ChainContext } from '../contracts/context.ts'
import type { Hash } from 'viem'

/**
 * How long a task waits for others before its transaction goes out when
 * none of this client's is in flight: long enough for submissions started
 * together (their prompt stored and session read side by side) to meet, far
 * below a block time or a receipt poll (50 ms).
 */
export const DEFAULT_SUBMIT_BATCH_MS = 5

export interface SubmitBatcherInit {
  chain: Pick<ChainContext, 'wallet' | 'hub' | 'serial'>
  /** default DEFAULT_SUBMIT_BATCH_MS */
  batchMs?: number
  /** tasks in one transaction at most; default (and at most) MAX_SUBMIT_BATCH */
  maxBatch?: number
}

export interface SubmittedInBatch extends SubmitTaskResult {
  /** the transaction that submitted the task (shared with the other tasks of its batch) */
  hash: Hash
  /** tasks in that transaction */
  batchSize: number
}

export interface SubmitBatcherStats {
  /** submission transactions mined */
  transactions: number
  /** tasks they submitted */
  tasks: number
}

interface Entry {
  sessionId: bigint
  task: TaskSubmission
  resolve(s: SubmittedInBatch): void
  reject(err: unknown): void
}

/** A refusal of the whole batch that may come from one of its tasks. */
function refused (err: unknown): boolean {
  return err instanceof ContractRuleError || err instanceof TransactionRevertedError
}

export class SubmitBatcher {
  readonly stats: SubmitBatcherStats = { transactions: 0, tasks: 0 }
  private readonly init: SubmitBatcherInit
  private readonly batchMs: number
  private readonly maxBatch: number
  private queue: Entry[] = []
  private timer?: ReturnType<typeof setTimeout>
  private sending = false
  private stopped?: Error

  constructor (init: SubmitBatcherInit) {
    this.init = init
    this.batchMs = init.batchMs ?? DEFAULT_SUBMIT_BATCH_MS
    this.maxBatch = Math.max(1, Math.min(init.maxBatch ?? MAX_SUBMIT_BATCH, MAX_SUBMIT_BATCH))
  }

  /** Submit one task with whatever others are submitted now; resolves once its transaction is mined. */
  async submit (sessionId: bigint, task: TaskSubmission): Promise<SubmittedInBatch> {
    if (this.stopped != null) {
      throw this.stopped
    }
    return new Promise<SubmittedInBatch>((resolve, reject) => {
      this.queue.push({ sessionId, task, resolve, reject })
      if (!this.sending) {
        this.timer ??= setTimeout(() => { this.timer = undefined; void this.drain() }, this.batchMs)
      }
    })
  }

  /** Take no more tasks; tasks not yet sent fail with `reason` (a transaction already sent completes). */
  stop (reason: Error): void {
    this.stopped = reason
    clearTimeout(this.timer)
    this.timer = undefined
    for (const e of this.queue.splice(0)) {
      e.reject(reason)
    }
  }

  /** Send what waits, one round of transactions at a time, until nothing waits. */
  private async drain (): Promise<void> {
    this.sending = true
    try {
      while (this.queue.length > 0 && this.stopped == null) {
        const entries = this.queue.splice(0)
        const bySession = new Map<bigint, Entry[]>()
        for (const e of entries) {
          bySession.set(e.sessionId, [...(bySession.get(e.sessionId) ?? []), e])
        }
        const batches: Entry[][] = []
        for (const list of bySession.values()) {
          for (let i = 0; i < list.length; i += this.maxBatch) {
            batches.push(list.slice(i, i + this.maxBatch))
          }
        }
        // signed one after another on the key's nonce queue, their receipts awaited side by side
        await Promise.all(batches.map(async b => this.send(b)))
      }
    } finally {
      this.sending = false
    }
  }

  private async send (entries: Entry[]): Promise<void> {
    const { chain } = this.init
    const sessionId = entries[0].sessionId
    try {
      if (entries.length === 1) {
        const r = await submitTask(chain.wallet, { hub: chain.hub, sessionId, ...entries[0].task, serialize: chain.serial })
        this.count(1)
        entries[0].resolve({ taskId: r.taskId, seed: r.seed, reservedWei: r.reservedWei, hash: r.hash, batchSize: 1 })
        return
      }
      const r = await submitTasks(chain.wallet, { hub: chain.hub, sessionId, tasks: entries.map(e => e.task), serialize: chain.serial })
      this.count(entries.length)
      entries.forEach((e, i) => { e.resolve({ ...r.tasks[i], hash: r.hash, batchSize: entries.length }) })
    } catch (err) {
      if (entries.length > 1 && refused(err)) {
        // in order, so a deposit that runs out refuses the later tasks, as one submission after another would
        const half = Math.ceil(entries.length / 2)
        await this.send(entries.slice(0, half))
        await this.send(entries.slice(half))
        return
      }
      for (const e of entries) {
        e.reject(err)
      }
    }
  }

  private count (tasks: number): void {
    this.stats.transactions++
    this.stats.tasks += tasks
  }
}
