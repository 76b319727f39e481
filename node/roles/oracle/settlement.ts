/**
 * Settlement on the oracle's side: the leader gathers validated tasks for a
 * short window (or until a batch is full) and settles them in one hub
 * transaction; and each miner's line in it, a pure function of the task's
 * record.
 */
import { CID } from 'multiformats/cid'
import { VERDICT_FAULTY, VERDICT_HONEST, VERDICT_MISSED, getTask, settleBatch } from '../../../contracts/index.ts'
import { MinerVerdict } from '../../../protocols/messages/index.ts'
import { cidDigest } from '../shared/records.ts'
import { Gatherer } from './gatherer.ts'
import { chainMiners } from './tasks.ts'
import type { AssignmentWrites } from './assignment-writes.ts'
import type { OracleTask } from './types.ts'
import type { TaskVerdicts } from '../../../contracts/index.ts'
import type { AbandonReason } from '../../../protocols/queue/types.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { Address, Hex } from 'viem'

/** A miner's line in a task's settlement: paid for its tokens if honest, else faulty or missed. */
export function minerVerdict (task: Pick<OracleTask, 'queued' | 'record'>, miner: Address): TaskVerdicts['miners'][number] {
  const m = miner.toLowerCase()
  const outcome = task.record.outcomes?.[m]
  const reveal = task.record.reveals[m]
  const pre = task.record.precommits[m]
  const equivocated = task.record.equivocations?.[m]
  if (equivocated != null) {
    // it signed two different outputs: failed and unpaid, with the precommit its matching reveal disclosed
    const { outputDigest, salt, signature } = equivocated.precommit
    return { miner, verdict: VERDICT_FAULTY, tokens: 0, onTime: true, outputDigest, salt, precommitSignature: signature }
  }
  if (outcome == null || reveal == null || pre == null || outcome === MinerVerdict.Outcome.MISSING || outcome === MinerVerdict.Outcome.REVEAL_MISMATCH) {
    return { miner, verdict: VERDICT_MISSED }
  }
  const honest = outcome === MinerVerdict.Outcome.ACCEPTED
  return {
    miner,
    verdict: honest ? VERDICT_HONEST : VERDICT_FAULTY,
    tokens: honest ? Math.min(task.record.tokens?.[m] ?? 0, task.queued.params?.maxTokens ?? 0) : 0,
    onTime: true,
    outputDigest: cidDigest(CID.parse(reveal.outputCid)),
    salt: reveal.salt,
    precommitSignature: pre.signature
  }
}

/**
 * A validated task's line in the batch, or nothing if the hub cannot settle
 * it: one such task would revert the whole batch. The hub settles only
 * assignments it holds, so a task whose assignment cannot be written stays
 * unsettled (the queue retries its settlement, then expires it).
 */
export async function settlementEntry (ctx: { chain: ChainContext, assignments: Pick<AssignmentWrites, 'onChain'>, abandon?(taskId: bigint, reason: AbandonReason): void, say(line: string): void }, task: OracleTask): Promise<TaskVerdicts | undefined> {
  const { chain } = ctx
  const taskId = task.queued.taskId
  if (task.record.state.phase !== 'validated') {
    return undefined
  }
  if (Object.values(task.record.outcomes ?? {}).includes(MinerVerdict.Outcome.UNVERIFIABLE)) {
    // nobody is paid or marked failed for work nobody could check: the task is given up and its reservation returns
    ctx.say(`task ${taskId}: not settled: its outputs could not be verified here`)
    ctx.abandon?.(taskId, 'unverifiable')
    return undefined
  }
  if (!(await ctx.assignments.onChain(task))) {
    ctx.say(`task ${taskId}: not settled: its assignment is not on chain`)
    return undefined
  }
  const onChain = await getTask(chain.wallet, { hub: chain.hub, taskId })
  if (onChain.status !== 'assigned') {
    return undefined
  }
  const miners = await chainMiners(chain, task)
  return { taskId, miners: miners.map(m => minerVerdict(task, m)) }
}

export interface SettlementBatcherInit {
  chain: ChainContext
  /** tasks in one transaction at most */
  maxBatch: number
  /** how long to gather tasks before a transaction */
  batchMs: number
  /** only the leader settles: a batch found by a follower is dropped */
  isLeader(): Promise<boolean>
  signal: AbortSignal
  /** a task's line in the batch, or nothing if the hub cannot settle it (one such task would revert the batch) */
  entryFor(task: OracleTask): Promise<TaskVerdicts | undefined>
  /** the tasks settled by transaction `txHash` */
  onSettled(tasks: OracleTask[], txHash: Hex): void
  say(line: string): void
}

export class SettlementBatcher {
  private readonly init: SettlementBatcherInit
  private readonly waiting: Gatherer<OracleTask>

  constructor (init: SettlementBatcherInit) {
    this.init = init
    this.waiting = new Gatherer({
      maxBatch: init.maxBatch,
      batchMs: init.batchMs,
      flush: async (batch) => { await this.settle(batch) },
      onError: (err) => { init.say(`settlement failed: ${err.message}`) }
    })
  }

  /** Settle `task` with the next batch. */
  add (task: OracleTask): void {
    this.waiting.add(task.queued.taskId.toString(), task)
  }

  /** No more batches; resolves when the one under way is done. */
  async stop (): Promise<void> {
    await this.waiting.stop()
  }

  private async settle (batch: OracleTask[]): Promise<void> {
    // only the leader settles: a batch found by a follower is dropped
    if (this.init.signal.aborted || !(await this.init.isLeader())) {
      return
    }
    const { chain } = this.init
    const checked = await Promise.all(batch.map(async task => ({
      task,
      entry: await this.init.entryFor(task).catch((err) => { this.init.say(`task ${task.queued.taskId}: left out of the settlement: ${err?.message ?? err}`) })
    })))
    const entries: TaskVerdicts[] = []
    const included: OracleTask[] = []
    for (const { task, entry } of checked) {
      if (entry != null) {
        entries.push(entry)
        included.push(task)
      }
    }
    if (entries.length === 0) {
      return
    }
    const res = await chain.serial(async () => settleBatch(chain.wallet, { hub: chain.hub, tasks: entries }))
    this.init.say(`settled ${entries.length} task(s) in ${res.hash} (${res.gasUsed} gas)`)
    this.init.onSettled(included, res.hash)
  }
}
