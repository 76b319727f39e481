/** Domain tag hashed into every selection seed, so a seed for one purpose is never reused for another. */
export const SELECTION_DOMAIN = 'cortensor/selection/1'
/** Domain of the sampling seed of a task that asked for sampling but gave no seed. */
export const SAMPLING_SEED_DOMAIN = 'cortensor/sampling-seed/1'

/**
 * Integer weight of a fully trusted miner at the reference speed. Weights are
 * integers so the cumulative sums are exact in float64 (10^6 miners × 2^17 <
 * 2^53) and every oracle recomputes the same draw regardless of update order.
 */
export const WEIGHT_SCALE = 1 << 15

/**
 * Tokens per second a miner is compared with: the CPU speed of a small model
 * on a 2-core machine is in this range (README benchmark of the test model);
 * a miner at this speed gets speed factor 1.
 */
export const REFERENCE_TOKENS_PER_SEC = 20

/** Speed factor bounds: a fast GPU cannot take more than 2× a reference miner's share, a slow one keeps half. */
export const SPEED_FACTOR_MIN = 0.5
export const SPEED_FACTOR_MAX = 2

/** Largest redundancy a selection accepts (Cortensor uses 1–7 miners per task; 64 leaves room). */
export const MAX_REDUNDANCY = 64

/**
 * Load factor of a miner's weight: 1 when idle, down to this at full load
 * (every parallel sequence in use), so a busy miner still gets work when the
 * pool has nothing else but an idle one is preferred. A fully loaded miner
 * is skipped outright while enough others are eligible (routing.ts).
 */
export const LOAD_FACTOR_MIN = 0.5
/** A heartbeat's load at or above this (per mille of the miner's sequences) is a busy miner. */
export const BUSY_LOAD_PERMILLE = 1000
