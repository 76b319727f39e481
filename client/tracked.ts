/**
 * What the client SDK needs from a node, and its bookkeeping of a task in
 * flight (shared by the client, its token stream and its result fetch).
 */
import type { Channel } from './channel.ts'
import type { TaskRecord, TaskResult, TaskUpdate, TokenEvent } from './types.ts'
import type { Decline, MinerVerdict, TaskQueued } from '../protocols/messages/index.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Hex } from 'viem'

/** What the client needs from a node: its libp2p (with gossipsub) and a content store. */
export interface ClientNode {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  store: {
    putJson(value: unknown): Promise<CID>
    getJson<T>(cid: CID, options?: AbortOptions): Promise<T>
    /** direct fetch from a known holder (ContentStore has it; bitswap alone otherwise) */
    fetchFrom?(libp2p: any, peer: PeerId | undefined, cid: CID, protocol: string, options?: AbortOptions): Promise<void>
  }
  /** network name (protocol ids) */
  network: string
  /**
   * Make sure `peer` can be reached before the client opens a stream to it
   * (a miner to stream tokens from, a holder of the output). A node finds
   * peers on the DHT and needs nothing here; a browser page, which has no
   * DHT, dials them over WebRTC through its relay. A failure is not fatal:
   * the stream or fetch that follows reports it.
   */
  connect?(peer: PeerId, options?: AbortOptions): Promise<void>
}

export interface Tracked {
  record: TaskRecord
  queued?: TaskQueued
  /**
   * miners to stream from, in order: those that acked, and before any ack the
   * miner the client's own draw predicts and then the first assigned miner
   * whose peer is known (`early`: it may still decline, or not be assigned)
   */
  ackers: Array<{ miner: string, peer: PeerId, early?: boolean }>
  /** when this client saw each miner's assignment (performance.now() ms): where its first-token time starts at the latest */
  assignedAt?: Map<string, number>
  /** miners whose first token this client reported (client/first-token.ts) */
  reportedFirstToken?: Set<string>
  /** the stream being opened or read: an early pick that the assignment does not name is given up */
  attempt?: { miner: string, early: boolean, controller: AbortController }
  reveals: Map<string, string>
  outcomes: Map<string, MinerVerdict.Outcome>
  tokens: Channel<TokenEvent>
  listeners: Set<(u: TaskUpdate) => void>
  resolve(r: TaskResult): void
  reject(err: Error): void
  abort: AbortController
  /** text and token count received over the token stream so far */
  streamedText: string
  streamedTokens: number
  /** the prompt's token count, from the miner's end-of-stream frame or the settled output */
  promptTokens?: number
  /** peers whose verdicts on the task came in (oracles: they fetched its outputs, so they hold them) */
  judges?: PeerId[]
  /** declines heard from miners, by miner address (lower case) */
  declines?: Map<string, Decline>
  newAcker?(): void
  settledTx?: Hex
}
