/**
 * The hub's copies of the leader's round-0 assignments. The gossip goes out
 * at once; the hub's copy follows with the other assignments of a short
 * window in one `assignTasks` transaction, and whatever needs it sooner (a
 * replacement, the settlement: miners are paid only for assignments the
 * chain knows) writes it at once, with the rest of its batch, with retries.
 */
import { logger } from '@libp2p/logger'
import { ContractRuleError, assignmentHash, assignTasks, getTask } from '../../../contracts/index.ts'
import { ASSIGN_RETRY_MS, ASSIGN_WRITE_ATTEMPTS, MAX_REFUSALS_PER_WRITE } from './constants.ts'
import { Gatherer } from './gatherer.ts'
import { retrying } from './retry.ts'
import type { OracleMetrics } from './metrics.ts'
import type { OracleTask } from './types.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { Address } from 'viem'

const log = logger('cortensor:oracle')

export interface AssignmentWritesInit {
  chain: ChainContext
  /** how long an assignment waits for others before one transaction */
  batchMs: number
  /** assignments in one transaction at most */
  maxBatch: number
  /** only the leader's assignTasks call is accepted by the hub */
  isLeader(): Promise<boolean>
  /** the role stopped: no more retries */
  signal: AbortSignal
  /** the task's record changed (assignedOnChain) */
  persist(task: OracleTask): void
  metrics: Pick<OracleMetrics, 'transaction'>
  /** the hub refused `miner` (not eligible): replace it in the task's assignment; false if it cannot be */
  replaceRefused(task: OracleTask, miner: string): Promise<boolean>
  say(line: string): void
}

export class AssignmentWrites {
  private readonly init: AssignmentWritesInit
  private readonly waiting: Gatherer<OracleTask>

  constructor (init: AssignmentWritesInit) {
    this.init = init
    this.waiting = new Gatherer({
      maxBatch: init.maxBatch,
      batchMs: init.batchMs,
      flush: async (tasks) => { await this.writeGathered(tasks) },
      onError: (err) => { init.say(`writing assignments failed: ${err.message}`) }
    })
  }

  /** Write the task's round-0 assignment with the next batch. */
  add (task: OracleTask): void {
    this.waiting.add(task.queued.taskId.toString(), task)
  }

  /**
   * The hub holds the task's round-0 assignment: written now if it was not
   * (by whichever oracle leads), one write shared by everyone waiting for it.
   * False while it cannot be written (this oracle does not lead, the task
   * left the queue on chain, or every attempt failed); later needs try again.
   */
  async onChain (task: OracleTask): Promise<boolean> {
    if (task.record.assignedOnChain === true) {
      return true
    }
    if (this.waiting.has(task.queued.taskId.toString())) {
      // needed now: its whole batch goes now, in one transaction (this sets each task's assignWrite)
      this.writeGathered(this.waiting.takeAll()).catch((err) => { this.init.say(`writing assignments failed: ${err.message}`) })
    }
    task.assignWrite ??= this.writeOne(task).finally(() => { task.assignWrite = undefined })
    return task.assignWrite
  }

  /** Write what waits for a batch now (a leader that stops leaves the hub its assignments), and take no more. */
  async stop (): Promise<void> {
    await this.waiting.stop({ flush: true })
  }

  /** One transaction for the gathered tasks still queued on chain; a lone task, and any the batch could not write, go on their own. */
  private async writeGathered (tasks: OracleTask[]): Promise<void> {
    const pending = tasks.filter(t => t.record.assignedOnChain !== true && t.assignWrite == null && t.record.assigned != null)
    if (pending.length < 2) {
      await Promise.allSettled(pending.map(async t => this.onChain(t)))
      return
    }
    const batch = this.writeBatch(pending)
    for (const t of pending) {
      t.assignWrite = batch
        .then(async (written) => written.has(t) || await this.writeOne(t))
        .finally(() => { t.assignWrite = undefined })
    }
    await Promise.allSettled(pending.map(async t => t.assignWrite))
  }

