/**
 * The node pool as one node sees it: miners' heartbeats (model, hardware
 * class, level, speed, load, reservation) plus the local reputation score.
 * Oracles draw selections from it, clients list models and miners from it.
 */
import { bytesToHex } from 'viem'
import { REPUTATION_INITIAL, nextReputation } from '../../protocols/reputation/index.ts'
import type { Heartbeat } from '../../protocols/messages/index.ts'
import type { VerdictCode } from '../../protocols/policy/verdicts.ts'
import type { MinerRecord } from '../../protocols/selection/index.ts'
import type { PeerId } from '@libp2p/interface'

export interface PoolEntry {
  address: string
  peerId: PeerId
  heartbeat: Heartbeat
  lastSeenMs: number
}

/** A miner counts as healthy while its last heartbeat is younger than this many intervals. */
export const HEALTHY_HEARTBEATS = 3

export class PoolView {
  private readonly entries = new Map<string, PoolEntry>()
  private readonly reputation = new Map<string, number>()
  private readonly heartbeatIntervalMs: number

  constructor (heartbeatIntervalMs: number) {
    this.heartbeatIntervalMs = heartbeatIntervalMs
  }

  onHeartbeat (h: Heartbeat, peerId: PeerId, nowMs = Date.now()): void {
    const address = bytesToHex(h.node).toLowerCase()
    const prev = this.entries.get(address)
    if (prev != null && prev.heartbeat.seq > h.seq && prev.heartbeat.timestampMs > h.timestampMs) {
      return
    }
    this.entries.set(address, { address, peerId, heartbeat: h, lastSeenMs: nowMs })
  }

  get (address: string): PoolEntry | undefined {
    return this.entries.get(address.toLowerCase())
  }

  /** Drop a miner at once (it said goodbye or its connection closed for good). */
  forget (address: string): void {
    this.entries.delete(address.toLowerCase())
  }

  healthy (e: PoolEntry, nowMs = Date.now()): boolean {
    return nowMs - e.lastSeenMs <= HEALTHY_HEARTBEATS * this.heartbeatIntervalMs
  }

  list (): PoolEntry[] {
    return [...this.entries.values()].sort((a, b) => a.address < b.address ? -1 : a.address > b.address ? 1 : 0)
  }

  reputationOf (address: string): number {
    return this.reputation.get(address.toLowerCase()) ?? REPUTATION_INITIAL
  }

  applyVerdict (address: string, verdict: VerdictCode): number {
    const next = nextReputation(this.reputationOf(address), verdict)
    this.reputation.set(address.toLowerCase(), next)
    return next
  }

  /**
   * Selection records in canonical (address) order; the selection filter
   * gives miners of other models weight 0. A miner
   * reserved by another session, or unhealthy, gets weight 0 but keeps its
   * index so every oracle builds the same snapshot from the same heartbeats.
   */
  records (sessionId: bigint, nowMs = Date.now()): MinerRecord[] {
    return this.list().map(e => ({
      id: e.address,
      models: e.heartbeat.models,
      level: e.heartbeat.level,
      reputation: this.reputationOf(e.address),
      tokensPerSec: e.heartbeat.tokensPerSecondMilli / 1000,
      healthy: this.healthy(e, nowMs),
      reserved: e.heartbeat.reservedBySession !== 0n && e.heartbeat.reservedBySession !== sessionId
    }))
  }
}
