/**
 * The tasks a miner has heard of: the queue state machine of each, the
 * events of a task run one after another in arrival order (those for a task
 * not announced yet wait for it), token-stream requests waiting a short
 * while for a task's announcement, and the record of every task the miner
 * holds a slot in, kept in the datastore so that a restarted miner resumes
 * its work. Finished tasks stay a while for late streams, then go.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import QuickLRU from 'quick-lru'
import { equals } from 'uint8arrays/equals'
import { bytesToHex, hexToBytes } from 'viem'
import { cidDigest, taskParamsDigest } from '../../../protocols/blocks/index.ts'
import { TaskQueued } from '../../../protocols/messages/index.ts'
import { assignmentSeen, initialWork } from '../../../protocols/miner/machine.ts'
import { createTask, isTerminal, transition, tick } from '../../../protocols/queue/machine.ts'
import { taskInitFrom } from '../../../protocols/queue/wire.ts'
import { RecordStore } from '../shared/records.ts'
import { ANNOUNCEMENT_WAITERS_MAX, ANNOUNCEMENT_WAIT_MS, DEFAULT_RETAIN_MS, MAX_ALTERNATIVES, PENDING_MAX_AGE_MS, PENDING_TASKS_MAX } from './constants.ts'
import type { MinerRecord, MinerRoleInit, MinerTask } from './types.ts'
import type { Assignment } from '../../../protocols/messages/index.ts'
import type { MinerWorkState } from '../../../protocols/miner/types.ts'
import type { QueueEffect, QueueEvent, TaskState } from '../../../protocols/queue/types.ts'
import type { PeerId } from '@libp2p/interface'

const log = logger('cortensor:miner')

/**
 * Whether the announcement is the one the assignment names: its prompt and
 * params digests are the chain's, which the leader checked (an assignment
 * without digests names none in particular).
 */
export function announcementMatches (q: TaskQueued, m: Pick<Assignment, 'promptDigest' | 'paramsDigest'>): boolean {
  if (m.promptDigest != null && cidDigest(CID.decode(q.promptCid)) !== bytesToHex(m.promptDigest)) {
    return false
  }
  return m.paramsDigest == null || (q.params != null && taskParamsDigest(q.params) === bytesToHex(m.paramsDigest))
}

export interface MinerTasksInit {
  /** the miner's settings, read each time */
  settings: Pick<MinerRoleInit, 'node' | 'timeouts' | 'retainMs'>
  /** this miner's address, lower case */
  address: string
  /** the role's lifetime: token-stream requests waiting for an announcement stop waiting with it */
  signal: AbortSignal
  /** the queue machine's effects on a task (its record is stored after, if the miner holds a slot) */
  onEffects(task: MinerTask, effects: QueueEffect[]): void
}

/** Let token-stream requests waiting on the task look again. */
export function wake (task: MinerTask): void {
  for (const w of task.waiters.splice(0)) {
    w()
  }
}

/**
 * The work state of a record stored before the work machine (its commitment
 * fields at the top level): committed or revealed as it was, else idle.
 */
function legacyWork (r: Partial<MinerCommitmentRecord>): MinerWorkState {
  if (r.commitment == null || r.signature == null) {
    return initialWork()
  }
  const commitment = { outputCid: r.outputCid, salt: r.salt, commitment: r.commitment, signature: r.signature, tokens: r.tokens }
  return r.revealed === true ? { phase: 'revealed', commitment } : { phase: 'committed', commitment, acked: true }
}

interface MinerCommitmentRecord { outputCid: string, salt: string, commitment: string, signature: string, tokens: number, revealed: boolean }

/** A task as the miner holds it, its work not started. */
function newTask (queued: TaskQueued, from: PeerId | undefined, record: MinerRecord): MinerTask {
  return { queued, from, record, run: undefined, overtaken: [], chain: Promise.resolve(), finishedAtMs: undefined, waiters: [], alternatives: [] }
}

export class MinerTasks {
  private readonly init: MinerTasksInit
  private readonly tasks = new Map<string, MinerTask>()
  /** events of tasks not announced here yet (the oldest tasks' go first) */
  private readonly pending = new QuickLRU<string, Array<{ event(t: MinerTask): Promise<void>, atMs: number }>>({ maxSize: PENDING_TASKS_MAX })
  /** token-stream requests waiting for a task's announcement */
  private readonly announcementWaiters = new Map<string, Array<() => void>>()
  private announcementWaiting = 0
  private readonly records: RecordStore<MinerRecord>
  private readonly signal: AbortSignal

