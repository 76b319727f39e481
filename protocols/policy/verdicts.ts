/**
 * Per-miner verdicts of one task's validation. Numeric codes (not strings)
 * so batches fit in a Uint8Array; `VERDICT_NAMES` maps them back for logs.
 */
export const Verdict = {
  /** result accepted and paid */
  PASS: 0,
  /** disagreed with the accepted result by embedding distance; not proof, no pay */
  OUTLIER: 1,
  /** the replay check rejected the claimed output: provable fraud, slashed */
  REPLAY_FAIL: 2,
  /** the reveal does not match the signed precommit: provable fraud, slashed */
  COMMIT_MISMATCH: 3,
  /** no precommit or reveal before the deadline */
  TIMEOUT: 4
} as const

export type VerdictCode = typeof Verdict[keyof typeof Verdict]

export const VERDICT_NAMES: readonly string[] = ['pass', 'outlier', 'replay-fail', 'commit-mismatch', 'timeout']

/** Verdicts that prove fraud and allow slashing the miner's stake. */
export function isProvableFraud (v: number): boolean {
  return v === Verdict.REPLAY_FAIL || v === Verdict.COMMIT_MISMATCH
}
