/**
 * The session queue (DESIGN.md §3): `Queued → Assigned → Acked → Precommitted
 * → Committed (revealed) → Validated → Settled`, with `Expired` and per-miner
 * `reassigned` branches, as a pure function of (state, event, time).
 */
export { createTask, transition, tick, nextDeadline, isTerminal, normaliseAddress, declineQuorum, TERMINAL_PHASES } from './machine.ts'
export { serialiseState, deserialiseState } from './codec.ts'
export * from './constants.ts'
export * from './errors.ts'
export type * from './types.ts'
export { taskInitFrom, assignedEvent, ackEvent, declineEvent, precommitEvent, revealEvent, verdictEvent } from './wire.ts'
