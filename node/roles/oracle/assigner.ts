/**
 * Assignments. The leader draws a queued task's miners with the chain's seed
 * and gossips them (the hub's copy follows, node/roles/oracle/assignment-writes.ts),
 * and replaces a miner that timed out: on the hub first, then on gossip.
 * Followers recompute each round-0 draw and count the ones that differ from
 * their own view of the pool. Draws honour the session's SLA and the
 * pool's load (node/roles/oracle/draws.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { hexToBytes } from 'viem'
import { ContractRuleError, reassignMiner } from '../../../contracts/index.ts'
import { cidDigest, taskParamsDigest } from '../../../protocols/blocks/index.ts'
import { publishMessage } from '../../../protocols/gossip/index.ts'
import { TaskQueued, addressToBytes } from '../../../protocols/messages/index.ts'
import { isTerminal } from '../../../protocols/queue/machine.ts'
import { assignedEvent } from '../../../protocols/queue/wire.ts'
import { NoEligibleMinerError, slaFor } from '../../../protocols/selection/index.ts'
import { ASSIGN_LEADER_MAX_AGE_MS, REASSIGN_DEADLINE_SLACK_MS } from './constants.ts'
import { drawMiners, drawRecords, roundSeed, selectionAllowed, selectionHolds } from './draws.ts'
import { chainMiners } from './tasks.ts'
import type { AssignmentWrites } from './assignment-writes.ts'
import type { OracleMetrics } from './metrics.ts'
import type { OracleTask } from './types.ts'
import type { Assignment } from '../../../protocols/messages/index.ts'
import type { QueueEvent } from '../../../protocols/queue/types.ts'
import type { MinerRecord, RoutedResult } from '../../../protocols/selection/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { MinerRegistrations, PoolView } from '../shared/pool.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:oracle')

export interface AssignerInit {
  /** the gossip the assignments go on */
  pubsub: GossipSub
  chain: ChainContext
  /** the role stopped: no wait outlasts it */
  signal: AbortSignal
  /** this oracle's address, lower case */
  address: string
  /** gossip topic prefix */
  prefix: string
  pool: PoolView
  /** miners refused by the hub leave the pool until the chain says otherwise */
  registrations: Pick<MinerRegistrations, 'refuse'>
  /** the hub's copies of round-0 assignments */
  assignments: Pick<AssignmentWrites, 'add' | 'onChain'>
  /** whether this oracle leads, trusting a read that names it up to `maxAgeMs` old */
  isLeader(maxAgeMs?: number): Promise<boolean>
  /** apply a queue event to the task; false if the queue refused it */
  apply(task: OracleTask, event: QueueEvent): boolean
  /** the task's round-0 assignment was applied */
  onAssigned(task: OracleTask): void
  metrics: Pick<OracleMetrics, 'task' | 'draw'>
  say(line: string): void
}

/** Whether the records can fill the task's round-0 draw at all. */
function fills (records: MinerRecord[], task: OracleTask): boolean {
  try {
    drawMiners(records, task, task.record.state.redundancy, 0)
    return true
  } catch (err: any) {
    if (err instanceof NoEligibleMinerError) {
      return false
    }
    throw err
  }
}

/**
 * The prompt and params digests of the task's announcement, which this
 * oracle checked against the chain before taking the task: a miner works on
 * the announcement with these digests only.
 */
export function announcementDigests (task: Pick<OracleTask, 'queued'>): Pick<Assignment, 'promptDigest' | 'paramsDigest'> {
  const q = task.queued
  return {
    promptDigest: Uint8Array.from(hexToBytes(cidDigest(CID.decode(q.promptCid)))),
    ...(q.params != null ? { paramsDigest: Uint8Array.from(hexToBytes(taskParamsDigest(q.params))) } : {})
  }
}

export class Assigner {
  private readonly init: AssignerInit

  constructor (init: AssignerInit) {
    this.init = init
  }

