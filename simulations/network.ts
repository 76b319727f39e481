/**
 * Network load of one node at 10^4–10^6 nodes, on paper: what gossip
 * (eager push over a mesh of degree D, IHAVE gossip, IDONTWANT), the
 * miners' heartbeats, the task messages and the DHT (pool-key provides,
 * routing-table refresh, block provides) cost a miner, an oracle and a
 * router in messages, bytes and CPU per second, idle and at a task rate.
 *
 * Nothing here is guessed that the network's code can say: message sizes
 * are the real messages encoded with the real encoders (protocols/messages
 * inside gossipsub's own RPC envelope), topics and which of them are per
 * model come from protocols/topics.ts, gossip parameters from gossipsub's
 * defaults as node/mesh.ts runs it, intervals from their constants. The
 * rest (how many copies a mesh delivers, what a DHT lookup queries, CPU per
 * operation) is stated in simulations/network-constants.ts with where each
 * number comes from. Pure and deterministic; `oracleSelection` alone times
 * the real selection code.
 */
import { encode as dagJsonEncode } from '@ipld/dag-json'
import { RPC } from '@libp2p/gossipsub/message'
import { Ack, Decline, Assignment, FirstTokenReport, Heartbeat, MinerVerdict, Precommit, Reveal, TaskQueued, Verdict } from '../protocols/messages/index.ts'
import { poolKeysFor } from '../protocols/pool/index.ts'
import { KINDS_MINERS_DO_NOT_JOIN, TOPIC_CODECS, TOPIC_KINDS, buildTopic } from '../protocols/topics.ts'
import * as C from './network-constants.ts'
import type { TopicKind } from '../protocols/topics.ts'

export type NodeRole = 'miner' | 'oracle' | 'router'

export interface NetworkLoadParams {
  /** miners */
  nodes: number
  oracles: number
  routers: number
  /** models served, miners spread evenly; per-model topics split the load */
  models: number
  /** every topic kind per model, not only the kinds protocols/topics.ts scopes per model (a proposal) */
  splitAllTopics: boolean
  /** miners' heartbeat period */
  heartbeatIntervalS: number
  /** gossipsub mesh degree D (Dlazy, the gossip factor and the history follow gossipsub's defaults) */
  meshDegree: number
  /** connections a node keeps open (the peer keeper keeps at least 8; DHT and gossip add more) */
  connections: number
  /** tasks per second over the whole network (0: idle) */
  taskRatePerS: number
  redundancy: number
  /** UTF-8 bytes of a prompt (sent inline in the announcement up to MAX_INLINE_PROMPT_BYTES) */
  promptBytes: number
  /** pool-key provide period of a miner */
  provideIntervalS: number
  /** count the DHT (pool keys, routing table, block provides) */
  dht: boolean
  /** nodes announce each task's blocks on the DHT (`--announce-blocks`; off by default, decision 0022) */
  announceBlocks: boolean
  /** kad-dht's routing-table refresh period (its default; kad-dht 16 has no option for it) */
  dhtRefreshS: number
  /** count IHAVE gossip */
  ihave: boolean
}

export const DEFAULT_NETWORK_LOAD: NetworkLoadParams = {
  nodes: 10_000,
  oracles: C.DEFAULT_ORACLES,
  routers: C.DEFAULT_ROUTERS,
  models: 1,
  splitAllTopics: false,
  heartbeatIntervalS: C.HEARTBEAT_INTERVAL_S,
  meshDegree: C.GOSSIP_D,
  connections: C.DEFAULT_CONNECTIONS,
  taskRatePerS: 0,
  redundancy: C.DEFAULT_REDUNDANCY,
  promptBytes: C.DEFAULT_PROMPT_BYTES,
  provideIntervalS: C.POOL_PROVIDE_INTERVAL_S,
  dht: true,
  announceBlocks: false,
  dhtRefreshS: C.DHT_TABLE_REFRESH_S,
  ihave: true
}

/** Bytes of one message as gossip carries it: the RPC a stream writes, and on the connection (yamux, noise). */
export interface MessageSize {
  /** the gossipsub RPC with its length prefix: what libp2p's per-protocol byte counter sees */
  payload: number
  /** plus a yamux header and noise's length and tag: what the connection carries */
  wire: number
}

export type WireSizes = Record<TopicKind, MessageSize> & {
  /** IHAVE RPC without ids, and per message id */
  ihaveBase: MessageSize
  ihavePerId: number
  idontwant: MessageSize
}