  constructor (init: MinerTasksInit) {
    this.init = init
    this.records = new RecordStore(init.settings.node.datastore, '/cortensor/miner/tasks')
    this.signal = init.signal
  }

  /** Keep and load only the records of this chain (records.ts `chainNamespace`); before `restore`. */
  useChain (namespace: string): void {
    this.records.useChain(namespace)
  }

  /** Forget records of tasks the chain does not have (RecordStore.dropBeyond); the ids dropped. */
  async dropBeyond (taskCount: bigint): Promise<string[]> {
    return this.records.dropBeyond(taskCount)
  }

  /** Once every task's queued events have run. */
  async idle (): Promise<void> {
    await Promise.allSettled([...this.tasks.values()].map(async t => t.chain))
  }

  /** Tasks held: in work, or finished and kept for late streams */
  get size (): number {
    return this.tasks.size
  }

  get (id: string): MinerTask | undefined {
    return this.tasks.get(id)
  }

  has (id: string): boolean {
    return this.tasks.has(id)
  }

  values (): IterableIterator<MinerTask> {
    return this.tasks.values()
  }

  /** The tasks accepted before a restart, each as it is read back. */
  async * restore (): AsyncGenerator<MinerTask> {
    for await (const { value } of this.records.all() as AsyncIterable<{ value: MinerRecord & Partial<MinerCommitmentRecord> }>) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      const task = newTask(queued, undefined, { queued: value.queued, state: value.state, work: value.work ?? legacyWork(value) })
      this.tasks.set(queued.taskId.toString(), task)
      yield task
    }
  }

  /** A newly announced task; `early` when events for it came first (they run now). */
  add (m: TaskQueued, from?: PeerId): { task: MinerTask, early: boolean } {
    const id = m.taskId.toString()
    const { state } = createTask(taskInitFrom(m, { timeouts: this.init.settings.timeouts }), Date.now())
    const task = newTask(m, from, { queued: bytesToHex(TaskQueued.encode(m)), state, work: initialWork() })
    this.tasks.set(id, task)
    // an assignment that came before the announcement settles the task at once: no need to guess
    const early = this.pending.get(id) ?? []
    for (const p of early) {
      this.enqueue(task, p.event)
    }
    this.pending.delete(id)
    for (const w of this.announcementWaiters.get(id) ?? []) {
      w()
    }
    this.announcementWaiters.delete(id)
    return { task, early: early.length > 0 }
  }

  /** Another announcement of a known task id, kept in case the assignment names it (a bounded few, distinct). */
  addAlternative (m: TaskQueued, from?: PeerId): void {
    const task = this.tasks.get(m.taskId.toString())
    if (task == null || assignmentSeen(task.record.work)) {
      return
    }
    const same = (q: TaskQueued): boolean => equals(TaskQueued.encode(q), TaskQueued.encode(m))
    const list = task.alternatives
    if (!same(task.queued) && !list.some(a => same(a.queued)) && list.length < MAX_ALTERNATIVES) {
      list.push({ queued: m, from })
    }
  }

  /**
   * Make the task's announcement the one the assignment names: the current
   * one if it matches, else a matching alternative (work started on the
   * other one is the caller's to drop). False if none matches.
   */
  bind (task: MinerTask, m: Pick<Assignment, 'promptDigest' | 'paramsDigest'>): 'same' | 'swapped' | 'none' {
    if (announcementMatches(task.queued, m)) {
      return 'same'
    }
    const alt = task.alternatives.find(a => announcementMatches(a.queued, m))
    if (alt == null) {
      return 'none'
    }
    task.alternatives = task.alternatives.filter(a => a !== alt)
    task.queued = alt.queued
    task.from = alt.from
    task.record.queued = bytesToHex(TaskQueued.encode(alt.queued))
    return 'swapped'
  }

  /**
   * A task this miner's clock expired (it saw no assignment in time: it
   * joined late, or the assignment did not reach it) that an assignment now
   * names it for: the leader's word counts over this node's guess, so the
   * task starts over from its announcement while its deadline holds.
   */
  revive (task: MinerTask, nowMs = Date.now()): boolean {
    const s = task.record.state
    if (s.phase !== 'expired' || s.expiredReason === 'deadline' || nowMs >= s.deadlineMs) {
      return false
    }
    task.record.state = createTask(taskInitFrom(task.queued, { timeouts: this.init.settings.timeouts }), nowMs).state
    task.finishedAtMs = undefined
    return true
  }

  /** The task once announced here, waiting up to ANNOUNCEMENT_WAIT_MS (a bounded number of waiters) for it. */
  async announced (taskId: bigint): Promise<MinerTask | undefined> {
    const id = taskId.toString()
    const known = this.tasks.get(id)
    if (known != null || this.announcementWaiting >= ANNOUNCEMENT_WAITERS_MAX || this.signal.aborted) {
      return known
    }
    this.announcementWaiting++
    const announced = new AbortController()
    const done = (): void => { announced.abort() }
    this.announcementWaiters.set(id, [...(this.announcementWaiters.get(id) ?? []), done])
    try {
      await sleep(ANNOUNCEMENT_WAIT_MS, undefined, { signal: AbortSignal.any([announced.signal, this.signal]) }).catch(() => {})
    } finally {
      this.announcementWaiting--
      const rest = (this.announcementWaiters.get(id) ?? []).filter(w => w !== done)
      if (rest.length > 0) {
        this.announcementWaiters.set(id, rest)
      } else {
        this.announcementWaiters.delete(id)
      }
    }
    return this.tasks.get(id)
  }

  /** Ids of the tasks of a session. */
  idsOf (sessionId: bigint): string[] {
    return [...this.tasks.values()].filter(t => t.queued.sessionId === sessionId).map(t => t.queued.taskId.toString())
  }

  /** A task of the session this miner has accepted and not yet precommitted. */
  busyWith (sessionId: bigint): boolean {
    for (const t of this.tasks.values()) {
      if (t.queued.sessionId === sessionId && !isTerminal(t.record.state) && this.slotOf(t)?.status === 'acked') {
        return true
      }
    }
    return false
  }

  /** This miner's slot in the task. */
  slotOf (task: MinerTask): TaskState['slots'][number] | undefined {
    return task.record.state.slots.find(s => s.miner === this.init.address)
  }

  /** Run `fn` on the task in arrival order; events for a task not announced yet wait for it. */
  onEvent (taskId: bigint, fn: (t: MinerTask) => Promise<void>): void {
    const id = taskId.toString()
    const task = this.tasks.get(id)
    if (task == null) {
      const list = this.pending.get(id) ?? []
      list.push({ event: fn, atMs: Date.now() })
      this.pending.set(id, list)
      return
    }
    this.enqueue(task, fn)
  }

  enqueue (task: MinerTask, fn: (t: MinerTask) => Promise<void>): void {
    task.chain = task.chain.then(async () => { await fn(task) }).catch((err) => { log('task %s: %s', task.queued.taskId, err?.message ?? err) })
  }

  apply (task: MinerTask, event: QueueEvent): QueueEffect[] {
    try {
      const res = transition(task.record.state, event, Date.now())
      task.record.state = res.state
      this.onEffects(task, res.effects)
      return res.effects
    } catch (err: any) {
      log('task %s: %s ignored: %s', task.queued.taskId, event.type, err?.message)
      return []
    }
  }

  async persist (task: MinerTask): Promise<void> {
    if (this.slotOf(task) != null && this.tasks.has(task.queued.taskId.toString())) {
      await this.records.put(task.queued.taskId.toString(), task.record)
    }
  }

  /** The queue machine's clock on every task; finished tasks go after `retainMs`, stale early events after a while. */
  tick (now: number): void {
    for (const [id, task] of this.tasks) {
      if (!isTerminal(task.record.state)) {
        const res = tick(task.record.state, now)
        if (res.state !== task.record.state) {
          task.record.state = res.state
          this.onEffects(task, res.effects)
        }
      }
      const slot = this.slotOf(task)
      const done = isTerminal(task.record.state) || slot == null || slot.status === 'reassigned' || slot.status === 'missed' || slot.status === 'faulty' || task.record.work.phase === 'revealed'
      if (done && task.finishedAtMs == null && (slot == null || slot.status !== 'precommitted')) {
        task.finishedAtMs = now
      }
      if (task.finishedAtMs != null && now - task.finishedAtMs > (this.init.settings.retainMs ?? DEFAULT_RETAIN_MS)) {
        task.run?.abort.abort()
        this.tasks.delete(id)
        if (slot != null) {
          this.enqueue(task, async () => { await this.records.delete(id) })
        }
      }
    }
    for (const [id, list] of this.pending) {
      if (list.every(p => now - p.atMs > PENDING_MAX_AGE_MS)) {
        this.pending.delete(id)
      }
    }
  }

  private onEffects (task: MinerTask, effects: QueueEffect[]): void {
    this.init.onEffects(task, effects)
    if (this.slotOf(task) != null) {
      this.enqueue(task, async () => { await this.persist(task) })
    }
  }
}
