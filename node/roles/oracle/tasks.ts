/**
 * The tasks an oracle follows: each one's record (kept in the datastore
 * under `/cortensor/oracle/tasks/<id>` and reloaded on restart), one promise
 * chain per task that orders everything done to it, and the queue state
 * machine's transitions and ticks, whose effects go back to the role.
 */
import { logger } from '@libp2p/logger'
import { hexToBytes } from 'viem'
import { TaskQueued } from '../../../protocols/messages/index.ts'
import { isTerminal, tick, transition } from '../../../protocols/queue/machine.ts'
import { assignedMiners } from '../shared/chain.ts'
import { RecordStore } from '../shared/records.ts'
import type { EquivocationEvidence } from './equivocation.ts'
import type { MinerVerdict, Reveal } from '../../../protocols/messages/index.ts'
import type { QueueEffect, QueueEvent, TaskState } from '../../../protocols/queue/types.ts'
import type { MinerRecord } from '../../../protocols/selection/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:oracle')

export interface OracleRecord {
  queued: Hex
  seed: Hex
  /** the block of the task's TaskSubmitted log (decimal): chain reads about the task start there */
  submitBlock?: string
  /** the session's SLA class on chain (protocols/selection/sla.ts), read when the task is taken */
  slaClass?: number
  /** when this oracle took the task's announcement, and when it gave a miner its slot in a later round (ms): what delivery is measured from */
  announcedAtMs?: number
  assignedAtMs?: Record<string, number>
  /** when each miner's precommit arrived here (ms) */
  precommitAtMs?: Record<string, number>
  /** the round-0 miners as gossiped by the leader, which the hub must hold before anyone is paid */
  assigned?: string[]
  /** the hub holds an assignment for the task */
  assignedOnChain?: boolean
  state: TaskState
  precommits: Record<string, { commitment: Hex, signature: Hex }>
  reveals: Record<string, { outputCid: string, salt: Hex }>
  /** each miner's EIP-712-signed reveals (output digest, salt, signature): evidence of equivocation */
  signedReveals?: Record<string, Array<{ outputDigest: Hex, salt: Hex, signature: Hex }>>
  /** miners proved to have signed two different outputs, with what the hub checks (`slashEquivocation`) */
  equivocations?: Record<string, EquivocationEvidence>
  outcomes?: Record<string, MinerVerdict.Outcome>
  tokens?: Record<string, number>
  /** the leader replayed outputs while validating (they differed); followers derive it from the verdict */
  replayed?: boolean
  /** the post-settlement audit draw (node/roles/oracle/audit.ts), once the settlement is seen */
  audit?: AuditRecord
}

export interface AuditRecord {
  /** the block that settled the task, whose hash is the draw's beacon */
  block: Hex
  /** whether the draw sampled the task and validation had not replayed it */
  due: boolean
  /** miners whose accepted output failed this oracle's audit replay */
  failed?: string[]
}

export interface OracleTask {
  queued: TaskQueued
  record: OracleRecord
  chain: Promise<void>
  /** the write of the assignment to the hub, while one runs */
  assignWrite?: Promise<boolean>
  /** the pool as this oracle saw it when the task was announced (claimed speeds): the input of its round-0 draw */
  view?: MinerRecord[]
  /** the submitter's peer (holds the prompt) */
  from?: PeerId
  /** reveals that overtook the last precommit on gossip: applied when the window opens */
  early?: Reveal[]
  /** acks and precommits that overtook the assignment (whose validation reads the chain): applied after it */
  unassigned?: Array<() => void>
}

/** events kept per task not announced yet, tasks with such events, and how long they wait */
const EARLY_EVENTS_PER_TASK = 64
const EARLY_EVENT_TASKS = 1024
const EARLY_EVENTS_MAX_AGE_MS = 30_000

/**
 * Events that overtook their task's announcement (whose check reads the
 * chain): kept a while, a bounded number, and handed over once it is in.
 */
export class EarlyEvents<T> {
  private readonly waiting = new Map<string, { atMs: number, events: T[] }>()

  add (taskId: string, event: T, nowMs = Date.now()): void {
    for (const [id, w] of this.waiting) {
      if (nowMs - w.atMs <= EARLY_EVENTS_MAX_AGE_MS) {
        break
      }
      this.waiting.delete(id)
    }
    const w = this.waiting.get(taskId) ?? { atMs: nowMs, events: [] }
    if (w.events.length < EARLY_EVENTS_PER_TASK) {
      w.events.push(event)
    }
    this.waiting.set(taskId, w)
    if (this.waiting.size > EARLY_EVENT_TASKS) {
      this.waiting.delete(this.waiting.keys().next().value as string)
    }
  }

  take (taskId: string): T[] {
    const w = this.waiting.get(taskId)
    this.waiting.delete(taskId)
    return w?.events ?? []
  }
}

/** The task's miners in assignment order, as the hub knows them, read from the submit block on. */
export async function chainMiners (chain: ChainContext, task: OracleTask): Promise<Address[]> {
  return assignedMiners(chain, task.queued.taskId, BigInt(task.record.submitBlock ?? 0))
}

export interface OracleTasksInit {
  datastore: Datastore
  /** records are no longer written once the role stops */
  stopped(): boolean
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
    if (!this.init.stopped()) {
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
