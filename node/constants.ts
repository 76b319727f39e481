/**
 * Node defaults in one place. Units are in the names.
 */

export const ROLES = ['bootstrap', 'miner', 'oracle', 'router'] as const
export type Role = typeof ROLES[number]

/** Name of the network; protocol ids are built from it so tests and private networks stay apart. */
export const DEFAULT_NETWORK = 'cortensor'

/** Well-known ports for a bootstrap node, so others can be configured once (libp2p's usual 4001 + a WS port). */
export const BOOTSTRAP_TCP_PORT = 4001
export const BOOTSTRAP_WS_PORT = 4002

/** HTTP ports by role when none is given: the bootstrap health/metrics endpoint and the router API (issue text). */
export const BOOTSTRAP_HTTP_PORT = 8090
export const ROUTER_HTTP_PORT = 5010
export const DEFAULT_HTTP_HOST = '127.0.0.1'

/**
 * Largest gossip message accepted or sent. Prompts and outputs travel by CID
 * through Helia, so gossip carries only small announcements; 256 KiB leaves
 * room for batched verdicts while bounding what a peer can make us buffer.
 */
export const MAX_GOSSIP_MESSAGE_BYTES = 256 * 1024

/** Outbound gossip buffer per peer before the stream is considered stuck (4× the largest message). */
export const MAX_GOSSIP_OUTBOUND_BUFFER_BYTES = 4 * MAX_GOSSIP_MESSAGE_BYTES

/**
 * Circuit-relay-v2 server limits on a bootstrap node. 128 reservations suits
 * one small host serving NATed miners and browser tabs; libp2p's default is 15.
 */
export const RELAY_MAX_RESERVATIONS = 128

/** Connections a node keeps; libp2p 3's default of 300 is fine for a mesh of this size. */
export const MAX_CONNECTIONS = 300

/**
 * Inbound connections one host may open per second. libp2p's default of 5
 * starves a bootstrap node when many peers share one address (a NAT, a
 * devnet on one machine): 20 nodes on loopback never all got in with it.
 */
export const INBOUND_CONNECTIONS_PER_HOST_PER_SECOND = 50

/** Graceful shutdown budget on SIGINT/SIGTERM before the process exits anyway (issue 2: within 5 s). */
export const SHUTDOWN_TIMEOUT_MS = 4500
