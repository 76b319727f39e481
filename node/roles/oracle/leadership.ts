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
import { logger } from '@libp2p/logger'
import { getLeader, heartbeat as chainHeartbeat } from '../../../contracts/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { Address } from 'viem'

const log = logger('cortensor:oracle')

/** a leader read this recent is trusted when it names the oracle an assignment comes from */
const LEADER_CACHE_MS = 2000
/**
 * While tasks are in flight the leader is read this often, so the
 * validators and the first token's path seldom wait for a read; while none
 * is, at each chain heartbeat, and a task's arrival starts a read at once
 * (`refresh`), ahead of its assignment.
 */
const LEADER_READ_MS = 1000
/**
 * Chain heartbeats per hub heartbeat timeout: the hub drops an oracle from
 * the round-robin after its timeout without one, so three beats per timeout
 * leave two to be lost or late (the hub's default: 30 s, one beat per 10 s).
 */
export const CHAIN_HEARTBEATS_PER_TIMEOUT = 3

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
}

export class Leadership {
  private readonly init: LeadershipInit
  private seen?: { address: string, atMs: number }
  private timer?: ReturnType<typeof setInterval>
  private readTimer?: ReturnType<typeof setTimeout>
  /** the read under way, and when it started */
  private pending?: { read: Promise<Address>, atMs: number }
  private stopped = false

  constructor (init: LeadershipInit) {
    this.init = init
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
    // keeps the assignment validator's leader fresh, so it seldom waits for a read
    const read = async (): Promise<void> => {
      if (!this.stopped) {
        await (this.pending?.read ?? this.read()).catch(() => {})
      }
      if (!this.stopped) {
        this.readTimer = setTimeout(() => { void read() }, busy() ? readMs : Math.max(readMs, heartbeatMs))
      }
    }
    this.timer = setInterval(() => { void beat() }, heartbeatMs)
    await Promise.all([beat(), read()])
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.readTimer)
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
