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
 *
 * First-token latency: the submitter of a task measures the ms from opening
 * a miner's token stream to its first token and reports it, signed, to the
 * oracles (FirstTokenReport); the leader puts a report it got before its
 * verdict into the miner's verdict entry, and the figure is kept here beside
 * the delivered speed, under the same rule. Only the owner of a session can
 * report on its tasks, and only on the miners drawn for them: a lying
 * submitter can move the measured latency of miners that served its own,
 * paid tasks, and no other. The draw uses the median of the window, so one
 * submitter moves it only when it paid for more than half of a miner's
 * latest measured tasks.
 *
 * A node keeps its book across restarts (`snapshot`, `restore`; the node
 * stores it per chain in its data dir), so a restarted oracle draws from the
 * same measurements as the others at once.
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
  /** the submitter's measurement of the miner's first token on the task, ms (none reported before the verdict: unknown) */
  firstTokenMs?: number
  /** the block that settled the task, once seen */
  settledBlock?: bigint
}

/** A book as JSON can hold it: ids and blocks as decimal strings. */
export interface DeliverySnapshot {
  samples: Record<string, Array<{ taskId: string, tokens: number, ms: number, firstTokenMs?: number, settledBlock?: string }>>
  /** task id → block that settled it */
  settled: Array<[string, string]>
}

export class DeliveryBook {
  private readonly samples = new Map<string, DeliverySample[]>()
  private readonly settled = new Map<bigint, bigint>()
  /** called after every change (a node persists the book then) */
  onChange?: () => void

  /** A measurement of `miner` on a task (a second one of the same task is ignored). */
  add (miner: string, taskId: bigint, tokens: number, ms: number, firstTokenMs?: number): void {
    if (!(tokens > 0) || !(ms > 0)) {
      return
    }
    const id = miner.toLowerCase()
    const list = this.samples.get(id) ?? []
    if (list.some(s => s.taskId === taskId)) {
      return
    }
    const sample: DeliverySample = { taskId, tokens, ms, settledBlock: this.settled.get(taskId) }
    if (firstTokenMs != null && Number.isFinite(firstTokenMs) && firstTokenMs >= 0) {
      sample.firstTokenMs = firstTokenMs
    }
    list.push(sample)
    // latest task first
    list.sort((a, b) => Number(b.taskId - a.taskId))
    list.splice(DELIVERY_WINDOW_TASKS * 2)
    this.samples.set(id, list)
    this.onChange?.()
  }

  /** The leader's verdict: its measurements of each miner. */
  addVerdict (m: Pick<Verdict, 'taskId' | 'miners'>): void {
    for (const v of m.miners) {
      if (v.deliveredTokens != null && v.deliveredMs != null) {
        let miner = '0x'
        for (const b of v.miner) {
          miner += b.toString(16).padStart(2, '0')
        }
        this.add(miner, m.taskId, v.deliveredTokens, v.deliveredMs, v.firstTokenMs)
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
    this.onChange?.()
  }

  /** The measurements of tasks settled before `beforeBlock` (all when not given), latest first. */
  private counted (miner: string, beforeBlock?: bigint): DeliverySample[] {
    const list = this.samples.get(miner.toLowerCase()) ?? []
    return beforeBlock == null ? list : list.filter(s => s.settledBlock != null && s.settledBlock < beforeBlock)
  }

  /**
   * Delivered tokens/s of a miner: all tokens ÷ all time over its latest
   * DELIVERY_WINDOW_TASKS measurements (of tasks settled before
   * `beforeBlock` when given); undefined below DELIVERY_MIN_TASKS of them.
   */
  tokensPerSec (miner: string, beforeBlock?: bigint): number | undefined {
    let tokens = 0
    let ms = 0
    let n = 0
    for (const s of this.counted(miner, beforeBlock)) {
      tokens += s.tokens
      ms += s.ms
      if (++n === DELIVERY_WINDOW_TASKS) {
        break
      }
    }
    return n >= DELIVERY_MIN_TASKS ? tokens / (ms / 1000) : undefined
  }

  /**
   * Measured first-token latency of a miner, ms: the median of its latest
   * DELIVERY_WINDOW_TASKS reported first tokens (of tasks settled before
   * `beforeBlock` when given); undefined below DELIVERY_MIN_TASKS of them.
   * The median, not the mean: a minority of reports (one submitter's lies, a
   * stall on one prompt) cannot move it past the honest ones.
   */
  firstTokenMs (miner: string, beforeBlock?: bigint): number | undefined {
    const ms = this.counted(miner, beforeBlock).flatMap(s => s.firstTokenMs != null ? [s.firstTokenMs] : []).slice(0, DELIVERY_WINDOW_TASKS)
    if (ms.length < DELIVERY_MIN_TASKS) {
      return undefined
    }
    ms.sort((a, b) => a - b)
    const mid = ms.length >> 1
    return ms.length % 2 === 1 ? ms[mid] : (ms[mid - 1] + ms[mid]) / 2
  }

  /** The book as JSON can hold it (what a node stores in its data dir). */
  snapshot (): DeliverySnapshot {
    const samples: DeliverySnapshot['samples'] = {}
    for (const [miner, list] of this.samples) {
      samples[miner] = list.map(s => ({
        taskId: s.taskId.toString(),
        tokens: s.tokens,
        ms: s.ms,
        ...(s.firstTokenMs != null ? { firstTokenMs: s.firstTokenMs } : {}),
        ...(s.settledBlock != null ? { settledBlock: s.settledBlock.toString() } : {})
      }))
    }
    return { samples, settled: [...this.settled].map(([t, b]) => [t.toString(), b.toString()]) }
  }

  /**
   * Take back what `snapshot` gave (a restarted node's stored book), merged
   * with what this book learnt already; entries that do not parse are
   * skipped. No change is announced (`onChange`): it is what was stored.
   */
  restore (snapshot: DeliverySnapshot): void {
    const onChange = this.onChange
    this.onChange = undefined
    try {
      for (const [t, b] of snapshot.settled ?? []) {
        const taskId = parseId(t)
        const block = parseId(b)
        if (taskId != null && block != null && !this.settled.has(taskId)) {
          this.settled.set(taskId, block)
        }
      }
      for (const [miner, list] of Object.entries(snapshot.samples ?? {})) {
        for (const s of Array.isArray(list) ? list : []) {
          const taskId = parseId(s?.taskId)
          if (taskId == null || typeof s.tokens !== 'number' || typeof s.ms !== 'number') {
            continue
          }
          this.add(miner, taskId, s.tokens, s.ms, typeof s.firstTokenMs === 'number' ? s.firstTokenMs : undefined)
          const block = parseId(s.settledBlock) ?? this.settled.get(taskId)
          const added = this.samples.get(miner.toLowerCase())?.find(x => x.taskId === taskId)
          if (added != null && block != null) {
            added.settledBlock ??= block
          }
        }
      }
    } finally {
      this.onChange = onChange
    }
  }
}

/** A decimal id or block number of a snapshot (undefined: not one). */
function parseId (value: unknown): bigint | undefined {
  return typeof value === 'string' && /^\d{1,78}$/.test(value) ? BigInt(value) : undefined
}
