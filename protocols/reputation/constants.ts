/**
 * Reputation is an integer score in [0, REPUTATION_MAX]. Integers keep every
 * oracle's arithmetic identical (selection weights are derived from it and
 * must be recomputable bit for bit).
 */

/** Upper bound of the score (basis points of "fully trusted"). */
export const REPUTATION_MAX = 10_000

/** A new identity starts at half trust: it is selectable but below any proven miner. */
export const REPUTATION_INITIAL = 5_000

/** Gain for a result that passed validation; 50 passes undo one outlier (see below). */
export const REPUTATION_PASS_GAIN = 20

/** Loss for an embedding outlier: suspicious but not proof (honest drift happens). */
export const REPUTATION_OUTLIER_LOSS = 250

/** Loss for a missed ack/precommit/reveal deadline. */
export const REPUTATION_TIMEOUT_LOSS = 300

/** Loss for a failed replay check: provable fraud, the miner drops to about a quarter of initial trust. */
export const REPUTATION_REPLAY_FAIL_LOSS = 4_000

/** Loss for a reveal that contradicts its signed precommit: provable fraud, score to zero. */
export const REPUTATION_COMMIT_MISMATCH_LOSS = REPUTATION_MAX

/**
 * Levels gate SLA classes: [minimum score, minimum passed tasks] per level.
 * Level 0 is every registered miner; the thresholds follow Cortensor's idea of
 * levels earned by sustained honest work (numbers chosen so a new honest miner
 * reaches level 1 after 25 passes and level 3 after a few hundred).
 */
export const LEVEL_THRESHOLDS: ReadonlyArray<readonly [minScore: number, minPassed: number]> = [
  [0, 0],
  [5_500, 25],
  [7_000, 100],
  [8_500, 400]
]
