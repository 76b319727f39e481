/**
 * The pool as a light client sees it: the latest heartbeat of every miner,
 * forgotten once it goes quiet. Pure and browser-safe.
 */
import { bytesToHex, getAddress } from 'viem'
import type { Heartbeat } from '../../protocols/messages/index.ts'

/** Same shape as the SDK's `MinerInfo`, plus the heartbeat's sequence number. */
export interface PoolMiner {
  address: string
  peerId: string
  models: string[]
  hardwareClass: string
  level: number
  tokensPerSec: number
  /** 0..1 */
  load: number
  reservedBySession: string | null
  lastSeenMs: number
  seq: string
}

export interface PoolModel {
  id: string
  miners: number
}

/** A miner whose last heartbeat is older than this is dropped from the view. */
export const POOL_MAX_AGE_MS = 120_000

export class PoolView {
  private readonly byAddress = new Map<string, PoolMiner>()
  private readonly maxAgeMs: number

  constructor (maxAgeMs: number = POOL_MAX_AGE_MS) {
    this.maxAgeMs = maxAgeMs
  }

  /** Record a heartbeat; an older sequence number than the one held is ignored. */
  update (hb: Heartbeat, peerId: string, nowMs: number): PoolMiner | undefined {
    const address = getAddress(bytesToHex(hb.node))
    const held = this.byAddress.get(address)
    if (held != null && BigInt(held.seq) > hb.seq) {
      return undefined
    }
    const miner: PoolMiner = {
      address,
      peerId,
      models: [...hb.models],
      hardwareClass: hb.hardwareClass,
      level: hb.level,
      tokensPerSec: hb.tokensPerSecondMilli / 1000,
      load: hb.loadPermille / 1000,
      reservedBySession: hb.reservedBySession === 0n ? null : hb.reservedBySession.toString(),
      lastSeenMs: nowMs,
      seq: hb.seq.toString()
    }
    this.byAddress.set(address, miner)
    return miner
  }

  miners (nowMs: number): PoolMiner[] {
    for (const [address, m] of this.byAddress) {
      if (nowMs - m.lastSeenMs > this.maxAgeMs) {
        this.byAddress.delete(address)
      }
    }
    return [...this.byAddress.values()].sort((a, b) => a.address.localeCompare(b.address))
  }

  models (nowMs: number): PoolModel[] {
    const counts = new Map<string, number>()
    for (const m of this.miners(nowMs)) {
      for (const id of m.models) {
        counts.set(id, (counts.get(id) ?? 0) + 1)
      }
    }
    return [...counts].map(([id, miners]) => ({ id, miners })).sort((a, b) => a.id.localeCompare(b.id))
  }
}
