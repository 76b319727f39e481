/**
 * Defaults and bounds of the oracle role, in one place, with units in their
 * names. Where a number came from is said beside it.
 */
import { HEARTBEAT_INTERVAL_MS } from '../../../protocols/gossip/constants.ts'

/** The miners' heartbeat period the pool judges liveness by unless configured: the protocol's (protocols/gossip). */
export const MINER_HEARTBEAT_INTERVAL_MS = HEARTBEAT_INTERVAL_MS

// ------------------------------------------------------------ the clock

/** the queue's deadlines are kept to this while tasks are in flight (a tenth of the shortest gossip hop budget) */
export const TICK_MS = 100
/** with no task in flight nothing has a deadline: the clock slows down */
export const IDLE_TICK_MS = 1000

// ------------------------------------------------------------ task records and early events

/** ended tasks (the latest) compared with the chain at start */
export const RECONCILE_RECENT_TASKS = 256
/** acks and precommits kept per task while its assignment has not arrived */
export const MAX_UNASSIGNED_EVENTS = 64
/** events kept per task not announced yet, tasks with such events, and how long they wait */
export const EARLY_EVENTS_PER_TASK = 64
export const EARLY_EVENT_TASKS = 1024
export const EARLY_EVENTS_MAX_AGE_MS = 30_000

// ------------------------------------------------------------ batches on chain

/** tasks in one settlement or assignment transaction at most (the hub's gas per task keeps 50 under a block) */
export const MAX_BATCH = 50
/** how long a verdict waits for others before one settlement transaction (a few blocks on a 1 s chain) */
export const SETTLE_BATCH_MS = 250
/** how long a round-0 assignment waits for others before one hub transaction */
export const ASSIGN_BATCH_MS = 250

// ------------------------------------------------------------ assignments

/**
 * A round-0 assignment trusts a leader read this recent (the chain heartbeat
 * reads it every second). A stale "I lead" costs at most a refused chain
 * write, which the write's retries and the next leader's takeover absorb.
 */
export const ASSIGN_LEADER_MAX_AGE_MS = 1500
/** attempts at writing an assignment to the hub before giving up until it is needed again (reassignment, settlement) */
export const ASSIGN_WRITE_ATTEMPTS = 4
/** first pause between those attempts; doubles each time */
export const ASSIGN_RETRY_MS = 250
/** miners the hub refused that one write replaces before giving up (each refusal takes the miner out of the pool) */
export const MAX_REFUSALS_PER_WRITE = 3
/** past the hub's precommit deadline (block seconds) a replacement waits this much more: a block's timestamp granularity */
export const REASSIGN_DEADLINE_SLACK_MS = 1100
/** how long a draw waits for the chain poller to reach the task's submission block (a poll is 250 ms) */
export const SETTLED_CATCH_UP_MS = 1500
export const SETTLED_POLL_MS = 25

// ------------------------------------------------------------ slashes and attestations

/** signed reveals kept per miner and task: one that matches the commitment and one that does not prove it */
export const MAX_SIGNED_REVEALS = 4
/** slash transactions tried before giving up until the next chance (settlement, the next attestation) */
export const SLASH_ATTEMPTS = 3
/** replays of an output the leader rejected before this oracle gives up attesting it (the output may not be reachable at once) */
export const ATTEST_ATTEMPTS = 3
/** the first pause between slash and attestation attempts; doubles each time */
export const SLASH_RETRY_MS = 1000

// ------------------------------------------------------------ leadership

/** a leader read this recent is trusted when it names the oracle an assignment comes from */
export const LEADER_CACHE_MS = 2000
/**
 * While tasks are in flight the leader is read this often, so the
 * validators and the first token's path seldom wait for a read; while none
 * is, at each chain heartbeat, and a task's arrival starts a read at once
 * (`refresh`), ahead of its assignment.
 */
export const LEADER_READ_MS = 1000
/**
 * Chain heartbeats per hub heartbeat timeout: the hub drops an oracle from
 * the round-robin after its timeout without one, so three beats per timeout
 * leave two to be lost or late (the hub's default: 30 s, one beat per 10 s).
 */
export const CHAIN_HEARTBEATS_PER_TIMEOUT = 3

// ------------------------------------------------------------ giving tasks up

/** Tasks in one `abandonTasks` transaction at most (each about 10k gas). */
export const ABANDON_MAX_BATCH = 100
/** how long a task expired here waits for tasks expiring with it before the transaction */
export const ABANDON_BATCH_MS = 250
/** how often tasks left by a failed or not-leading attempt are tried again */
export const ABANDON_RETRY_MS = 2_000
/** a task still open on chain this long after it expired here is left to the hub's deadline */
export const ABANDON_GIVE_UP_MS = 10 * 60_000
/** tasks remembered at most (oldest dropped first) */
export const ABANDON_MAX_PENDING = 10_000
