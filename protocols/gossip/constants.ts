/** Defaults of gossip validation and peer scoring. */

/** Clock skew tolerated on timestamps (NTP keeps hosts within ~100 ms; browsers can be seconds off). */
export const MAX_CLOCK_SKEW_MS = 30_000
/** Heartbeats older than this (by their own timestamp) are stale. */
export const MAX_HEARTBEAT_AGE_MS = 30_000
/**
 * A miner's heartbeat period by default. Heartbeats carry their period, and observers count a miner live for
 * three of them (protocols/pool/view.ts). Every heartbeat reaches every node of the model's topic, so the
 * period sets what an idle node pays (`npm run bench -- cost`, docs/simulation.md); a miner also beats at
 * once when its reservation, load or level changes and when a connected peer joins the topic.
 */
export const HEARTBEAT_INTERVAL_MS = 30_000
/** Statements remembered for semantic de-duplication (a few thousand tasks in flight × 7 kinds). */
export const DEDUPE_CACHE_SIZE = 16_384

// ---- peer scoring (gossipsub v1.1). Score = Σ topics (P1..P4) + P5..P7.

/** Weight of every task topic in the total score. */
export const TOPIC_WEIGHT = 1
/**
 * P4: one invalid message costs INVALID_MESSAGE_WEIGHT × count². So 1 bad
 * message → -100, 7 → -4,900 (below GOSSIP_THRESHOLD), 9 → below
 * PUBLISH_THRESHOLD, 13 → graylisted. Chosen so a bug that emits one bad
 * message does not isolate a peer, a flood does within seconds.
 */
export const INVALID_MESSAGE_WEIGHT = -100
/** P4 counter decay per DECAY_INTERVAL_MS: 0.99/s → half-life ≈ 69 s. */
export const INVALID_MESSAGE_DECAY = 0.99
/** The same decay for authors of messages that contradict the records (scored through P5). */
export const CONTRADICTION_DECAY_PER_S = INVALID_MESSAGE_DECAY
/** P1: small reward for time in the mesh (1 point per second, capped at 100). */
export const TIME_IN_MESH_WEIGHT = 1
export const TIME_IN_MESH_QUANTUM_MS = 1_000
export const TIME_IN_MESH_CAP = 100
/** P2: reward for first deliveries, capped so it cannot offset much P4. */
export const FIRST_DELIVERY_WEIGHT = 1
export const FIRST_DELIVERY_DECAY = 0.9
export const FIRST_DELIVERY_CAP = 100
/** Cap of the positive topic contribution. */
export const TOPIC_SCORE_CAP = 500
/** gossipsub's counter decay interval (its minimum allowed value). */
export const DECAY_INTERVAL_MS = 1_000

/** Below: no gossip (IHAVE/IWANT) with the peer. */
export const GOSSIP_THRESHOLD = -4_000
/** Below: we do not publish to the peer. */
export const PUBLISH_THRESHOLD = -8_000
/** Below: all the peer's RPCs are ignored. */
export const GRAYLIST_THRESHOLD = -16_000
/** Above: peer exchange from this peer is accepted. */
export const ACCEPT_PX_THRESHOLD = 100
/** Median mesh score below which opportunistic grafting kicks in. */
export const OPPORTUNISTIC_GRAFT_THRESHOLD = 5