/** Wire size of a stream write of `payload` bytes (gossipsub RPCs and DHT messages alike). */
export function framed (payload: number): number {
  return payload + C.YAMUX_HEADER_BYTES + C.NOISE_FRAME_OVERHEAD_BYTES
}

function varintLength (n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    len++
  }
  return len
}

function sized (rpc: Uint8Array): MessageSize {
  const payload = rpc.byteLength + varintLength(rpc.byteLength)
  return { payload, wire: framed(payload) }
}

const bytes = (n: number, fill = 0xab): Uint8Array<ArrayBuffer> => new Uint8Array(n).fill(fill)

/** One gossip message as a signed gossipsub RPC carries it (StrictSign: author, sequence number, signature). */
function gossipRpc (topic: string, data: Uint8Array): Uint8Array {
  return RPC.encode({
    subscriptions: [],
    messages: [{ from: bytes(C.PEER_ID_BYTES), data, seqno: bytes(8), topic, signature: bytes(C.GOSSIP_SIGNATURE_BYTES) }]
  })
}

/** The network's messages at realistic sizes (hub model ids, EVM addresses, 65-byte signatures, CIDv1), in their RPC envelopes. */
export function wireSizes (p: Pick<NetworkLoadParams, 'redundancy' | 'promptBytes'>): WireSizes {
  const model = `0x${'ab'.repeat(32)}`
  const addr = bytes(20)
  const sig = bytes(65)
  const cid = bytes(36)
  const promptBlock = Uint8Array.from(dagJsonEncode({ prompt: 'x'.repeat(p.promptBytes) }))
  const now = BigInt(Date.UTC(2026, 0, 1))
  const data: Record<TopicKind, Uint8Array> = {
    task: TaskQueued.encode({
      sessionId: 1000n,
      taskId: 1_000_000n,
      promptCid: cid,
      params: { modelId: model, maxTokens: 256, temperature: 0.7, topP: 0.9, topK: 40, seed: 42n, stop: [] },
      submitter: addr,
      deadlineMs: now,
      redundancy: p.redundancy,
      ...(promptBlock.byteLength <= C.MAX_INLINE_PROMPT_BYTES ? { promptBlock } : {}),
      seed: bytes(32)
    }),
    assignment: Assignment.encode({ taskId: 1_000_000n, miners: Array.from({ length: p.redundancy }, () => addr), selectionSeed: bytes(32), leader: addr, round: 0, signature: sig, sessionId: 1000n }),
    ack: Ack.encode({ taskId: 1_000_000n, miner: addr, round: 0 }),
    decline: Decline.encode({ taskId: 1_000_000n, miner: addr, round: 0, reason: Decline.Reason.CONTEXT_OVERFLOW, message: 'needs 700 tokens of context, the model has 512', promptTokens: 690 }),
    precommit: Precommit.encode({ taskId: 1_000_000n, miner: addr, commitment: bytes(32), signature: sig }),
    reveal: Reveal.encode({ taskId: 1_000_000n, miner: addr, outputCid: cid, salt: bytes(32) }),
    verdict: Verdict.encode({
      taskId: 1_000_000n,
      oracle: addr,
      miners: Array.from({ length: p.redundancy }, () => ({ miner: addr, outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 1_000_000, deliveredTokens: 256, deliveredMs: 2500, firstTokenMs: 180 })),
      round: 0,
      signature: sig
    }),
    'first-token': FirstTokenReport.encode({ taskId: 1_000_000n, sessionId: 1000n, submitter: addr, miner: addr, firstTokenMs: 180 }),
    heartbeat: Heartbeat.encode({
      node: addr,
      models: [model],
      hardwareClass: 'gpu',
      level: 2,
      tokensPerSecondMilli: 42_000,
      loadPermille: 333,
      reservedBySession: 1000n,
      reservedUntilMs: now,
      timestampMs: now,
      seq: 100_000n,
      contextTokens: 8192,
      intervalMs: 60_000
    })
  }
  const out: Partial<WireSizes> = {}
  for (const kind of TOPIC_KINDS) {
    out[kind] = sized(gossipRpc(buildTopic(kind, TOPIC_CODECS[kind].modelScoped ? model : undefined), data[kind]))
  }
  const ihave = (ids: number): Uint8Array => RPC.encode({
    subscriptions: [],
    messages: [],
    control: { ihave: [{ topicID: buildTopic('heartbeat', model), messageIDs: Array.from({ length: ids }, () => bytes(C.GOSSIP_MESSAGE_ID_BYTES)) }], iwant: [], graft: [], prune: [], idontwant: [] }
  })
  out.ihaveBase = sized(ihave(0))
  out.ihavePerId = ihave(2).byteLength - ihave(1).byteLength
  out.idontwant = sized(RPC.encode({ subscriptions: [], messages: [], control: { ihave: [], iwant: [], graft: [], prune: [], idontwant: [{ messageIDs: [bytes(C.GOSSIP_MESSAGE_ID_BYTES)] }] } }))
  return out as WireSizes
}

