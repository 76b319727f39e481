/**
 * An assignment as this miner takes it: the queue state first (what
 * overtook the assignment counts then), a replacement retried while this
 * node's clock catches up, then the work machine's answer: refuse (no
 * announcement here has the chain's prompt, or reserved for another
 * session), decline (the task cannot run here) or accept: work starts (or
 * work on the miner's own draw is confirmed) and the ack follows.
 *
 * Also the restart: a task this miner held a slot in resumes from its
 * stored work state through the same machine.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { bytesToHex } from 'viem'
import { addressToBytes } from '../../../protocols/messages/index.ts'
import { isSpeculative } from '../../../protocols/miner/machine.ts'
import { isTerminal } from '../../../protocols/queue/machine.ts'
import { ackEvent, assignedEvent } from '../../../protocols/queue/wire.ts'
import { ASSIGNMENT_RETRIES, ASSIGNMENT_RETRY_MS } from './constants.ts'
import type { SessionReservation } from './reservation.ts'
import type { MinerTasks } from './tasks.ts'
import type { MinerTask } from './types.ts'
import type { MinerWork, PublishKind } from './work.ts'
import type { Ack, Assignment } from '../../../protocols/messages/index.ts'
import type { Hex } from 'viem'

export interface AssignmentsComponents {
  /** the miner's address, lower case */
  address: string
  tasks: MinerTasks
  work: MinerWork
  reservation: Pick<SessionReservation, 'mayServe' | 'reserveFor' | 'current'>
  /** the role's lifetime */
  signal: AbortSignal
  publish(kind: PublishKind, message: unknown): Promise<void>
  say(line: string): void
}

const names = (list: Uint8Array[], address: string): boolean => list.some(b => bytesToHex(b).toLowerCase() === address)

export class Assignments {
  private readonly c: AssignmentsComponents

  constructor (components: AssignmentsComponents) {
    this.c = components
  }

  async onAssignment (task: MinerTask, m: Assignment, attempt = 0): Promise<void> {
    try {
      await this.take(task, m, attempt)
    } finally {
      // an assignment that did not confirm the work started on this miner's own draw ends it
      await this.c.work.handle(task, { type: 'assignment-seen' })
    }
  }

  private async take (task: MinerTask, m: Assignment, attempt: number): Promise<void> {
    const { tasks, work } = this.c
    if (names(m.miners, this.c.address) && tasks.revive(task)) {
      this.c.say(`task ${m.taskId}: assigned after this miner had given it up: taken up again`)
    }
    const before = task.record.state
    tasks.apply(task, assignedEvent(m))
    if (task.record.state.phase !== 'queued') {
      // what overtook the assignment counts now (a faster miner's precommit, say: missing it, this miner
      // would never see every precommit in and would not reveal)
      for (const fn of task.overtaken.splice(0)) {
        fn()
      }
    }
    if (task.record.state === before && m.round > 0 && attempt < ASSIGNMENT_RETRIES) {
      // a replacement can arrive just before this node's own clock times the replaced miner out
      void sleep(ASSIGNMENT_RETRY_MS, undefined, { signal: this.c.signal })
        .then(() => { tasks.enqueue(task, async () => { await this.onAssignment(task, m, attempt + 1) }) }, () => {})
      return
    }
    if (names(m.replaced, this.c.address)) {
      // the hub refused this miner for the task: whatever it started is dropped
      task.run?.abort.abort()
      this.c.say(`task ${m.taskId}: replaced (the hub would not take this miner)`)
      return
    }
    const slot = tasks.slotOf(task)
    if (slot == null || slot.round !== m.round || slot.status !== 'assigned') {
      return
    }
    // the assignment names the announcement the leader checked against the chain: work on no other
    const bound = tasks.bind(task, m)
    if (bound === 'none') {
      await work.handle(task, { type: 'refuse' })
      this.c.say(`task ${m.taskId}: assigned, but no announcement here has the chain's prompt and params: not acking`)
      return
    }
    if (bound === 'swapped') {
      if (isSpeculative(task.record.work)) {
        await work.handle(task, { type: 'not-assigned' })
      }
      this.c.say(`task ${m.taskId}: the assignment names another announcement of the task than the first one heard: working on it`)
    }
    // an ephemeral node serves one session at a time: no ack, so the oracles replace this miner
    if (!this.c.reservation.mayServe(m.sessionId)) {
      await work.handle(task, { type: 'refuse' })
      this.c.say(`task ${m.taskId}: assigned, but reserved for session ${this.c.reservation.current?.sessionId}: not acking`)
      return
    }
    // generation starts at once (the first token is on the submitter's clock); the ack, signed and
    // gossiped, follows while the prompt is evaluated. Work that found the task cannot run is declined instead.
    await work.handle(task, { type: 'accept' })
    if (task.record.work.phase !== 'working') {
      return
    }
    const ack: Ack = { taskId: m.taskId, miner: addressToBytes(this.c.address as Hex), round: m.round }
    await this.c.publish('ack', ack)
    tasks.apply(task, ackEvent(ack))
    await tasks.persist(task)
    await work.handle(task, { type: 'acked' })
    this.c.say(`task ${m.taskId}: assigned (round ${m.round}), acked`)
  }

  /**
   * A task this miner held a slot in before a restart: unfinished work starts
   * again; a precommit, and a reveal, already sent are sent again (a stop can
   * lose what was just published; receivers drop the copies).
   */
  resume (task: MinerTask): void {
    const { queued, record } = task
    if (isTerminal(record.state)) {
      return
    }
    this.c.say(`task ${queued.taskId}: resumed after restart (${record.state.phase})`)
    const status = this.c.tasks.slotOf(task)?.status
    if (status !== 'acked' && status !== 'precommitted') {
      return
    }
    // the reservation is not stored: it starts again with the work it covers
    this.c.reservation.reserveFor(queued.sessionId)
    this.c.tasks.enqueue(task, async () => { await this.c.work.handle(task, { type: 'restart', slot: status }) })
  }
}
