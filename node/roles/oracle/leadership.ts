/**
 * Which oracle leads: the hub's round-robin over live oracles, read from the
 * chain and kept briefly so the gossip validators and the first token's path
 * seldom wait for a read; and this oracle's on-chain liveness heartbeat,
 * which keeps it in that round-robin: a third of the hub's heartbeat
 * timeout apart.
 *
 * An oracle that starts while another leads follows the mesh for a warm-up
 * (the longest a task can live in the queue) before its first heartbeat:
 * the hub's round-robin would otherwise hand it the lead at once, and it
 * would lead tasks announced before it started, which it never saw (their
 * miners' work lost, their deposits held until the hub's deadline). If no
 * other oracle is live it beats at once: the network is never left without
 * a leader for the warm-up.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { repeatingTask } from '@libp2p/utils'
import { getLeader, heartbeat as chainHeartbeat } from '../../../contracts/index.ts'
import { CHAIN_HEARTBEATS_PER_TIMEOUT, LEADER_CACHE_MS, LEADER_READ_MS } from './constants.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { RepeatingTask } from '@libp2p/utils'
import type { Address } from 'viem'

const log = logger('cortensor:oracle')

export { CHAIN_HEARTBEATS_PER_TIMEOUT } from './constants.ts'

/** The chain heartbeat period for a hub whose oracles time out after `timeoutS`: a third of it, at least a second. */
export function chainHeartbeatMs (timeoutS: number): number {
  return Math.max(LEADER_READ_MS, Math.floor(timeoutS * 1000 / CHAIN_HEARTBEATS_PER_TIMEOUT))
}

export interface LeadershipInit {
  chain: ChainContext
  /** this oracle's address, lower case */
  address: string
  /** leader reads while busy (default every second) */
  readMs?: number
  /** whether tasks are in flight (default: always) */
  busy?(): boolean
  /** the role's: its abort stops the heartbeat and the reads */
  signal?: AbortSignal
}

export class Leadership {
  private readonly init: LeadershipInit
  private seen?: { address: string, atMs: number }
  private heartbeat?: RepeatingTask
  /** aborted by `stop()` (or the role's signal): ends the reads' waits */
  private readonly controller = new AbortController()
  /** the read under way, and when it started */
  private pending?: { read: Promise<Address>, atMs: number }
  private stopped = false

  constructor (init: LeadershipInit) {
    this.init = init
    init.signal?.addEventListener('abort', () => { this.stop() }, { once: true })
  }

  /**
   * Start the chain heartbeat, every `heartbeatMs` (well under the hub's
   * heartbeat timeout: `chainHeartbeatMs`), and the leader reads; resolves
   * after the first beat.
   */
  async start (heartbeatMs: number, warmUpMs = 0): Promise<void> {
    // a role stopped while it was still starting starts no timer
    if (this.stopped) {
      return
    }
    const { chain } = this.init
    let beating = false
    const warmUntil = Date.now() + warmUpMs
    let warm = warmUpMs <= 0
    const beat = async (): Promise<void> => {
      // one heartbeat at a time: on a slow chain, queued heartbeats would hold up assignments and settlements behind them
      if (this.stopped || beating) {
        return
      }
      beating = true
      if (!warm) {
        // another live oracle leads: keep following until the warm-up is over
        const leader = await this.read().catch(() => undefined)
        warm = leader == null || leader.toLowerCase() === this.init.address || Date.now() >= warmUntil
        if (!warm) {
          beating = false
          return
        }
        if (Date.now() < warmUntil) {
          log('no other oracle is live: leading without a warm-up')
        }
      }
      await chain.serial(async () => chainHeartbeat(chain.wallet, { hub: chain.hub })).catch((err) => { log('chain heartbeat: %s', err.message) })
      beating = false
    }
    const readMs = this.init.readMs ?? LEADER_READ_MS
    const busy = this.init.busy ?? (() => true)
    const signal = this.controller.signal
    // keeps the assignment validator's leader fresh, so it seldom waits for a read
    const read = async (): Promise<void> => {
      if (!this.stopped) {
        await (this.pending?.read ?? this.read()).catch(() => {})
      }
    }
    const reads = async (): Promise<void> => {
      while (!this.stopped) {
        await sleep(busy() ? readMs : Math.max(readMs, heartbeatMs), undefined, { signal }).catch(() => {})
        await read()
      }
    }
    // each beat every `heartbeatMs` from the start, however long the last took (a beat under way skips one)
    this.heartbeat = repeatingTask(() => { void beat() }, heartbeatMs)
    this.heartbeat.start()
    await Promise.all([beat(), read()])
    void reads()
  }

  stop (): void {
    this.stopped = true
    this.heartbeat?.stop()
    this.controller.abort()
  }

  /** Read the leader now unless a read is under way or the last is younger than the busy read period (a task arrived: its assignment will ask). */
  async refresh (): Promise<void> {
    const fresh = this.seen != null && Date.now() - this.seen.atMs < (this.init.readMs ?? LEADER_READ_MS)
    if (!this.stopped && !fresh) {
      await (this.pending?.read ?? this.read()).catch(() => {})
    }
  }

  /** The hub's leader now (and remembered, with the time of the read). */
  async read (): Promise<Address> {
    const read = getLeader(this.init.chain.wallet, { hub: this.init.chain.hub }).then((address) => {
      this.seen = { address: address.toLowerCase(), atMs: Date.now() }
      return address
    })
    const pending = { read, atMs: Date.now() }
    this.pending = pending
    try {
      return await read
    } finally {
      if (this.pending === pending) {
        this.pending = undefined
      }
    }
  }

  /**
   * Whether this oracle leads now. With `maxAgeMs`, a leader read that recent
   * naming this oracle answers without another read, as does a read started
   * that recently (the leader is read every second while tasks are in
   * flight, and on each task's arrival): assignments, on the first token's
   * path, use it.
   */
  async isLeader (maxAgeMs?: number): Promise<boolean> {
    const seen = this.seen
    if (maxAgeMs != null && seen?.address === this.init.address && Date.now() - seen.atMs < maxAgeMs) {
      return true
    }
    // a read that started that recently (the task's arrival started one) is as good as a new one
    const pending = this.pending
    try {
      const read = maxAgeMs != null && pending != null && Date.now() - pending.atMs < maxAgeMs ? pending.read : this.read()
      return (await read).toLowerCase() === this.init.address
    } catch {
      return false
    }
  }

  /**
   * Whether `oracle` leads now (the assignment validator): a recent read
   * naming it suffices, anything else is read again. If the chain cannot be
   * read the assignment is let through: the hub still refuses a non-leader's
   * assignment, and so its settlement.
   */
  async leads (oracle: string): Promise<boolean> {
    const o = oracle.toLowerCase()
    const seen = this.seen
    if (seen?.address === o && Date.now() - seen.atMs < LEADER_CACHE_MS) {
      return true
    }
    try {
      return (await this.read()).toLowerCase() === o
    } catch (err: any) {
      log('leader read failed, assignment from %s accepted: %s', o, err?.message)
      return true
    }
  }
}
