/**
 * The tasks an oracle follows: each one's record (kept in the datastore
 * under `/cortensor/oracle/tasks/<id>` and reloaded on restart), one promise
 * chain per task that orders everything done to it, and the queue state
 * machine's transitions and ticks, whose effects go back to the role.
 */
import { logger } from '@libp2p/logger'
import QuickLRU from 'quick-lru'
import { hexToBytes } from 'viem'
import { TaskQueued } from '../../../protocols/messages/index.ts'
import { isTerminal, tick, transition } from '../../../protocols/queue/machine.ts'
import { assignedMiners } from '../shared/chain.ts'
import { RecordStore } from '../shared/records.ts'
import { EARLY_EVENTS_MAX_AGE_MS, EARLY_EVENTS_PER_TASK, EARLY_EVENT_TASKS } from './constants.ts'
import type { OracleRecord, OracleTask } from './types.ts'
import type { QueueEffect, QueueEvent } from '../../../protocols/queue/types.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { Datastore } from 'interface-datastore'
import type { Address } from 'viem'

export type { OracleRecord, OracleTask, AuditRecord } from './types.ts'

const log = logger('cortensor:oracle')

/**
 * Events that overtook their task's announcement (whose check reads the
 * chain): kept a while (from the task's first such event), for a bounded
 * number of tasks (the least recently added dropped first: quick-lru keeps
 * the latest EARLY_EVENT_TASKS at least, fewer than twice that at most), a
 * bounded number each, and handed over once it is in.
 */
export class EarlyEvents<T> {
  private readonly waiting = new QuickLRU<string, T[]>({ maxSize: EARLY_EVENT_TASKS, maxAge: EARLY_EVENTS_MAX_AGE_MS })

  add (taskId: string, event: T): void {
    const events = this.waiting.get(taskId)
    if (events == null) {
      this.waiting.set(taskId, [event])
    } else if (events.length < EARLY_EVENTS_PER_TASK) {
      events.push(event)
    }
  }

  take (taskId: string): T[] {
    const events = this.waiting.get(taskId)
    this.waiting.delete(taskId)
    return events ?? []
  }
}

/** The task's miners in assignment order, as the hub knows them, read from the submit block on. */
export async function chainMiners (chain: ChainContext, task: OracleTask): Promise<Address[]> {
  return assignedMiners(chain, task.queued.taskId, BigInt(task.record.submitBlock ?? 0))
}

export interface OracleTasksInit {
  datastore: Datastore
  /** records are no longer written once the role stops */
  signal: AbortSignal
  /** what the queue asks for after a transition or a tick */
  onEffects(task: OracleTask, effects: QueueEffect[]): void
  say(line: string): void
}

export class OracleTasks {
  private readonly init: OracleTasksInit
  private readonly tasks = new Map<string, OracleTask>()
  /** the tasks `tick` moves on: not terminal when last looked at (settled and expired ones leave at the next tick) */
  private readonly live = new Set<OracleTask>()
  private readonly records: RecordStore<OracleRecord>

  constructor (init: OracleTasksInit) {
    this.init = init
    this.records = new RecordStore(init.datastore, '/cortensor/oracle/tasks')
  }

  get size (): number {
    return this.tasks.size
  }

  /** Tasks not yet settled or expired (as of the last tick). */
  get active (): number {
    return this.live.size
  }

  get (taskId: bigint | string): OracleTask | undefined {
    return this.tasks.get(taskId.toString())
  }

  has (taskId: bigint | string): boolean {
    return this.tasks.has(taskId.toString())
  }

  add (task: OracleTask): void {
    this.tasks.set(task.queued.taskId.toString(), task)
    if (!isTerminal(task.record.state)) {
      this.live.add(task)
    }
  }

  values (): IterableIterator<OracleTask> {
    return this.tasks.values()
  }

  /** Reload the records a previous run on this chain (records.ts `chainNamespace`) left in the datastore. */
  async load (namespace?: string, taskCount?: bigint): Promise<void> {
    if (namespace != null) {
      this.records.useChain(namespace)
    }
    if (taskCount != null) {
      for (const id of await this.records.dropBeyond(taskCount)) {
        this.init.say(`task ${id}: not on the chain (it lost its last blocks): its record is dropped`)
      }
    }
    for await (const { value } of this.records.all()) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      this.add({ queued, record: value, chain: Promise.resolve() })
      if (!isTerminal(value.state)) {
        this.init.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
      }
    }
  }

  /** Run `fn` after everything queued on the task before it. */
  enqueue (task: OracleTask, fn: (t: OracleTask) => Promise<void>): void {
    task.chain = task.chain.then(async () => { await fn(task) }).catch((err) => { this.init.say(`task ${task.queued.taskId}: ${err?.message ?? err}`) })
  }

  /** Apply an event to the task's state; false (and nothing changes) if the queue refuses it. */
  apply (task: OracleTask, event: QueueEvent): boolean {
    try {
      const res = transition(task.record.state, event, Date.now())
      task.record.state = res.state
      this.enqueue(task, async () => { await this.persist(task) })
      this.init.onEffects(task, res.effects)
      return true
    } catch (err: any) {
      log('task %s: %s ignored: %s', task.queued.taskId, event.type, err?.message)
      return false
    }
  }

  async persist (task: OracleTask): Promise<void> {
    if (!this.init.signal.aborted) {
      await this.records.put(task.queued.taskId.toString(), task.record)
    }
  }

  /** Move every live task's deadlines on to `now`. */
  tick (now: number): void {
    for (const task of this.live) {
      if (isTerminal(task.record.state)) {
        this.live.delete(task)
        continue
      }
      if (task.record.seed === '0x') {
        continue
      }
      const res = tick(task.record.state, now)
      if (res.state !== task.record.state) {
        task.record.state = res.state
        this.enqueue(task, async () => { await this.persist(task) })
        this.init.onEffects(task, res.effects)
      }
    }
  }
}
