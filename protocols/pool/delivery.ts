/**
 * What miners deliver, as the leader oracle measured it: per task, the
 * output tokens and the time from the task's announcement (a replacement:
 * its assignment) to the miner's precommit, as the leader saw them. The
 * figures travel in the leader's signed verdict; every node folds them into
 * its pool view here, and a draw uses a miner's delivered speed instead of
 * its claimed one once DELIVERY_MIN_TASKS measurements are in.
 *
 * Reproducible draws: a measurement counts for a task's draw only when its
 * task was settled on chain in a block before the block that took the
 * task's submission (`beforeBlock`). Every oracle sees the same chain and
 * the same gossiped verdicts, so it computes the same delivered speeds for
 * the same draw, whatever the order verdicts and assignments arrived in.
 * Browser-safe, pure bookkeeping.
 */
import type { Verdict } from '../messages/index.ts'

/** Measurements kept per miner: the latest tasks (by id), enough to average out one slow prompt. */
export const DELIVERY_WINDOW_TASKS = 8
/** Measurements before a miner's delivered speed replaces its claim ("after a few tasks"). */
export const DELIVERY_MIN_TASKS = 2
/** Settled blocks remembered for tasks whose verdict has not arrived (a verdict that overtook nothing). */
const SETTLED_REMEMBERED = 4096

export interface DeliverySample {
  taskId: bigint
  tokens: number
  ms: number
  /** the block that settled the task, once seen */
  settledBlock?: bigint
}

export class DeliveryBook {
  private readonly samples = new Map<string, DeliverySample[]>()
  private readonly settled = new Map<bigint, bigint>()

  /** A measurement of `miner` on a task (a second one of the same task is ignored). */
  add (miner: string, taskId: bigint, tokens: number, ms: number): void {
    if (!(tokens > 0) || !(ms > 0)) {
      return
    }
    const id = miner.toLowerCase()
    const list = this.samples.get(id) ?? []
    if (list.some(s => s.taskId === taskId)) {
      return
    }
    list.push({ taskId, tokens, ms, settledBlock: this.settled.get(taskId) })
    // latest task first
    list.sort((a, b) => Number(b.taskId - a.taskId))
    list.splice(DELIVERY_WINDOW_TASKS * 2)
    this.samples.set(id, list)
  }

  /** The leader's verdict: its measurements of each miner. */
  addVerdict (m: Pick<Verdict, 'taskId' | 'miners'>): void {
    for (const v of m.miners) {
      if (v.deliveredTokens != null && v.deliveredMs != null) {
        let miner = '0x'
        for (const b of v.miner) {
          miner += b.toString(16).padStart(2, '0')
        }
        this.add(miner, m.taskId, v.deliveredTokens, v.deliveredMs)
      }
    }
  }

  /** Measurements whose task's settlement has not been seen (a draw waits for those, node/roles/oracle/draws.ts). */
  get unsettled (): number {
    let n = 0
    for (const list of this.samples.values()) {
      for (const s of list.slice(0, DELIVERY_WINDOW_TASKS)) {
        if (s.settledBlock == null) {
          n++
        }
      }
    }
    return n
  }

  /** The chain settled `taskId` in `block`. */
  settle (taskId: bigint, block: bigint): void {
    this.settled.set(taskId, block)
    if (this.settled.size > SETTLED_REMEMBERED) {
      this.settled.delete(this.settled.keys().next().value as bigint)
    }
    for (const list of this.samples.values()) {
      for (const s of list) {
        if (s.taskId === taskId) {
          s.settledBlock = block
        }
      }
    }
  }

  /**
   * Delivered tokens/s of a miner: all tokens ÷ all time over its latest
   * DELIVERY_WINDOW_TASKS measurements (of tasks settled before
   * `beforeBlock` when given); undefined below DELIVERY_MIN_TASKS of them.
   */
  tokensPerSec (miner: string, beforeBlock?: bigint): number | undefined {
    const list = this.samples.get(miner.toLowerCase())
    if (list == null) {
      return undefined
    }
    let tokens = 0
    let ms = 0
    let n = 0
    for (const s of list) {
      if (beforeBlock != null && (s.settledBlock == null || s.settledBlock >= beforeBlock)) {
        continue
      }
      tokens += s.tokens
      ms += s.ms
      if (++n === DELIVERY_WINDOW_TASKS) {
        break
      }
    }
    return n >= DELIVERY_MIN_TASKS ? tokens / (ms / 1000) : undefined
  }
}
