/**
 * The node pool as one node sees it: miners' heartbeats (model, hardware
 * class, level, speed, load, reservation) plus the local reputation score.
 * Oracles draw selections from it, clients list models and miners from it.
 * A node whose view has no live miner of a model finds them on the DHT
 * (their pool keys, protocols/pool) and dials them, so their heartbeats
 * arrive (`discover`). Browser-safe: the light client uses it too.
 */
import { logger } from '@libp2p/logger'
import { bytesToHex } from 'viem'
import { MAX_HEARTBEAT_INTERVAL_MS } from '../messages/index.ts'
import { REPUTATION_INITIAL, REPUTATION_MAX, nextReputation } from '../reputation/index.ts'
import { routedDraw, selectionSeed, slaFor } from '../selection/index.ts'
import { DeliveryBook } from './delivery.ts'
import { findPoolMiners } from './index.ts'
import type { PoolMiner } from './index.ts'
import type { Heartbeat } from '../messages/index.ts'
import type { VerdictCode } from '../policy/verdicts.ts'
import type { MinerRecord, TaskId } from '../selection/index.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

const log = logger('cortensor:pool')

export interface PoolEntry {
  address: string
  peerId: PeerId
  heartbeat: Heartbeat
  lastSeenMs: number
}

/** A miner counts as healthy while its last heartbeat is younger than this many intervals. */
export const HEALTHY_HEARTBEATS = 3
/** Peers dialled per model per DHT lookup of `discover`. */
export const DISCOVERY_MAX_DIALS = 8
const DISCOVERY_DIAL_TIMEOUT_MS = 10_000

/** A miner's reservation as its last heartbeat tells it (the miner is the authority on it). */
export interface Reservation {
  sessionId: bigint
  /** latest end (epoch ms), if the miner has read the session's reserve period */
  untilMs?: number
}

/** The reservation a heartbeat advertises, if any. */
export function reservationOf (h: Heartbeat): Reservation | undefined {
  if (h.reservedBySession === 0n) {
    return undefined
  }
  const until = h.reservedUntilMs
  return until != null && until !== 0n ? { sessionId: h.reservedBySession, untilMs: Number(until) } : { sessionId: h.reservedBySession }
}

/** Whether a miner that sent `h` may take a task of `sessionId`: free, or reserved by that very session. */
export function availableTo (h: Heartbeat, sessionId: bigint): boolean {
  return h.reservedBySession === 0n || h.reservedBySession === sessionId
}

/**
 * A miner's reservation for a session ends once the session has had no task
 * accepted or running on it for this long (node/roles/miner/reservation.ts). 30 s:
 * longer than the gap between a client's consecutive requests in a
 * conversation or a batch, short enough that another session waiting for
 * the pool is served soon after.
 */
export const DEFAULT_RESERVATION_IDLE_MS = 30_000

/** What a pool view can give one session's task now (PoolView.eligibility). */
export interface Eligibility {
  /** healthy miners that serve the model */
  serving: number
  /** of those, the ones a draw for the session can pick: free or reserved by the session */
  available: number
  /** other sessions that hold miners of the model, how many, and the latest end they advertised */
  reservedBy: Array<{ sessionId: bigint, miners: number, untilMs?: number }>
}

export interface PoolDiscoveryInit {
  libp2p: Pick<Libp2p, 'peerId' | 'contentRouting' | 'peerStore' | 'dial' | 'getConnections'>
  network: string
  /** models to keep miners of in view */
  models: string[]
  /** how often to check the view; default HEALTHY_HEARTBEATS heartbeat intervals */
  intervalMs?: number
  /** bound of one DHT lookup; default protocols/pool's */
  lookupTimeoutMs?: number
  /** peers dialled per model per lookup; default DISCOVERY_MAX_DIALS */
  maxDials?: number
  /** after each lookup: the miners found (for logs and tests) */
  onLookup?(model: string, miners: PoolMiner[]): void
}

export interface PoolDiscovery {
  /** look `model` up now and dial what is found (also what the timer does when the view is empty) */
  lookup(model: string): Promise<PoolMiner[]>
  stop(): void
}

export class PoolView {
  private readonly entries = new Map<string, PoolEntry>()
  private readonly reputation = new Map<string, number>()
  private readonly heartbeatIntervalMs: number
  /** what the leader measured miners deliver (from its verdicts), which draws use instead of claims */
  readonly delivery = new DeliveryBook()
  /** called after a reputation changed (a node stores its pool's scores then, node/roles/shared/delivery-store.ts) */
  onReputationChange?: () => void

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