/** Per second, one node, one source of load. */
export interface Load {
  /** messages received (every copy) */
  msgsIn: number
  msgsOut: number
  /** first copies of gossip messages: each costs a signature check */
  firstSeen: number
  bytesIn: number
  bytesOut: number
  /** stream-level bytes (what libp2p_data_transfer_bytes_total counts per protocol), in + out */
  payloadBytes: number
  cpuMs: number
}

export interface RoleLoad {
  role: NodeRole
  total: Load
  /** heartbeats, task, assignment, …, ihave, dht */
  sources: Record<string, Load>
}

const zero = (): Load => ({ msgsIn: 0, msgsOut: 0, firstSeen: 0, bytesIn: 0, bytesOut: 0, payloadBytes: 0, cpuMs: 0 })

function add (a: Load, b: Load): Load {
  return {
    msgsIn: a.msgsIn + b.msgsIn,
    msgsOut: a.msgsOut + b.msgsOut,
    firstSeen: a.firstSeen + b.firstSeen,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    payloadBytes: a.payloadBytes + b.payloadBytes,
    cpuMs: a.cpuMs + b.cpuMs
  }
}

/** Messages per task on each topic kind (the lifecycle of protocols/queue at redundancy r, no reassignment). */
export function messagesPerTask (redundancy: number): Record<TopicKind, number> {
  // the submitter reports the first token of the miner it streams from
  return { task: 1, assignment: 1, ack: redundancy, decline: 0, precommit: redundancy, reveal: redundancy, verdict: 1, heartbeat: 0, 'first-token': 1 }
}

interface Topic {
  kind: TopicKind
  /** nodes subscribed */
  subscribers: number
  /** messages published on it per second */
  ratePerS: number
  /** of which this node's own */
  ownPerS: number
  /** set where the node publishes without joining: the connected peers that joined, which get its own messages */
  publishTo?: number
}

/** The topics a node of `role` is on, one per kind (a miner's own model; oracles and routers: every model, summed as one per kind). */
function topicsOf (role: NodeRole, p: NetworkLoadParams): Array<Topic & { copies: number }> {
  const perTask = messagesPerTask(p.redundancy)
  const out: Array<Topic & { copies: number }> = []
  for (const kind of TOPIC_KINDS) {
    const perModel = TOPIC_CODECS[kind].modelScoped || p.splitAllTopics
    const topics = perModel ? p.models : 1
    const miners = p.nodes / topics
    // miners do not join the reveal and first-token topics (decision 0023)
    const minersJoin = !KINDS_MINERS_DO_NOT_JOIN.includes(kind)
    const subscribers = (minersJoin ? miners : 0) + p.oracles + p.routers
    const ratePerS = kind === 'heartbeat' ? miners / p.heartbeatIntervalS : p.taskRatePerS * perTask[kind] / topics
    let ownPerS = 0
    if (role === 'miner') {
      // its heartbeats, its share of the acks, precommits and reveals of its topics' tasks
      ownPerS = kind === 'heartbeat' ? 1 / p.heartbeatIntervalS : (['ack', 'precommit', 'reveal'].includes(kind) ? ratePerS / miners : 0)
      if (!minersJoin) {
        // it only publishes its own, to the connected peers that joined (a bootstrap node, an oracle, a router)
        out.push({ kind, subscribers: 0, ratePerS: ownPerS, ownPerS, copies: 1, publishTo: Math.min(p.connections, p.oracles + p.routers, C.DEFAULT_PUBLISH_PEERS) })
        continue
      }
    } else if (role === 'oracle') {
      // the leader's assignments and verdicts, spread over the oracles as the leadership rotates
      ownPerS = ['assignment', 'verdict'].includes(kind) ? ratePerS / p.oracles : 0
    } else if (kind === 'task') {
      ownPerS = ratePerS / p.routers
    }
    // a miner is on its own model's topics; oracles and routers on every model's
    const copies = role === 'miner' ? 1 : topics
    out.push({ kind, subscribers, ratePerS, ownPerS, copies })
  }
  return out
}

