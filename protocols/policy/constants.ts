/**
 * Default network parameters of the validation policy. The oracle uses
 * these unless its config overrides them.
 *
 * PROVENANCE: sample rate, penalty and redundancy are the recommendation of
 * `cortensor sim sampling --nodes 100000 --sweep --seed 1 --out results/sweep-100k`
 * followed by `cortensor sim report --in results/sweep-100k` (default grid:
 * sample rate {0, 0.01, 0.02, 0.05, 0.1, 0.2} × penalty {0, 10, 50, 100, 200},
 * redundancy 3, 5 % lazy + 3 % wrong-model + 2 % copier + 5 % colluding
 * miners, one simulated day): the cheapest point where no cheating act has a
 * higher expected value than honest work. The binding strategy is a colluding
 * quorum that fakes only when unanimous, which only the audit after
 * settlement can catch, and whose pay it does not take back: deterred when
 * R − p·penalty·R − cost_cheap ≤ R − cost_honest, i.e. p·penalty ≥ 0.55 with
 * the simulator's cost model — p = 0.01 needs a penalty ≥ 55 rewards. Lone
 * cheaters (lazy, copier, wrong-model beside honest miners) are caught
 * regardless by disagreement escalation and commit-reveal.
 */

/** Fraction of settled tasks audited (their accepted output replayed) even when the redundant miners agreed. */
export const DEFAULT_SAMPLE_RATE = 0.01

/** Stake slashed for provable fraud (failed replay, reveal ≠ precommit), in units of one task reward. */
export const DEFAULT_PENALTY_REWARDS = 100

/** Miners per task. */
export const DEFAULT_REDUNDANCY = 3

/**
 * Escalate to the replay check whenever the redundant outputs disagree (by
 * embedding cluster), not only on sampled tasks. Disagreement among honest
 * deterministic miners is rare, so this costs little and catches lone cheaters.
 */
export const DEFAULT_ESCALATE_ON_DISAGREEMENT = true

/**
 * Cosine similarity at or above which two outputs' embeddings count as the
 * same answer (Cortensor's PoI compares embeddings with a similarity
 * threshold; 0.9 separates paraphrases from different answers for small
 * embedding models).
 */
export const EMBEDDING_SIMILARITY_THRESHOLD = 0.9

/** Payment of one accepted result, the unit penalties are expressed in. */
export const TASK_REWARD_UNITS = 1
