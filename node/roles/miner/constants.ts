/**
 * The miner role's defaults, with units in their names and where each number
 * comes from.
 */
import { POOL_PROVIDE_INTERVAL_MS } from '../../../protocols/pool/dht.ts'

export { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../shared/constants.ts'

/** re-provide the pool keys this often (records live 48 h; protocols/pool/dht.ts) */
export const DEFAULT_PROVIDE_INTERVAL_MS = POOL_PROVIDE_INTERVAL_MS

/** the role's clock while it holds a task: the queue machine's deadlines are kept to this */
export const TICK_MS = 100
/** with no task held nothing has a deadline but the reservation's end: the clock slows down */
export const IDLE_TICK_MS = 1000
/** acks, declines and precommits kept per task while its assignment has not arrived */
export const MAX_OVERTAKING_EVENTS = 64
/** how long finished tasks stay in memory for late streams, unless configured */
export const DEFAULT_RETAIN_MS = 60_000

/** events for a task not announced here yet are dropped after this long */
export const PENDING_MAX_AGE_MS = 30_000
/** tasks with events waiting for their announcement, at most (the oldest go first) */
export const PENDING_TASKS_MAX = 1024
/**
 * how long a token-stream request for a task not announced here yet waits for
 * the announcement (a submitter that predicted the selection asks right after
 * announcing, and its request can overtake the gossip), and how many may wait
 */
export const ANNOUNCEMENT_WAIT_MS = 2000
export const ANNOUNCEMENT_WAITERS_MAX = 64
/** how long a token-stream request waits for this miner's work on the task to start */
export const STREAM_WAIT_MS = 10_000
/** a token stream is served for at most this long */
export const STREAM_TIMEOUT_MS = 10 * 60_000
/** other announcements of one task id kept while its assignment has not chosen (the submitter could send several) */
export const MAX_ALTERNATIVES = 4

/** work started on the miner's own draw is dropped if no assignment settles it within this long */
export const SPECULATION_WAIT_MS = 5000
/** a generation refused by a full engine queue is tried again after this long */
export const ENGINE_RETRY_MS = 100
/** the prompt is fetched (Helia, the submitter first) within this long */
export const PROMPT_FETCH_TIMEOUT_MS = 30_000

/** a message waits this long at most for a subscriber on its topic (right after a (re)start the mesh may not have formed) */
export const PUBLISH_WAIT_MS = 10_000
/** and looks for one this often meanwhile */
export const PUBLISH_POLL_MS = 50
/** a replacement can arrive just before this node's own clock times the replaced miner out: it is tried again this often, */
export const ASSIGNMENT_RETRY_MS = 500
/** this many times */
export const ASSIGNMENT_RETRIES = 5

/** settlement follows a verdict within a batch window; the level is re-read this long after one naming this miner */
export const LEVEL_RECHECK_AFTER_VERDICT_MS = 10_000
/** retry of a failed session read while reserved */
export const SESSION_READ_RETRY_MS = 2000
/** sessions whose terms are kept (one is read per reservation; a miner serves one session at a time) */
export const SESSION_TERMS_MAX = 1024
/** tasks whose verdict was counted, remembered so that a verdict gossiped again is not counted twice */
export const COUNTED_VERDICTS_MAX = 4096

/** the copier waits this long for an honest precommit to copy, */
export const COPY_PRECOMMIT_WAIT_MS = 60_000
/** this long for an honest reveal, */
export const COPY_REVEAL_WAIT_MS = 10_000
/** and looks this often */
export const COPY_POLL_MS = 20
/** tasks the copier keeps others' messages of */
export const COPY_TASKS_MAX = 1024
/**
 * A peer joining a heartbeat topic of the miner's gets a heartbeat at once, but at most one per this gap
 * (the newcomer need not wait a whole period; peers joining over and over cost a beat per gap at most)
 */
export const JOIN_HEARTBEAT_MIN_GAP_MS = 5_000
