/**
 * The numbers of the network-load model (simulations/network.ts) that the
 * network's code does not fix by itself, each with where it comes from.
 * Sizes are bytes, times milliseconds or seconds as named.
 */
import { HEARTBEAT_INTERVAL_MS } from '../protocols/gossip/constants.ts'
import { MAX_INLINE_PROMPT_BYTES as INLINE } from '../protocols/messages/constants.ts'
import { DEFAULT_REDUNDANCY as REDUNDANCY } from '../protocols/policy/constants.ts'
import { POOL_PROVIDE_INTERVAL_MS } from '../protocols/pool/dht.ts'

// ---- the network

/** Oracles: a small set (Cortensor runs a handful per network). */
export const DEFAULT_ORACLES = 7
/** Routers: a few per region serve the Web2 clients. */
export const DEFAULT_ROUTERS = 10
/**
 * Connections a node keeps: its peer keeper dials 8 (node/peer-keeper.ts)
 * and, every node doing so, about as many dial it.
 */
export const DEFAULT_CONNECTIONS = 16
/** a miner's connected peers on the topics it publishes without joining (a bootstrap node, an oracle or a router) */
export const DEFAULT_PUBLISH_PEERS = 2
export const DEFAULT_REDUNDANCY = REDUNDANCY
/** A prompt of a few paragraphs, sent inline in its announcement (≤ MAX_INLINE_PROMPT_BYTES). */
export const DEFAULT_PROMPT_BYTES = 1024
export const MAX_INLINE_PROMPT_BYTES = INLINE
/** A miner's heartbeat period (node/roles/miner/advert.ts uses the protocol's). */
export const HEARTBEAT_INTERVAL_S = HEARTBEAT_INTERVAL_MS / 1000
export const POOL_PROVIDE_INTERVAL_S = POOL_PROVIDE_INTERVAL_MS / 1000

// ---- gossipsub: its defaults (@libp2p/gossipsub constants.js), which node/mesh.ts does not override

export const GOSSIP_D = 6
export const GOSSIP_D_LAZY = 6
export const GOSSIP_FACTOR = 0.25
/** heartbeats of message ids an IHAVE carries (mcacheGossip) */
export const GOSSIP_HISTORY_GOSSIP = 3
export const GOSSIP_HEARTBEAT_S = 1
export const GOSSIP_MAX_IHAVE_LENGTH = 5000
/** messages at least this large make receivers send IDONTWANT to their mesh (gossipsub v1.2) */
export const IDONTWANT_MIN_DATA_BYTES = 512
/**
 * Share of a large message's duplicate copies that IDONTWANT stops: it races
 * the forwards already under way; half is an assumption, not a measurement.
 */
export const IDONTWANT_DUPLICATES_SAVED = 0.5

// ---- sizes on the wire

/** A secp256k1 peer id: identity multihash (2) of the protobuf public key (4 + 33). */
export const PEER_ID_BYTES = 39
/** A DER secp256k1 signature: 70–72 bytes. */
export const GOSSIP_SIGNATURE_BYTES = 71
/** gossipsub's StrictSign message id: the author's protobuf key (37) and sequence number (8). */
export const GOSSIP_MESSAGE_ID_BYTES = 45
/** yamux frame header */
export const YAMUX_HEADER_BYTES = 12
/** noise transport frame: a 2-byte length and ChaChaPoly's 16-byte tag */
export const NOISE_FRAME_OVERHEAD_BYTES = 18

// ---- the DHT: kad-dht's defaults, node/mesh.ts's private protocol

export const DHT_K = 20
export const DHT_ALPHA = 3
/** kad-dht refreshes every bucket of its routing table this often (TABLE_REFRESH_INTERVAL) */
export const DHT_TABLE_REFRESH_S = 300
/** FIND_NODE / GET_PROVIDERS request: type, a 36–38-byte key, the length prefix */
export const DHT_QUERY_BYTES = 48
/** Its response: K peers of ~76 bytes (39-byte id, a TCP and a WebSocket address, the connection type) and the header */
export const DHT_RESPONSE_BYTES = DHT_K * 76 + 48
/** ADD_PROVIDER: the key and one peer entry */
export const DHT_ADD_PROVIDER_BYTES = 48 + 76

// ---- CPU per operation, measured on the development machine (2 shared cores) by `npm run bench -- cost`
//      (its "per operation" table; two runs, the larger figure) unless said otherwise

/** A gossip message's author signature, checked natively (node/native-secp256k1.ts): 0.66–0.71 ms. */
export const SIGNATURE_CHECK_MS = 0.7
/**
 * The author's peer id decoded into a key: a secp256k1 point decompression
 * in JavaScript (twice, in @libp2p/crypto's key constructor), once per first
 * copy of a gossip message and once per peer in a DHT response: 0.39–0.40 ms.
 */
export const KEY_DECODE_MS = 0.4
/** A precommit's EIP-712 signer recovered (libsecp256k1 in WebAssembly; viem's JavaScript: 3.1–4.3 ms), on every node, once per precommit: 0.51–0.59 ms. */
export const PRECOMMIT_RECOVER_MS = 0.6
/** Decoding a first copy and running the validators, beyond the signature (the author's address is cached): 0.015–0.023 ms. */
export const GOSSIP_HANDLE_MS = 0.02
/**
 * One message sent or received on a connection: yamux, noise, the socket
 * write or read, gossipsub's RPC handling and de-duplication, and the
 * garbage they leave. The bootstrap's CPU per task less its gossip checks,
 * divided by its messages per task: 0.44 and 0.65 ms in two runs.
 */
export const WIRE_MESSAGE_MS = 0.6
/**
 * A new stream: multistream-select, and libp2p's peer-store write of the
 * protocol (a LevelDB read and write). The idle CPU profile before the
 * connection monitor was turned off: ~1.6 ping streams a second cost
 * 1.5–3 ms/s of peer-store merges and negotiation.
 */
export const STREAM_OPEN_MS = 1
/** An idle bare libp2p node (same transports, identify and ping, one connection): the cost benchmark's baseline. */
export const BARE_NODE_CPU_MS_PER_S = 0.75

// ---- the goal

/** 1 % of a core */
export const GOAL_CPU_MS_PER_S = 10
export const GOAL_KBIT_PER_S = 100