  /** Draw and gossip the miners of a queued task (the leader only). */
  async assign (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'queued' || !(await this.init.isLeader(ASSIGN_LEADER_MAX_AGE_MS))) {
      return
    }
    let miners: string[]
    try {
      let drawn: RoutedResult
      try {
        drawn = this.draw(task, s.redundancy, 0)
      } catch (err: any) {
        if (!(err instanceof NoEligibleMinerError) || task.view == null) {
          throw err
        }
        // the pool at the announcement could not serve the task: from now on its draw is made from the pool as it
        // is when drawn (followers accept either, node/roles/oracle/draws.ts)
        task.view = undefined
        drawn = this.draw(task, s.redundancy, 0)
      }
      miners = drawn.miners
      if (drawn.slaRelaxed) {
        this.init.say(`task ${task.queued.taskId}: no ${s.redundancy} live miners meet the session's SLA (${slaFor(task.record.slaClass ?? 1).name}): drawn from every miner of the model (the SLA's fallback policy)`)
      }
    } catch (err: any) {
      this.init.say(`task ${task.queued.taskId}: cannot assign yet: ${err.message}`)
      return
    }
    const msg: Assignment = {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: miners.map(m => addressToBytes(m as Hex)),
      selectionSeed: Uint8Array.from(roundSeed(task, 0)),
      leader: addressToBytes(this.init.address as Hex),
      round: 0,
      signature: new Uint8Array(0),
      ...announcementDigests(task),
      replaced: []
    }
    // gossip first, so miners start at once; the hub's copy follows (node/roles/oracle/assignment-writes.ts)
    await publishMessage(this.init.pubsub, 'assignment', msg, { prefix: this.init.prefix })
    task.record.assigned = miners
    this.init.apply(task, assignedEvent(msg))
    this.init.onAssigned(task)
    this.init.metrics.task('assigned')
    this.init.say(`task ${task.queued.taskId}: assigned to ${miners.join(', ')}`)
    this.init.assignments.add(task)
  }

  /** Replace the miner that left the task's vacancy, on the hub and then on gossip (the leader only). */
  async reassign (task: OracleTask, round: number): Promise<void> {
    const s = task.record.state
    if (s.vacancies === 0 || !(await this.init.isLeader())) {
      return
    }
    // the hub replaces a miner only in the assignment it holds
    if (!(await this.init.assignments.onChain(task))) {
      this.init.say(`task ${task.queued.taskId}: no replacement: the assignment is not on chain`)
      return
    }
    const { chain } = this.init
    const current = await chainMiners(chain, task)
    // the task may have moved on while the chain was read (the tick expires tasks)
    const now = task.record.state
    if (isTerminal(now) || now.vacancies === 0) {
      return
    }
    const gone = now.slots.filter(x => x.status === 'reassigned').map(x => x.miner)
    const index = current.findIndex(m => gone.includes(m.toLowerCase()))
    if (index < 0) {
      return
    }
    let replacement: string
    try {
      [replacement] = this.draw(task, 1, round).miners
    } catch (err: any) {
      this.init.say(`task ${task.queued.taskId}: no replacement for ${current[index]}: ${err.message}`)
      return
    }
    const send = async (): Promise<unknown> => chain.serial(async () => reassignMiner(chain.wallet, { hub: chain.hub, taskId: task.queued.taskId, current, index, replacement: replacement as Address }))
    try {
      await send()
    } catch (err: any) {
      if (!(err instanceof ContractRuleError) || err.rule !== 'DeadlineNotPassed') {
        throw err
      }
      // the hub's precommit window is measured in block seconds: wait it out once
      const deadlineS = Number(err.args?.[1] ?? 0)
      await sleep(Math.max(0, deadlineS * 1000 - Date.now()) + REASSIGN_DEADLINE_SLACK_MS, undefined, { signal: this.init.signal })
      await send()
    }
    const msg = this.replacementRound(task, round, replacement, current[index].toLowerCase())
    task.record.assignedAtMs = { ...task.record.assignedAtMs, [replacement]: Date.now() }
    // the hub holds the replacement now: taken here before it is gossiped, so the replacement's ack (which can
    // arrive while the gossip is still being sent) finds its slot
    this.init.apply(task, assignedEvent(msg))
    await publishMessage(this.init.pubsub, 'assignment', msg, { prefix: this.init.prefix })
    this.init.metrics.task('reassigned')
    this.init.say(`task ${task.queued.taskId}: ${current[index]} replaced by ${replacement} (round ${round})`)
  }

  /** The gossip of a replacement round: `replacement` takes the slot of `replaced`. */
  private replacementRound (task: OracleTask, round: number, replacement: string, replaced: string): Assignment {
    return {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: [addressToBytes(replacement as Hex)],
      selectionSeed: Uint8Array.from(roundSeed(task, round)),
      leader: addressToBytes(this.init.address as Hex),
      round,
      signature: new Uint8Array(0),
      ...announcementDigests(task),
      // named, so that a node whose clock has not timed the miner out yet takes the replacement all the same
      replaced: [addressToBytes(replaced as Hex)],
      // the replacement may have joined after the announcement went round
      announcement: TaskQueued.encode(task.queued)
    }
  }

  /**
   * The hub refused a miner of the task's round-0 assignment (it is not
   * eligible there: unregistered, unstaked, leaving): it leaves the pool, and
   * a miner drawn in its place takes its slot at once, on gossip (a
   * replacement round naming the refused miner) and in the assignment the
   * hub is then asked to hold. False if no replacement can be drawn.
   */
  async replaceRefused (task: OracleTask, refused: string): Promise<boolean> {
    const gone = refused.toLowerCase()
    const model = task.queued.params?.modelId ?? ''
    this.init.registrations.refuse(gone, model)
    this.init.pool.forget(gone)
    const s = task.record.state
    const assigned = task.record.assigned ?? []
    const index = assigned.indexOf(gone)
    if (index < 0 || isTerminal(s) || !(await this.init.isLeader())) {
      return false
    }
    const round = s.round + 1
    let replacement: string
    try {
      [replacement] = this.draw(task, 1, round).miners
    } catch (err: any) {
      this.init.say(`task ${task.queued.taskId}: no replacement for ${gone}, refused by the hub: ${err.message}`)
      return false
    }
    const msg = this.replacementRound(task, round, replacement, gone)
    task.record.assignedAtMs = { ...task.record.assignedAtMs, [replacement]: Date.now() }
    if (!this.init.apply(task, assignedEvent(msg))) {
      return false
    }
    task.record.assigned = assigned.map(m => m === gone ? replacement : m)
    await publishMessage(this.init.pubsub, 'assignment', msg, { prefix: this.init.prefix })
    this.init.metrics.task('reassigned')
    this.init.say(`task ${task.queued.taskId}: ${gone} refused by the hub (not eligible), replaced by ${replacement} (round ${round})`)
    return true
  }

  /** A follower's check of the leader's round-0 draw, made from the same seed and its own view of the pool. */
  checkDraw (task: OracleTask, m: Assignment): void {
    if (m.round !== 0 || task.record.state.phase !== 'queued') {
      return
    }
    try {
      const records = drawRecords(this.init.pool, task)
      if (selectionHolds(records, task, m.miners)) {
        this.init.metrics.draw('agreed')
        return
      }
      // a task the pool at its announcement could not serve is drawn by the leader from the pool as it is later,
      // which this view cannot reproduce (the assignment itself has moved reservations and load since): the
      // draw must then be one the pool allows
      if (task.view != null && !fills(records, task) && selectionAllowed(drawRecords(this.init.pool, task, { current: true }), task, m.miners)) {
        this.init.metrics.draw('allowed')
        return
      }
      this.init.metrics.draw('mismatch')
      let own = 'none'
      try {
        own = drawMiners(records, task, task.record.state.redundancy, 0).miners.join(', ')
      } catch (err: any) {
        own = err.message
      }
      this.init.say(`task ${m.taskId}: the leader's selection differs from this oracle's view of the pool (this view draws ${own})`)
    } catch (err: any) {
      log('selection check: %s', err.message)
    }
  }

  private draw (task: OracleTask, count: number, round: number): RoutedResult {
    return drawMiners(drawRecords(this.init.pool, task, { current: round > 0 }), task, count, round)
  }
}
