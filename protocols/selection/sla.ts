/**
 * Service levels: what a session's `slaClass` (on chain, 0–3) asks of the
 * miners drawn for its tasks, and what happens when no live miner meets it.
 * Levels gate the upper tier; speeds are delivered speeds (what oracles
 * measured, protocols/pool/delivery.ts) once known.
 */
import type { SelectionFilter } from './draw.ts'

/**
 * When no live miner meets the SLA: `fallback` draws from the session's
 * model's miners regardless of the SLA and says so; `wait` draws only
 * miners that meet it (a task waits for reserved or busy ones to free up,
 * and fails at once with NoEligibleMinerError when no live miner meets it).
 */
export type SlaPolicy = 'fallback' | 'wait'

export interface Sla {
  name: string
  /** the SLA's part of a selection filter */
  filter: Omit<SelectionFilter, 'model'>
  policy: SlaPolicy
}

/**
 * Delivered tokens/s of the `fast` tier: a miner that answers a 48-token
 * task within ~1 s of its announcement, mesh and storage included. On the
 * tiny preset here an unthrottled miner delivers 100–400 tokens/s that way
 * (test/lifecycle/routing.spec.ts), a 20 tokens/s engine under 20.
 */
export const FAST_MIN_TOKENS_PER_SEC = 50
/** First-token time of the `fast` and `gpu` tiers (benchmark figure): an interactive reply starts within this. */
export const FAST_MAX_FIRST_TOKEN_MS = 1000
/** Delivered tokens/s of the `gpu` tier. */
export const GPU_MIN_TOKENS_PER_SEC = 100
/** Level the `gpu` tier asks for: earned from settled work (protocols/reputation), not claimed. */
export const GPU_MIN_LEVEL = 1

/** The service level of each `slaClass` the hub accepts (contracts/src/Sessions.sol: SLA_CLASSES = 4). */
export const SLA_CLASSES: readonly Sla[] = [
  { name: 'best-effort', filter: {}, policy: 'fallback' },
  // what sessions open with by default: any live miner of the model
  { name: 'standard', filter: {}, policy: 'fallback' },
  { name: 'fast', filter: { minTokensPerSec: FAST_MIN_TOKENS_PER_SEC, maxFirstTokenMs: FAST_MAX_FIRST_TOKEN_MS }, policy: 'fallback' },
  { name: 'gpu', filter: { gpuOnly: true, minLevel: GPU_MIN_LEVEL, minTokensPerSec: GPU_MIN_TOKENS_PER_SEC, maxFirstTokenMs: FAST_MAX_FIRST_TOKEN_MS }, policy: 'wait' }
]

/** The SLA of a session's class; an unknown class (a newer hub) is served as `standard`. */
export function slaFor (slaClass: number): Sla {
  return SLA_CLASSES[slaClass] ?? SLA_CLASSES[1]
}
