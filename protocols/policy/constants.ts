/**
 * Default network parameters of the validation policy. The oracle uses
 * these unless its config overrides them.
 *
 * PROVENANCE: placeholder until the simulation sweep below is run.
 */

/** Fraction of tasks that get the replay check even when the redundant miners agree. */
export const DEFAULT_SAMPLE_RATE = 0.05

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
