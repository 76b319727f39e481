/**
 * What a miner has done since it started, counted in one place: the role
 * calls these at the point each thing happens; each count goes to the
 * Prometheus metrics (metrics.ts, once the role started) and to a snapshot
 * the role reads back (`MinerRole.stats`, `MinerRole.speculation`).
 */
import QuickLRU from 'quick-lru'
import { bytesToHex } from 'viem'
import { COUNTED_VERDICTS_MAX } from './constants.ts'
import type { MinerMetrics } from './metrics.ts'
import type { MinerStats, MinerTaskOutcome, SpeculationStats } from './types.ts'
import type { Verdict } from '../../../protocols/messages/index.ts'

export class MinerCounts {
  readonly stats: MinerStats = { tasks: {}, tokens: {}, generationMs: {}, lastTokensPerSecond: {}, verdicts: {} }
  readonly speculation: SpeculationStats = { started: 0, confirmed: 0, dropped: 0 }
  private readonly address: string
  /** tasks whose verdict was counted, so that a verdict gossiped again is not counted twice */
  private readonly countedVerdicts = new QuickLRU<string, true>({ maxSize: COUNTED_VERDICTS_MAX })
  /** the Prometheus metrics, while the role runs */
  metrics?: MinerMetrics

  /** `address`: the miner's, lower case; `models`: those served (their counts start at 0) */
  constructor (address: string, models: string[]) {
    this.address = address
    for (const model of models) {
      this.stats.tasks[model] = { generated: 0, declined: 0, failed: 0 }
      this.stats.tokens[model] = 0
      this.stats.generationMs[model] = 0
    }
  }

  task (model: string, outcome: MinerTaskOutcome): void {
    const counts = this.stats.tasks[model] ??= { generated: 0, declined: 0, failed: 0 }
    counts[outcome]++
    if (outcome !== 'generated') {
      this.metrics?.task(model, outcome)
    }
  }

  /** an output generated and precommitted: `tokens` in `ms` */
  generated (model: string, tokens: number, ms: number): void {
    this.task(model, 'generated')
    this.metrics?.generated(model, tokens, ms)
    this.stats.tokens[model] = (this.stats.tokens[model] ?? 0) + tokens
    this.stats.generationMs[model] = (this.stats.generationMs[model] ?? 0) + ms
    if (ms > 0) {
      this.stats.lastTokensPerSecond[model] = tokens * 1000 / ms
    }
  }

  /** work started on the miner's own draw, then confirmed or dropped */
  speculated (outcome: keyof SpeculationStats): void {
    this.speculation[outcome]++
    this.metrics?.speculated(outcome)
  }

  /** a verdict naming this miner, counted once per task */
  verdict (m: Verdict): void {
    const own = m.miners.find(v => bytesToHex(v.miner).toLowerCase() === this.address)
    const id = m.taskId.toString()
    if (own == null || this.countedVerdicts.has(id)) {
      return
    }
    this.countedVerdicts.set(id, true)
    const name = String(own.outcome)
    this.stats.verdicts[name] = (this.stats.verdicts[name] ?? 0) + 1
    this.metrics?.verdict(name)
  }
}