/** Eager push and IHAVE gossip on one topic, for one node. */
function gossipLoad (t: Topic, size: MessageSize, sizes: WireSizes, p: NetworkLoadParams): { push: Load, ihave: Load } {
  // a node that publishes on a topic without joining it: its own messages to the connected peers that joined
  const peers = t.publishTo ?? Math.max(0, Math.min(p.connections, t.subscribers - 1))
  const mesh = t.publishTo != null ? 0 : Math.min(p.meshDegree, peers)
  const others = t.publishTo != null ? 0 : Math.max(0, t.ratePerS - t.ownPerS)
  // each node forwards a message once to its mesh peers but the one it came from: D − 1 copies in, D − 1 out
  let copiesIn = others * Math.max(0, mesh - 1)
  const large = size.payload >= C.IDONTWANT_MIN_DATA_BYTES
  let idontwantOut = 0
  if (large && mesh > 2) {
    // IDONTWANT (gossipsub v1.2) to the mesh on the first copy stops part of the duplicates
    const duplicates = others * (mesh - 2)
    copiesIn -= duplicates * C.IDONTWANT_DUPLICATES_SAVED
    idontwantOut = others * mesh
  }
  // floodPublish: its own messages go to every connected peer on the topic
  const msgsOut = others * Math.max(0, mesh - 1) - (large && mesh > 2 ? others * (mesh - 2) * C.IDONTWANT_DUPLICATES_SAVED : 0) + t.ownPerS * peers
  const push: Load = {
    msgsIn: copiesIn + idontwantOut,
    msgsOut: msgsOut + idontwantOut,
    firstSeen: others,
    bytesIn: copiesIn * size.wire + idontwantOut * sizes.idontwant.wire,
    bytesOut: msgsOut * size.wire + idontwantOut * sizes.idontwant.wire,
    payloadBytes: (copiesIn + msgsOut) * size.payload + 2 * idontwantOut * sizes.idontwant.payload,
    cpuMs: 0
  }
  const ihave = zero()
  if (p.ihave && t.publishTo == null && peers > mesh) {
    // each gossipsub heartbeat: ids of the last HISTORY_GOSSIP heartbeats to max(Dlazy, factor × non-mesh peers)
    const targets = Math.min(peers - mesh, Math.max(C.GOSSIP_D_LAZY, Math.ceil(C.GOSSIP_FACTOR * (peers - mesh))))
    const window = t.ratePerS * C.GOSSIP_HISTORY_GOSSIP * C.GOSSIP_HEARTBEAT_S
    const ids = Math.min(C.GOSSIP_MAX_IHAVE_LENGTH, window)
    // a heartbeat sends nothing when no message arrived in the window
    const sent = targets * (1 - Math.exp(-window)) / C.GOSSIP_HEARTBEAT_S
    const bytesEach = (n: number): number => sizes.ihaveBase.payload + n * sizes.ihavePerId
    const perS = (targets / C.GOSSIP_HEARTBEAT_S) * ids * sizes.ihavePerId + sent * bytesEach(0)
    ihave.msgsIn = sent
    ihave.msgsOut = sent
    ihave.bytesIn = perS + sent * (framed(0))
    ihave.bytesOut = ihave.bytesIn
    ihave.payloadBytes = 2 * perS
  }
  return { push, ihave }
}

/** One Kademlia lookup at this network size: queried peers (request + response each). */
export function lookupQueries (networkNodes: number): number {
  return C.DHT_ALPHA * Math.max(1, Math.ceil(Math.log2(Math.max(2, networkNodes / C.DHT_K)))) + C.DHT_K
}