  /** Live while its last heartbeat is younger than HEALTHY_HEARTBEATS of the miner's advertised periods (this view's own period if it advertises none). */
  healthy (e: PoolEntry, nowMs = Date.now()): boolean {
    const advertised = e.heartbeat.intervalMs
    const intervalMs = advertised != null && advertised > 0 ? Math.min(advertised, MAX_HEARTBEAT_INTERVAL_MS) : this.heartbeatIntervalMs
    return nowMs - e.lastSeenMs <= HEALTHY_HEARTBEATS * intervalMs
  }

  /** Healthy miners that advertise `model`. */
  serving (model: string, nowMs = Date.now()): PoolEntry[] {
    return this.list().filter(e => this.healthy(e, nowMs) && e.heartbeat.models.includes(model))
  }

  list (): PoolEntry[] {
    return [...this.entries.values()].sort((a, b) => a.address < b.address ? -1 : a.address > b.address ? 1 : 0)
  }

  reputationOf (address: string): number {
    return this.reputation.get(address.toLowerCase()) ?? REPUTATION_INITIAL
  }

  /** The reputation after `verdict`; no verdict (an outcome that says nothing about the miner) leaves it. */
  applyVerdict (address: string, verdict: VerdictCode | undefined): number {
    if (verdict === undefined) {
      return this.reputationOf(address)
    }
    const next = nextReputation(this.reputationOf(address), verdict)
    this.reputation.set(address.toLowerCase(), next)
    this.onReputationChange?.()
    return next
  }

  /** Every score this view holds, by address (what a node stores to draw alike after a restart). */
  reputations (): Record<string, number> {
    return Object.fromEntries(this.reputation)
  }

  /** Take back stored scores (integers in [0, REPUTATION_MAX]); a score this view already holds stands. */
  restoreReputations (scores: Record<string, unknown>): void {
    for (const [address, score] of Object.entries(scores)) {
      const id = address.toLowerCase()
      if (Number.isInteger(score) && (score as number) >= 0 && (score as number) <= REPUTATION_MAX && !this.reputation.has(id)) {
        this.reputation.set(id, score as number)
      }
    }
  }

  /**
   * How many miners of `model` this view could give a task of `sessionId`
   * now: healthy miners serving the model, those of them free or reserved
   * by the session itself (what the leader's draw picks from; reputation,
   * which this view may know less well than the oracles, is left out), and
   * the other sessions holding the rest, with the latest end each advertised.
   */
  eligibility (sessionId: bigint, model: string, nowMs = Date.now()): Eligibility {
    const serving = this.serving(model, nowMs)
    const reservedBy = new Map<bigint, { sessionId: bigint, miners: number, untilMs?: number }>()
    let available = 0
    for (const e of serving) {
      if (availableTo(e.heartbeat, sessionId)) {
        available++
        continue
      }
      const r = reservationOf(e.heartbeat)
      if (r == null) {
        continue
      }
      const by = reservedBy.get(r.sessionId) ?? { sessionId: r.sessionId, miners: 0 }
      by.miners++
      if (r.untilMs != null) {
        by.untilMs = Math.max(by.untilMs ?? 0, r.untilMs)
      }
      reservedBy.set(r.sessionId, by)
    }
    return { serving: serving.length, available, reservedBy: [...reservedBy.values()] }
  }

  /**
   * Selection records in canonical (address) order; the selection filter
   * gives miners of other models weight 0. A miner
   * reserved by another session, or unhealthy, gets weight 0 but keeps its
   * index so every oracle builds the same snapshot from the same heartbeats.
   * The reservation is what the miner's last heartbeat says: a miner frees
   * itself when its session's reserve period or task budget ends and says so
   * in its next heartbeat (sent at once), so the view never guesses an end
   * from its own clock. The speed is the delivered one (`delivery`, of
   * tasks settled before `beforeBlock` when given: the block of the drawn
   * task's submission) once measured, else the heartbeat's claim; so is
   * the first-token latency (the submitters' reports the leader's verdicts
   * carried, else the claim)
   * (`claimed`: the claim always, for a snapshot measured speeds are put in
   * later, node/roles/oracle/draws.ts).
   */
  records (sessionId: bigint, nowMs = Date.now(), options: { beforeBlock?: bigint, claimed?: boolean } = {}): MinerRecord[] {
    return this.list().map(e => {
      const hb = e.heartbeat
      const backend = hb.hardware?.backend ?? ''
      return {
        id: e.address,
        models: hb.models,
        level: hb.level,
        reputation: this.reputationOf(e.address),
        tokensPerSec: (options.claimed === true ? undefined : this.delivery.tokensPerSec(e.address, options.beforeBlock)) ?? hb.tokensPerSecondMilli / 1000,
        ...firstToken(options.claimed === true ? undefined : this.delivery.firstTokenMs(e.address, options.beforeBlock), hb.firstTokenMs),
        gpu: backend !== '' && backend !== 'cpu',
        loadPermille: hb.loadPermille,
        healthy: this.healthy(e, nowMs),
        reserved: !availableTo(hb, sessionId)
      }
    })
  }

