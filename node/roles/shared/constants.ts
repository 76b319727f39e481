/**
 * Defaults several roles share. Each says where its number comes from.
 */
import { HEARTBEAT_INTERVAL_MS } from '../../../protocols/gossip/constants.ts'

/**
 * A miner's heartbeat period unless configured: the protocol's expected
 * period (protocols/gossip: stale after three of them). Every heartbeat
 * costs every node on the model's topic a signature check and its mesh
 * peers a forward; the period is in the heartbeat, so observers judge
 * liveness by the miner's own period. Oracles size their pool views by it.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = HEARTBEAT_INTERVAL_MS

/**
 * How long a node gathers changes of its delivery book (verdicts, settlements)
 * before it writes the book to its data dir: a burst of settlements is one
 * write, and a crash loses at most this much (the measurements of the last
 * second of tasks, which the leader's next verdicts bring back in time).
 */
export const DELIVERY_SAVE_MS = 1000
