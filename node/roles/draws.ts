/**
 * The draws of a task's miners, pure functions of the pool's records and the
 * task's record: the seed of each assignment round (the chain's seed for
 * round 0, then the seed and the round), the leader's draw, and the
 * follower's check that a round-0 draw is the one its own view gives.
 */
import { bytesToHex, concatBytes, hexToBytes, numberToBytes } from 'viem'
import { poolFromRecords, selectMiners, selectionSeed, verifySelection } from '../../protocols/selection/index.ts'
import type { OracleTask } from './oracle-tasks.ts'
import type { MinerRecord } from '../../protocols/selection/index.ts'

type DrawnTask = Pick<OracleTask, 'queued' | 'record'>

/** The selection seed of an assignment round. */
export function roundSeed (task: DrawnTask, round: number): Uint8Array {
  const chainValue = round === 0 ? hexToBytes(task.record.seed) : concatBytes([hexToBytes(task.record.seed), numberToBytes(round, { size: 4 })])
  return selectionSeed(chainValue, task.queued.taskId)
}

/** Draw `count` miners for a round, excluding every miner the task already had; throws if the pool cannot supply them. */
export function drawMiners (records: readonly MinerRecord[], task: DrawnTask, count: number, round: number): string[] {
  const model = task.queued.params?.modelId ?? ''
  const snapshot = poolFromRecords(records, { model })
  for (const slot of task.record.state.slots) {
    const i = snapshot.ids.indexOf(slot.miner)
    if (i >= 0 && snapshot.pool.effectiveWeight(i) > 0) {
      snapshot.pool.reserve(i)
    }
  }
  const picks = selectMiners(snapshot.pool, roundSeed(task, round), count)
  return Array.from(picks, i => snapshot.ids[i])
}

/** Whether `miners` are the round-0 draw these records give for the task. */
export function selectionHolds (records: readonly MinerRecord[], task: DrawnTask, miners: Uint8Array[]): boolean {
  const model = task.queued.params?.modelId ?? ''
  const snapshot = poolFromRecords(records, { model })
  const claimed = miners.map(b => snapshot.ids.indexOf(bytesToHex(b).toLowerCase()))
  return !claimed.includes(-1) && verifySelection(snapshot.pool, roundSeed(task, 0), task.record.state.redundancy, claimed).ok
}