/** The DHT's share of one node's load: its own lookups and provides, and its share of everyone's. */
function dhtLoad (role: NodeRole, p: NetworkLoadParams): Load {
  const all = p.nodes + p.oracles + p.routers
  const q = lookupQueries(all)
  // one lookup per bucket of the routing table (common prefix lengths 0 … log2(N / K)) every refresh period
  const refreshLookups = (Math.ceil(Math.log2(Math.max(2, all / C.DHT_K))) + 1) / p.dhtRefreshS
  const poolKeys = poolKeysFor('cortensor', { model: 'm', hardwareClass: 'cpu', level: 0 }).length
  // provides: pool keys (miners), and with announceBlocks the stored blocks of each task (outputs by miners, the
  // prompt by its router)
  const blocks = p.announceBlocks ? 1 : 0
  const provides = role === 'miner'
    ? poolKeys / p.provideIntervalS + blocks * p.taskRatePerS * p.redundancy / p.nodes
    : role === 'router' ? blocks * p.taskRatePerS / p.routers : 0
  const lookups = refreshLookups + provides
  // everyone's queries and provider records, spread evenly (the model's plain pool key is the exception: see hotspot)
  const networkProvides = p.nodes * poolKeys / p.provideIntervalS + blocks * p.taskRatePerS * (p.redundancy + 1)
  const networkQueries = all * refreshLookups * q + networkProvides * q
  const served = networkQueries / all
  const stored = networkProvides * C.DHT_K / all
  const ownQueries = lookups * q
  const adds = provides * C.DHT_K
  const reqW = framed(C.DHT_QUERY_BYTES)
  const resW = framed(C.DHT_RESPONSE_BYTES)
  const addW = framed(C.DHT_ADD_PROVIDER_BYTES)
  return {
    msgsIn: ownQueries + served + stored,
    msgsOut: ownQueries + served + adds,
    firstSeen: 0,
    bytesIn: ownQueries * resW + served * reqW + stored * addW,
    bytesOut: ownQueries * reqW + served * resW + adds * addW,
    payloadBytes: (ownQueries + served) * (C.DHT_QUERY_BYTES + C.DHT_RESPONSE_BYTES) + (stored + adds) * C.DHT_ADD_PROVIDER_BYTES,
    // every query a new stream (negotiation, a peer-store write); every response's peers decoded (a key decompression each)
    cpuMs: (ownQueries + served + stored + adds) * C.STREAM_OPEN_MS + ownQueries * C.DHT_K * C.KEY_DECODE_MS
  }
}

/** CPU of the gossip part of a load: signature checks of first copies, per-message handling of every copy. */
function gossipCpu (l: Load, kind: string): number {
  const recover = kind === 'precommit' ? C.PRECOMMIT_RECOVER_MS : 0
  return l.firstSeen * (C.SIGNATURE_CHECK_MS + C.KEY_DECODE_MS + C.GOSSIP_HANDLE_MS + recover) + (l.msgsIn + l.msgsOut) * C.WIRE_MESSAGE_MS
}

/** One node's load per second, by source. */
export function roleLoad (role: NodeRole, p: NetworkLoadParams, sizes: WireSizes = wireSizes(p)): RoleLoad {
  const sources: Record<string, Load> = {}
  let ihaveTotal = zero()
  for (const t of topicsOf(role, p)) {
    const { push, ihave } = gossipLoad(t, sizes[t.kind], sizes, p)
    const scale = (l: Load): Load => ({ msgsIn: l.msgsIn * t.copies, msgsOut: l.msgsOut * t.copies, firstSeen: l.firstSeen * t.copies, bytesIn: l.bytesIn * t.copies, bytesOut: l.bytesOut * t.copies, payloadBytes: l.payloadBytes * t.copies, cpuMs: 0 })
    const pushed = scale(push)
    pushed.cpuMs = gossipCpu(pushed, t.kind)
    sources[t.kind] = pushed
    const gossiped = scale(ihave)
    gossiped.cpuMs = (gossiped.msgsIn + gossiped.msgsOut) * C.WIRE_MESSAGE_MS
    ihaveTotal = add(ihaveTotal, gossiped)
  }
  sources.ihave = ihaveTotal
  sources.dht = p.dht ? dhtLoad(role, p) : zero()
  sources.base = { ...zero(), cpuMs: C.BARE_NODE_CPU_MS_PER_S }
  const total = Object.values(sources).reduce(add, zero())
  return { role, total, sources }
}

export interface NetworkLoad {
  params: NetworkLoadParams
  sizes: WireSizes
  roles: Record<NodeRole, RoleLoad>
  /** provider records per second that the K nodes nearest a model's plain pool key receive */
  hotspotAddProvidersPerS: number
}

export function networkLoad (params: Partial<NetworkLoadParams> = {}): NetworkLoad {
  const p = { ...DEFAULT_NETWORK_LOAD, ...params }
  const sizes = wireSizes(p)
  return {
    params: p,
    sizes,
    roles: { miner: roleLoad('miner', p, sizes), oracle: roleLoad('oracle', p, sizes), router: roleLoad('router', p, sizes) },
    hotspotAddProvidersPerS: p.dht ? (p.nodes / p.models) / p.provideIntervalS : 0
  }
}

/** Whether a load keeps a node within the idle goal: CPU and bandwidth (in + out). */
export function withinGoal (l: Load): boolean {
  return l.cpuMs <= C.GOAL_CPU_MS_PER_S && (l.bytesIn + l.bytesOut) * 8 / 1000 <= C.GOAL_KBIT_PER_S
}
