/**
 * Reputation and level updates from validation verdicts. Pure and
 * browser-safe: the oracle, the chain settlement batcher and the simulator
 * call the same functions.
 */
import {
  LEVEL_THRESHOLDS,
  REPUTATION_COMMIT_MISMATCH_LOSS,
  REPUTATION_MAX,
  REPUTATION_OUTLIER_LOSS,
  REPUTATION_PASS_GAIN,
  REPUTATION_REPLAY_FAIL_LOSS,
  REPUTATION_TIMEOUT_LOSS
} from './constants.ts'
import type { VerdictCode } from '../policy/verdicts.ts'

export * from './constants.ts'

export class InvalidReputationError extends Error {
  static name = 'InvalidReputationError'

  constructor (value: number) {
    super(`reputation must be an integer in [0, ${REPUTATION_MAX}], got ${value}`)
    this.name = 'InvalidReputationError'
  }
}

const DELTA: readonly number[] = [
  REPUTATION_PASS_GAIN,
  -REPUTATION_OUTLIER_LOSS,
  -REPUTATION_REPLAY_FAIL_LOSS,
  -REPUTATION_COMMIT_MISMATCH_LOSS,
  -REPUTATION_TIMEOUT_LOSS
]

/** The score change a verdict causes before clamping. */
export function reputationDelta (verdict: VerdictCode): number {
  const d = DELTA[verdict]
  if (d === undefined) {
    throw new RangeError(`unknown verdict code ${verdict}`)
  }
  return d
}

/** The score after one verdict, clamped to [0, REPUTATION_MAX]. */
export function nextReputation (current: number, verdict: VerdictCode): number {
  if (!Number.isInteger(current) || current < 0 || current > REPUTATION_MAX) {
    throw new InvalidReputationError(current)
  }
  const next = current + reputationDelta(verdict)
  return next < 0 ? 0 : next > REPUTATION_MAX ? REPUTATION_MAX : next
}

/** Level earned by a score and a count of passed tasks (highest level whose both thresholds hold). */
export function levelFor (score: number, passedTasks: number): number {
  let level = 0
  for (let i = 1; i < LEVEL_THRESHOLDS.length; i++) {
    const [minScore, minPassed] = LEVEL_THRESHOLDS[i]
    if (score >= minScore && passedTasks >= minPassed) {
      level = i
    }
  }
  return level
}