  /** One assignTasks transaction for the tasks still queued on chain; the tasks it wrote. */
  private async writeBatch (tasks: OracleTask[]): Promise<Set<OracleTask>> {
    const { chain } = this.init
    const statuses = await Promise.all(tasks.map(async t => getTask(chain.wallet, { hub: chain.hub, taskId: t.queued.taskId }).then(x => x.status, () => undefined)))
    const queued = tasks.filter((_, i) => statuses[i] === 'queued')
    if (queued.length < 2 || !(await this.init.isLeader())) {
      return new Set()
    }
    try {
      await chain.serial(async () => assignTasks(chain.wallet, { hub: chain.hub, assignments: queued.map(t => ({ taskId: t.queued.taskId, miners: t.record.assigned as Address[] })) }))
    } catch (err: any) {
      // one task the hub no longer holds as queued reverts them all: each then goes on its own
      log('%d assignments in one transaction failed: %s', queued.length, err?.shortMessage ?? err?.message)
      return new Set()
    }
    this.init.metrics.transaction('assign')
    log('%d assignments on chain in one transaction', queued.length)
    for (const t of queued) {
      t.record.assignedOnChain = true
      this.init.persist(t)
    }
    return new Set(queued)
  }

  /** Whether `err` is the hub refusing a miner, now replaced in the task's assignment. */
  private async replaced (task: OracleTask, err: any): Promise<boolean> {
    if (!(err instanceof ContractRuleError) || err.rule !== 'MinerNotEligible' || this.init.signal.aborted) {
      return false
    }
    return this.init.replaceRefused(task, String(err.args?.[1] ?? ''))
  }

  private async writeOne (task: OracleTask): Promise<boolean> {
    const taskId = task.queued.taskId
    let refusals = 0
    try {
      return await retrying(async () => {
        for (;;) {
          try {
            return await this.writeAttempt(task)
          } catch (err: any) {
            // a miner the hub will not take is replaced at once, and the assignment written again
            if (refusals < MAX_REFUSALS_PER_WRITE && await this.replaced(task, err)) {
              refusals++
              continue
            }
            throw err
          }
        }
      }, {
        attempts: ASSIGN_WRITE_ATTEMPTS,
        firstDelayMs: ASSIGN_RETRY_MS,
        signal: this.init.signal,
        // a hub rule other than a lost race (the status is read again) will not change by retrying
        permanent: (err) => err instanceof ContractRuleError && err.rule !== 'TaskNotQueued',
        onRetry: (err, attempt) => { log('task %s: writing the assignment failed (attempt %d): %s', taskId, attempt, err?.shortMessage ?? err?.message) }
      })
    } catch (err: any) {
      this.init.say(`task ${taskId}: the assignment is not on chain (${err?.shortMessage ?? err?.message ?? err}); the task is not settled until it is`)
      return false
    }
  }

  /** One try at the hub's copy: true once the hub holds an assignment for the task, false if it cannot (a failure throws). */
  private async writeAttempt (task: OracleTask): Promise<boolean> {
    const { chain } = this.init
    const taskId = task.queued.taskId
    // read each time: a miner the hub refused is replaced in it
    const miners = task.record.assigned as Address[] | undefined
    if (miners == null) {
      return false
    }
    const onChain = await getTask(chain.wallet, { hub: chain.hub, taskId })
    if (onChain.status === 'queued') {
      if (!(await this.init.isLeader())) {
        return false
      }
      await chain.serial(async () => assignTasks(chain.wallet, { hub: chain.hub, assignments: [{ taskId, miners }] }))
      this.init.metrics.transaction('assign')
      log('task %s: assignment on chain', taskId)
    } else if (onChain.status === 'assigned') {
      if (task.record.state.round === 0 && onChain.assignment.toLowerCase() !== assignmentHash(miners).toLowerCase()) {
        // another leader's choice reached the hub first: settlement follows the hub's
        this.init.say(`task ${taskId}: the hub holds another assignment than the one gossiped`)
      }
    } else if (onChain.status !== 'settled') {
      this.init.say(`task ${taskId}: the assignment cannot go on chain: the task is ${onChain.status} there`)
      return false
    }
    task.record.assignedOnChain = true
    this.init.persist(task)
    return true
  }
}