  /**
   * A task's round-0 draw as this view makes it: the addresses, in draw
   * order, `selectMiners` picks from this view's records with the seed the
   * chain gave the task. The leader draws from its own view, so any other
   * node's draw is a guess (a view that missed heartbeats or verdicts draws
   * differently). Empty when the view cannot fill `count` places.
   */
  draw (task: { sessionId: bigint, taskId: TaskId, model: string, chainSeed: Uint8Array, count: number, slaClass?: number }, nowMs = Date.now()): string[] {
    try {
      return routedDraw(this.records(task.sessionId, nowMs), { model: task.model, sla: slaFor(task.slaClass ?? 1), seed: selectionSeed(task.chainSeed, task.taskId), count: task.count }).miners
    } catch {
      return []
    }
  }

  /**
   * Keep miners of `models` in view: whenever no healthy miner of a model is
   * in the view (a freshly started oracle or client, or a view that lost its
   * miners), look the model's pool key up on the DHT and dial the miners
   * found, so their heartbeats arrive over the gossip mesh. Runs at once,
   * then every `intervalMs`; `stop()` ends it.
   */
  discover (init: PoolDiscoveryInit): PoolDiscovery {
    const controller = new AbortController()
    const intervalMs = init.intervalMs ?? HEALTHY_HEARTBEATS * this.heartbeatIntervalMs
    const running = new Map<string, Promise<PoolMiner[]>>()
    const { libp2p } = init

    const dial = async (m: PoolMiner): Promise<void> => {
      if (libp2p.getConnections(m.peerId).length > 0) {
        return
      }
      if (m.multiaddrs.length > 0) {
        await libp2p.peerStore.merge(m.peerId, { multiaddrs: m.multiaddrs })
      }
      await libp2p.dial(m.peerId, { signal: AbortSignal.any([controller.signal, AbortSignal.timeout(DISCOVERY_DIAL_TIMEOUT_MS)]) })
    }

    const lookup = async (model: string): Promise<PoolMiner[]> => {
      const pending = running.get(model)
      if (pending != null) {
        return pending
      }
      const run = (async () => {
        const miners = await findPoolMiners(libp2p, init.network, { model }, { timeoutMs: init.lookupTimeoutMs, signal: controller.signal })
        init.onLookup?.(model, miners)
        const known = new Set(this.list().map(e => e.peerId.toString()))
        const fresh = miners.filter(m => !known.has(m.peerId.toString())).slice(0, init.maxDials ?? DISCOVERY_MAX_DIALS)
        await Promise.all(fresh.map(async m => {
          await dial(m).catch((err) => { log('dial %p found for %s: %s', m.peerId, model, err?.message) })
        }))
        return miners
      })()
      running.set(model, run)
      try {
        return await run
      } finally {
        running.delete(model)
      }
    }

    const check = (): void => {
      for (const model of init.models) {
        if (this.serving(model).length === 0 && !controller.signal.aborted) {
          lookup(model).catch((err) => { log('pool lookup of %s: %s', model, err?.message) })
        }
      }
    }
    const timer = setInterval(check, intervalMs)
    check()
    return {
      lookup,
      stop: () => {
        clearInterval(timer)
        controller.abort()
      }
    }
  }
}

/** A record's first-token field: the measured latency, else the claimed one, else none (unknown). */
export function firstToken (measured: number | undefined, claimed: number | undefined): { firstTokenMs?: number } {
  const ms = measured ?? claimed
  return ms != null ? { firstTokenMs: ms } : {}
}
