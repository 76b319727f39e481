/**
 * Reproducible miner selection. From (task id, a chain value the leader
 * cannot choose, the pool snapshot) pick `redundancy` distinct miners,
 * weighted by reputation and measured speed; ineligible (wrong model, SLA
 * level or speed, unhealthy) and reserved miners have weight 0. Every oracle
 * recomputes the same draw and checks the leader with `verifySelection`.
 * Pure and browser-safe.
 */
export * from './constants.ts'
export * from './draw.ts'
export * from './errors.ts'
export { MinerPool } from './pool.ts'
export { deriveSeed, Prng, seedToUnit } from './prng.ts'
export * from './sla.ts'
export * from './routing.ts'
export type { TaskId } from './prng.ts'
