/**
 * Deadlines and budgets of the session queue (DESIGN.md §3). Every value can
 * be overridden per task (`TaskInit.timeouts`), and is then stored in the
 * task's state so a restarted node keeps the same deadlines.
 */

/**
 * Leader → Assignment after TaskQueued. Gossip on loopback is 5–7 ms
 * (STACK-FACTS §2); 10 s also covers a leader hand-over by heartbeat
 * (Cortensor's own router polled the chain every 5 s, so two polls).
 */
export const ASSIGN_TIMEOUT_MS = 10_000

/** Miner → Ack after the Assignment. An ack is one gossip hop; 5 s tolerates a busy or distant miner. */
export const ACK_TIMEOUT_MS = 5_000

/**
 * Miner → Precommit after its ack: the whole generation. A 7B model on CPU
 * makes 5–10 tokens/s, so 512 tokens take 50–100 s; the generated test model
 * makes ~2,300 tokens/s (STACK-FACTS §9b). Callers with a known speed should
 * pass a tighter value.
 */
export const PRECOMMIT_TIMEOUT_MS = 120_000

/** Reveal window, opened when every live miner has precommitted: a gossip hop plus a Helia put. */
export const REVEAL_TIMEOUT_MS = 10_000

/**
 * Validation after the reveals: the replay check costs 0.26–0.45× generation
 * (STACK-FACTS §9b) plus embeddings, so at most about half of PRECOMMIT_TIMEOUT_MS.
 */
export const VALIDATE_TIMEOUT_MS = 60_000

/** Verdict → settlement confirmed on chain; batches are written every few blocks. */
export const SETTLE_TIMEOUT_MS = 60_000

/** Replacement miners a task may request in total (redundancy 3 → each slot can be replaced once). */
export const MAX_REASSIGNMENTS = 3

/** Retries of an overdue assignment, validation or settlement before the task expires. */
export const MAX_RETRIES = 3

/** Reveals needed to validate: one honest output can be checked by replay (DESIGN.md §4). */
export const MIN_REVEALS = 1

/** Version of the serialised task state; bump when the shape changes. */
export const STATE_VERSION = 1
