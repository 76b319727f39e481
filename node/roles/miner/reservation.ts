/**
 * A miner serves one session at a time (Cortensor's ephemeral nodes): on
 * accepting a task it reserves itself for that task's session until the
 * session's reserve period ends, its task budget is spent, or the session
 * has left it idle for a while (no task of it accepted or running),
 * whichever is first, and meanwhile accepts only that session's work. The
 * idle end keeps a session that stopped sending tasks (a demo, a finished
 * job) from locking the pool for the rest of its reserve period. The terms are read
 * from the chain once per session; without a chain the miner never reserves
 * itself.
 */
import { logger } from '@libp2p/logger'
import QuickLRU from 'quick-lru'
import { getSession } from '../../../contracts/index.ts'
import { DEFAULT_RESERVATION_IDLE_MS } from '../../../protocols/pool/view.ts'
import { SESSION_READ_RETRY_MS, SESSION_TERMS_MAX } from './constants.ts'
import type { Address, Client } from 'viem'

const log = logger('cortensor:miner')

/** What the miner needs of a session to reserve itself for it; read once per session. */
interface SessionTerms {
  reservePeriodMs: number
  /** the session's task budget */
  maxTasks: number
  /**
   * the session's tasks so far: its count on chain when read, plus each task
   * of it announced afterwards (a task submitted just before the read but
   * announced after it is counted twice, so a budget may end one task early)
   */
  tasksUsed: number
  /** tasks of the session this miner had seen when it read the count (already in it) */
  seenAtRead: Set<string>
}

/** The session this miner serves, until the reserve period or the session's task budget ends. */
export interface ActiveReservation {
  sessionId: bigint
  sinceMs: number
  /** the last time a task of the session was accepted or running here */
  activeMs: number
  /** sinceMs + the session's reserve period, once the session is read */
  untilMs?: number
  /** when to retry a failed session read */
  retryAtMs?: number
  reading?: boolean
}

export interface ChainReader { client: Client, hub: Address }

export interface SessionReservationInit {
  /** the chain to read sessions from, if any (looked up each time: it may be attached after start) */
  chain(): ChainReader | undefined
  /** ids of the tasks of `sessionId` the miner has heard of */
  knownTasks(sessionId: bigint): Iterable<string>
  /** whether the miner has accepted, and not yet finished, a task of `sessionId` */
  busyWith(sessionId: bigint): boolean
  /** the reservation began, learnt its end, or ended (the miner's heartbeat carries it) */
  onChange(): void
  say(line: string): void
  /** the miner's lifetime */
  signal: AbortSignal
  /** idle time that ends a reservation (default DEFAULT_RESERVATION_IDLE_MS), looked up each time */
  idleMs?(): number | undefined
}

export class SessionReservation {
  private readonly init: SessionReservationInit
  /** the reservation in force, if any */
  current?: ActiveReservation
  /** the terms of the sessions read (a session forgotten is read again if it comes back) */
  private readonly terms = new QuickLRU<string, SessionTerms>({ maxSize: SESSION_TERMS_MAX })

  constructor (init: SessionReservationInit) {
    this.init = init
  }

  /** Whether the miner may take a task of `sessionId` now: free, or reserved for that session. */
  mayServe (sessionId: bigint): boolean {
    return this.current == null || this.current.sessionId === sessionId
  }

  /** A task of `sessionId` was announced: it counts against the session's budget once its terms are read. */
  onTaskAnnounced (sessionId: bigint, taskId: string): void {
    const terms = this.terms.get(sessionId.toString())
    if (terms != null && !terms.seenAtRead.has(taskId)) {
      terms.tasksUsed++
    }
  }

  /**
   * Reserve the miner for `sessionId` (on accepting one of its tasks). A
   * reservation for it that has ended but not yet been released (its last
   * task is still running) starts afresh.
   */
  reserveFor (sessionId: bigint): void {
    const r = this.current
    const now = Date.now()
    if (r != null && (r.sessionId !== sessionId || !this.ended(r, now))) {
      if (r.sessionId === sessionId) {
        r.activeMs = now
      }
      return
    }
    if (this.init.chain() == null) {
      return
    }
    const next: ActiveReservation = { sessionId, sinceMs: now, activeMs: now }
    this.current = next
    this.init.say(`reserved for session ${sessionId}`)
    void this.loadTerms(next)
    this.init.onChange()
  }

  /** Every tick: read the terms if an earlier read failed; release an ended reservation once its work is done. */
  check (nowMs: number): void {
    const r = this.current
    if (r == null) {
      return
    }
    if (r.untilMs == null && r.reading !== true && r.retryAtMs != null && nowMs >= r.retryAtMs) {
      r.retryAtMs = undefined
      void this.loadTerms(r)
    }
    if (this.init.busyWith(r.sessionId)) {
      r.activeMs = nowMs
      return
    }
    const idle = nowMs - r.activeMs >= this.idleMs
    if (this.ended(r, nowMs) || idle) {
      const terms = this.terms.get(r.sessionId.toString())
      const why = terms != null && terms.tasksUsed >= terms.maxTasks
        ? 'its task budget is spent'
        : r.untilMs != null && nowMs >= r.untilMs ? 'its reserve period is over' : `the session sent no task for ${Math.round(this.idleMs / 1000)} s`
      this.current = undefined
      this.init.say(`reservation for session ${r.sessionId} ended (${why}): free for any session`)
      this.init.onChange()
    }
  }

  /** Read the session's terms (once per session, cached) and set the reservation's end. */
  private async loadTerms (r: ActiveReservation): Promise<void> {
    const chain = this.init.chain()
    if (chain == null || r.reading === true) {
      return
    }
    const key = r.sessionId.toString()
    let terms = this.terms.get(key)
    if (terms == null) {
      r.reading = true
      try {
        const s = await getSession(chain.client, { hub: chain.hub, sessionId: r.sessionId })
        const seenAtRead = new Set(this.init.knownTasks(r.sessionId))
        terms = this.terms.get(key) ?? { reservePeriodMs: s.reservePeriodS * 1000, maxTasks: s.maxTasks, tasksUsed: s.taskCount, seenAtRead }
        this.terms.set(key, terms)
      } catch (err: any) {
        r.retryAtMs = Date.now() + SESSION_READ_RETRY_MS
        log('reading session %s failed: %s', r.sessionId, err?.message)
        return
      } finally {
        r.reading = false
      }
    }
    r.untilMs = r.sinceMs + terms.reservePeriodMs
    if (this.current === r && !this.init.signal.aborted) {
      this.init.say(`reserved for session ${r.sessionId} for ${terms.reservePeriodMs / 1000} s or until its task budget is spent (${terms.tasksUsed} of ${terms.maxTasks} tasks)`)
      this.init.onChange()
    }
  }

  private get idleMs (): number {
    return this.init.idleMs?.() ?? DEFAULT_RESERVATION_IDLE_MS
  }

  private ended (r: ActiveReservation, nowMs: number): boolean {
    const terms = this.terms.get(r.sessionId.toString())
    return r.untilMs != null && terms != null && (nowMs >= r.untilMs || terms.tasksUsed >= terms.maxTasks)
  }
}
