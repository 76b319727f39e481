/**
 * What a miner has done since it started, counted where it happens (the
 * miner role) and read by its `/metrics` (metrics.ts).
 */
import { bytesToHex } from 'viem'
import type { Verdict } from '../../../protocols/messages/index.ts'

export type MinerTaskOutcome = 'generated' | 'declined' | 'failed'

export interface MinerStats {
  /** tasks by model and outcome: generated (output precommitted), declined (cannot run), failed (engine error) */
  tasks: Record<string, Record<MinerTaskOutcome, number>>
  /** tokens generated per model, and the generation time they took */
  tokens: Record<string, number>
  generationMs: Record<string, number>
  /** tokens per second of the last generation per model */
  lastTokensPerSecond: Record<string, number>
  /** the oracles' verdicts on this miner's outputs, by outcome name (ACCEPTED, OUTLIER, …), one per task */
  verdicts: Record<string, number>
}

/** tasks whose verdict was counted, remembered so that a verdict gossiped again is not counted twice */
const COUNTED_VERDICTS_MAX = 4096

export class MinerCounts {
  readonly stats: MinerStats = { tasks: {}, tokens: {}, generationMs: {}, lastTokensPerSecond: {}, verdicts: {} }
  private readonly address: string
  private readonly countedVerdicts = new Set<string>()

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
  }

  /** an output generated and precommitted: `tokens` in `ms` */
  generated (model: string, tokens: number, ms: number): void {
    this.task(model, 'generated')
    this.stats.tokens[model] = (this.stats.tokens[model] ?? 0) + tokens
    this.stats.generationMs[model] = (this.stats.generationMs[model] ?? 0) + ms
    if (ms > 0) {
      this.stats.lastTokensPerSecond[model] = tokens * 1000 / ms
    }
  }

  /** a verdict naming this miner, counted once per task */
  verdict (m: Verdict): void {
    const own = m.miners.find(v => bytesToHex(v.miner).toLowerCase() === this.address)
    const id = m.taskId.toString()
    if (own == null || this.countedVerdicts.has(id)) {
      return
    }
    this.countedVerdicts.add(id)
    if (this.countedVerdicts.size > COUNTED_VERDICTS_MAX) {
      this.countedVerdicts.delete(this.countedVerdicts.values().next().value as string)
    }
    const name = String(own.outcome)
    this.stats.verdicts[name] = (this.stats.verdicts[name] ?? 0) + 1
  }
}
