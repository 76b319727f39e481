/**
 * The draws of a task's miners, pure functions of the pool's records and the
 * task's record: the seed of each assignment round (the chain's seed for
 * round 0, then the seed and the round), the leader's draw with the
 * session's SLA and the pool's load (protocols/selection/routing.ts), and
 * the follower's check that a round-0 draw is the one its own view gives.
 * The records must come from `drawRecords`: delivered speeds of tasks settled
 * before the task's submission block, so every oracle draws from the same
 * measured speeds.
 */
import { bytesToHex, concatBytes, hexToBytes, numberToBytes } from 'viem'
import { routedDraw, routedDrawHolds, selectionSeed, slaFor } from '../../protocols/selection/index.ts'
import type { OracleTask } from './oracle-tasks.ts'
import type { PoolView } from '../../protocols/pool/view.ts'
import type { MinerRecord, RoutedResult } from '../../protocols/selection/index.ts'

type DrawnTask = Pick<OracleTask, 'queued' | 'record'>

/** The selection seed of an assignment round. */
export function roundSeed (task: DrawnTask, round: number): Uint8Array {
  const chainValue = round === 0 ? hexToBytes(task.record.seed) : concatBytes([hexToBytes(task.record.seed), numberToBytes(round, { size: 4 })])
  return selectionSeed(chainValue, task.queued.taskId)
}

/** The pool's records for a task's draw: measured speeds of tasks settled before the task was submitted. */
export function drawRecords (pool: Pick<PoolView, 'records'>, task: DrawnTask): MinerRecord[] {
  const block = task.record.submitBlock
  return pool.records(task.queued.sessionId, Date.now(), block != null ? { beforeBlock: BigInt(block) } : {})
}

/**
 * Draw `count` miners for a round, excluding every miner the task already
 * had; throws NoEligibleMinerError (naming the filter) if the pool cannot
 * supply them.
 */
export function drawMiners (records: readonly MinerRecord[], task: DrawnTask, count: number, round: number): RoutedResult {
  return routedDraw(records, {
    model: task.queued.params?.modelId ?? '',
    sla: slaFor(task.record.slaClass ?? 1),
    seed: roundSeed(task, round),
    count,
    exclude: task.record.state.slots.map(s => s.miner)
  })
}

/** Whether `miners` are the round-0 draw these records give for the task. */
export function selectionHolds (records: readonly MinerRecord[], task: DrawnTask, miners: Uint8Array[]): boolean {
  return routedDrawHolds(records, {
    model: task.queued.params?.modelId ?? '',
    sla: slaFor(task.record.slaClass ?? 1),
    seed: roundSeed(task, 0),
    count: task.record.state.redundancy
  }, miners.map(b => bytesToHex(b).toLowerCase()))
}
