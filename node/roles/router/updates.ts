/**
 * Task updates per session for WebSocket subscribers. Tasks the router
 * submitted report through their handle's `onUpdate` as it happens; tasks
 * submitted elsewhere on the same session (another router, the SDK, the
 * CLI) are noticed by polling `client.tasks(session)` while anyone listens.
 * Each (task, status) pair is delivered once.
 */
import { repeatingTask } from '@libp2p/utils'
import QuickLRU from 'quick-lru'
import type { TaskClient, TaskHandle, TaskUpdate } from '../../../client/types.ts'
import type { RepeatingTask } from '@libp2p/utils'

export type UpdateListener = (u: TaskUpdate) => void

/** statuses remembered to suppress duplicates; older entries are forgotten first */
const MAX_REMEMBERED = 20_000

export class TaskUpdateHub {
  private readonly client: TaskClient
  private readonly listeners = new Map<string, Set<UpdateListener>>()
  private readonly lastStatus = new QuickLRU<string, string>({ maxSize: MAX_REMEMBERED })
  /** polls the subscribed sessions while anyone listens */
  private readonly poller: RepeatingTask

  constructor (client: TaskClient, pollIntervalMs: number) {
    this.client = client
    this.poller = repeatingTask(() => { this.pollAll() }, pollIntervalMs)
  }

  /** Forward a handle's updates to its session's subscribers; returns the unsubscribe function. */
  track (handle: TaskHandle): () => void {
    return handle.onUpdate((u) => { this.emit(u) })
  }

  subscribe (sessionId: string, listener: UpdateListener): () => void {
    let set = this.listeners.get(sessionId)
    if (set == null) {
      set = new Set()
      this.listeners.set(sessionId, set)
      // tasks already known are not news: remember their statuses first
      this.poll(sessionId, false)
    }
    set.add(listener)
    this.poller.start()
    return () => {
      const s = this.listeners.get(sessionId)
      s?.delete(listener)
      if (s?.size === 0) {
        this.listeners.delete(sessionId)
      }
      if (this.listeners.size === 0) {
        this.poller.stop()
      }
    }
  }

  private emit (u: TaskUpdate): void {
    const key = `${u.sessionId}/${u.taskId}`
    if (this.lastStatus.get(key) === u.status) {
      return
    }
    this.remember(key, u.status)
    const set = this.listeners.get(u.sessionId)
    if (set == null) {
      return
    }
    for (const l of [...set]) {
      try {
        l(u)
      } catch {
        // one subscriber's failure does not stop the others
      }
    }
  }

  private remember (key: string, status: string): void {
    this.lastStatus.set(key, status)
  }

  private pollAll (): void {
    for (const sessionId of this.listeners.keys()) {
      this.poll(sessionId, true)
    }
  }

  private poll (sessionId: string, announce: boolean): void {
    let records
    try {
      records = this.client.tasks(BigInt(sessionId))
    } catch {
      return
    }
    const now = Date.now()
    for (const r of records) {
      const key = `${r.sessionId}/${r.taskId}`
      if (announce) {
        this.emit({ taskId: r.taskId, sessionId: r.sessionId, status: r.status, atMs: now, detail: 'observed' })
      } else {
        this.remember(key, r.status)
      }
    }
  }

  close (): void {
    this.poller.stop()
    this.listeners.clear()
  }
}
