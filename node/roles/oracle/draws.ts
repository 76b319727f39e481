/**
 * The draws of a task's miners, pure functions of the pool's records and the
 * task's record: the seed of each assignment round (the chain's seed for
 * round 0, then the seed and the round), the leader's draw with the
 * session's SLA and the pool's load (protocols/selection/routing.ts), and
 * the follower's check that a round-0 draw is the one its own view gives.
 * The records must come from `drawRecords`: delivered speeds and first-token
 * latencies of tasks settled before the task's submission block, so every
 * oracle draws from the same measurements.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { bytesToHex, concatBytes, hexToBytes, numberToBytes } from 'viem'
import { firstToken } from '../../../protocols/pool/view.ts'
import { routedDraw, routedDrawAllowed, routedDrawHolds, selectionSeed, slaFor } from '../../../protocols/selection/index.ts'
import { SETTLED_CATCH_UP_MS, SETTLED_POLL_MS } from './constants.ts'
import type { OracleTask } from './types.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'
import type { MinerRecord, RoutedResult } from '../../../protocols/selection/index.ts'

type DrawnTask = Pick<OracleTask, 'queued' | 'record'>

/** The selection seed of an assignment round. */
export function roundSeed (task: DrawnTask, round: number): Uint8Array {
  const chainValue = round === 0 ? hexToBytes(task.record.seed) : concatBytes([hexToBytes(task.record.seed), numberToBytes(round, { size: 4 })])
  return selectionSeed(chainValue, task.queued.taskId)
}

/**
 * The pool's records for a task's draw: the pool as this oracle saw it when
 * the task was announced (`view`, taken before any assignment of the task
 * changed a miner's reservation or load; the pool now if there is none),
 * with the delivered speeds of tasks settled before the task's submission
 * block. The leader draws from these and followers check with them; a
 * replacement, drawn later, draws from the pool now (`current`).
 */
export function drawRecords (pool: Pick<PoolView, 'records' | 'delivery'>, task: DrawnTask & { view?: MinerRecord[] }, options: { current?: boolean } = {}): MinerRecord[] {
  const block = task.record.submitBlock
  const beforeBlock = block != null ? BigInt(block) : undefined
  const base = (options.current === true ? undefined : task.view) ?? pool.records(task.queued.sessionId, Date.now(), { claimed: true })
  return base.map(r => ({ ...r, tokensPerSec: pool.delivery.tokensPerSec(r.id, beforeBlock) ?? r.tokensPerSec, ...firstToken(pool.delivery.firstTokenMs(r.id, beforeBlock), r.firstTokenMs) }))
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

/** Whether `miners` are a round-0 draw these records allow (not necessarily the one they give). */
export function selectionAllowed (records: readonly MinerRecord[], task: DrawnTask, miners: Uint8Array[]): boolean {
  return routedDrawAllowed(records, {
    model: task.queued.params?.modelId ?? '',
    sla: slaFor(task.record.slaClass ?? 1),
    seed: roundSeed(task, 0),
    count: task.record.state.redundancy
  }, miners.map(b => bytesToHex(b).toLowerCase()))
}

/**
 * Wait (up to SETTLED_CATCH_UP_MS) until the chain poller has delivered
 * every block before `block`, so the settlements the draw's delivered speeds
 * count are all known here: only while a measurement's settlement is
 * outstanding, else there is nothing a late log could change.
 */
export async function awaitSettledBefore (pool: Pick<PoolView, 'delivery'>, watcher: { readonly deliveredBefore?: bigint, wake(): void } | undefined, block: bigint, signal: AbortSignal): Promise<void> {
  if (watcher == null) {
    return
  }
  const deadline = Date.now() + SETTLED_CATCH_UP_MS
  while (pool.delivery.unsettled > 0 && (watcher.deliveredBefore ?? 0n) < block && Date.now() < deadline && !signal.aborted) {
    watcher.wake()
    await sleep(SETTLED_POLL_MS, undefined, { signal }).catch(() => {})
  }
}
