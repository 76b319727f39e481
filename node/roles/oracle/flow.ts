/**
 * A task's way through this oracle: its announcement (taken once the chain
 * confirms it), the gossip about it applied to the queue in arrival order
 * (an event that overtook what it depends on waits for it), the queue's
 * effects handed to the part that acts on them, and the chain's settlements
 * and records reconciled with the task's. Every change of a task's phase is
 * a queue event (protocols/queue/machine.ts).
 */
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { getTask } from '../../../contracts/index.ts'
import { TaskQueued } from '../../../protocols/messages/index.ts'
import { Verdict as V } from '../../../protocols/policy/verdicts.ts'
import { createTask, isTerminal } from '../../../protocols/queue/machine.ts'
import { assignedEvent, ackEvent, declineEvent, precommitEvent, revealEvent, taskInitFrom, verdictEvent } from '../../../protocols/queue/wire.ts'
import { settledTaskIds } from '../shared/chain.ts'
import { cidDigest, precommitHash } from '../shared/records.ts'
import { outcomeVerdict } from '../shared/validation.ts'
import { MAX_UNASSIGNED_EVENTS, RECONCILE_RECENT_TASKS } from './constants.ts'
import { awaitSettledBefore } from './draws.ts'
import { EarlyEvents } from './tasks.ts'
import type { Abandons } from './abandons.ts'
import type { Assigner } from './assigner.ts'
import type { Auditor } from './audit.ts'
import type { Equivocations } from './equivocation.ts'
import type { LeaderVerdict } from './leader-verdict.ts'
import type { Leadership } from './leadership.ts'
import type { ReplayQuorum } from './replay-quorum.ts'
import type { SettlementBatcher } from './settlement.ts'
import type { OracleTasks } from './tasks.ts'
import type { OracleInit, OracleTask } from './types.ts'
import type { Ack, Assignment, Decline, FirstTokenReport, MinerVerdict, Precommit, Reveal, Verdict } from '../../../protocols/messages/index.ts'
import type { QueueEffect } from '../../../protocols/queue/types.ts'
import type { ChainContext, HubLog, HubWatcher, SessionOwners, SubmittedIndex } from '../shared/chain.ts'
import type { PoolView } from '../shared/pool.ts'
import type { PeerId } from '@libp2p/interface'

const log = logger('cortensor:oracle')

export interface TaskFlowInit {
  chain: ChainContext
  timeouts: OracleInit['timeouts']
  tasks: OracleTasks
  pool: PoolView
  submitted: SubmittedIndex
  owners: SessionOwners
  leadership: Pick<Leadership, 'refresh' | 'leads' | 'isLeader'>
  assigner: Pick<Assigner, 'assign' | 'reassign' | 'checkDraw'>
  verdict: Pick<LeaderVerdict, 'validate'>
  replay: Pick<ReplayQuorum, 'collect' | 'attest' | 'slash'>
  equivocations: Pick<Equivocations, 'onReveal'>
  settlement: Pick<SettlementBatcher, 'add'>
  abandons: Pick<Abandons, 'add' | 'onChainLog'>
  auditor: Pick<Auditor, 'onSettled'>
  /** this oracle's address, lower case */
  address: string
  /** the hub's replay quorum (read at start) */
  replayQuorum(): number
  /** the chain poller, once started */
  watcher(): HubWatcher | undefined
  /** the clock: a task arrived after a quiet spell */
  wake(): void
  signal: AbortSignal
  say(line: string): void
}

export class TaskFlow {
  private readonly init: TaskFlowInit
  /** events of tasks whose announcement has not passed its chain check here yet */
  private readonly unannounced = new EarlyEvents<(t: OracleTask) => Promise<void>>()

  constructor (init: TaskFlowInit) {
    this.init = init
  }

  // ------------------------------------------------------------ gossip

  onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const { tasks, pool, submitted, owners } = this.init
    if (tasks.has(m.taskId)) {
      return
    }
    log('task %s: announced', m.taskId)
    const { state, effects } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: OracleTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), seed: '0x', state, precommits: {}, reveals: {}, announcedAtMs: Date.now() }, chain: Promise.resolve() }
    // the pool now, before the task's own assignment moves reservations and load: what its draw is made from
    task.view = pool.records(m.sessionId, Date.now(), { claimed: true })
    tasks.add(task)
    // the clock, the chain poller and the leader read pick up pace with the first task after a quiet spell
    this.init.wake()
    this.init.watcher()?.wake()
    void this.init.leadership.refresh()
    tasks.enqueue(task, async () => {
      const found = await submitted.lookup(m.taskId)
      submitted.delete(m.taskId)
      task.record.seed = found.seed
      task.record.submitBlock = found.blockNumber.toString()
      // the draw honours the session's SLA (an unreadable session: the standard one)
      task.record.slaClass = await owners.slaClass(m.sessionId).catch(() => undefined)
      // and counts the delivered speeds of tasks settled before this one was submitted: the poller must have seen them
      await awaitSettledBefore(pool, this.init.watcher(), found.blockNumber, this.init.signal)
      // the record is written while the leader assigns (the first token waits on the assignment); a later
      // write of the task is issued after this one, so the store ends with the latest state
      tasks.persist(task).catch((err) => { this.init.say(`task ${m.taskId}: ${err?.message ?? err}`) })
      this.onEffects(task, effects)
    })
    // what overtook the announcement (an assignment, acks) comes after it
    for (const fn of this.unannounced.take(m.taskId.toString())) {
      tasks.enqueue(task, fn)
    }
  }

  onAssignmentMessage (m: Assignment): void {
    this.onEvent(m.taskId, async (t) => { this.onAssignment(t, m) })
  }

  onAck (m: Ack): void {
    this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.init.tasks.apply(t, ackEvent(m)) }) })
  }

  /** a majority of assigned miners declining (the task cannot run on the model) expires it at once */
  onDecline (m: Decline): void {
    this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.init.tasks.apply(t, declineEvent(m)) }) })
  }

  onPrecommitMessage (m: Precommit): void {
    this.onEvent(m.taskId, async (t) => { this.afterAssignment(t, () => { this.onPrecommit(t, m) }) })
  }

  onRevealMessage (m: Reveal): void {
    this.onEvent(m.taskId, async (t) => { this.onReveal(t, m) })
  }

  onVerdictMessage (m: Verdict): void {
    this.onEvent(m.taskId, async (t) => { await this.onVerdict(t, m) })
  }

  /**
   * The submitter's measurement of a miner's first token (its author checked
   * on gossip: the session's owner): kept for the verdict while the task has
   * none, for a miner that holds a slot of it. The first report per miner stands.
   */
  onFirstToken (m: FirstTokenReport): void {
    this.onEvent(m.taskId, async (t) => {
      this.afterAssignment(t, () => {
        const miner = bytesToHex(m.miner).toLowerCase()
        const { phase, slots } = t.record.state
        if (t.record.outcomes != null || isTerminal(t.record.state) || phase === 'validated' || !slots.some(s => s.miner === miner)) {
          return
        }
        if (t.record.firstTokenMs?.[miner] == null) {
          t.record.firstTokenMs = { ...t.record.firstTokenMs, [miner]: m.firstTokenMs }
        }
      })
    })
  }

  /** Run `fn` on the task in arrival order; for a task whose announcement is still being checked, once it is in. */
  private onEvent (taskId: bigint, fn: (t: OracleTask) => Promise<void>): void {
    const task = this.init.tasks.get(taskId)
    if (task != null) {
      this.init.tasks.enqueue(task, fn)
    } else {
      this.unannounced.add(taskId.toString(), fn)
    }
  }

  /** What the queue asks for after a transition or a tick. */
  onEffects (task: OracleTask, effects: QueueEffect[]): void {
    const { tasks, pool, assigner, verdict, settlement, abandons } = this.init
    for (const e of effects) {
      switch (e.type) {
        case 'select-miners':
        case 'assignment-overdue':
          tasks.enqueue(task, async () => { await assigner.assign(task) })
          break
        case 'reassign':
          tasks.enqueue(task, async () => { await assigner.reassign(task, e.round) })
          break
        case 'penalise':
          pool.applyVerdict(e.miner, V.TIMEOUT)
          this.init.say(`task ${task.queued.taskId}: miner ${e.miner} ${e.reason}`)
          break
        case 'slash':
          pool.applyVerdict(e.miner, V.COMMIT_MISMATCH)
          this.init.say(`task ${task.queued.taskId}: miner ${e.miner} revealed something other than it committed to`)
          break
        case 'validate':
          tasks.enqueue(task, async () => { await verdict.validate(task) })
          break
        case 'reveal-window-open': {
          const early = task.early ?? []
          task.early = undefined
          for (const r of early) {
            tasks.enqueue(task, async () => { this.onReveal(task, r) })
          }
          break
        }
        case 'settle':
          settlement.add(task)
          break
        case 'expired':
          this.init.say(`task ${task.queued.taskId}: expired (${e.reason})`)
          abandons.add(task.queued.taskId, e.reason)
          break
        default:
          break
      }
    }
  }

  // ------------------------------------------------------------ task events

  private onAssignment (task: OracleTask, m: Assignment): void {
    // followers recompute the draw from the same seed and pool
    this.init.assigner.checkDraw(task, m)
    if (this.init.tasks.apply(task, assignedEvent(m))) {
      if (m.round === 0) {
        // what the hub must hold before settlement, whoever leads then
        task.record.assigned ??= m.miners.map(b => bytesToHex(b).toLowerCase())
        this.onAssigned(task)
      } else if (m.replaced.length > 0 && task.record.assigned != null) {
        // miners the hub refused, replaced before it held the assignment: it is asked to hold the new one
        const replaced = m.replaced.map(b => bytesToHex(b).toLowerCase())
        const by = m.miners.map(b => bytesToHex(b).toLowerCase())
        task.record.assigned = task.record.assigned.map(a => replaced.includes(a) ? by[replaced.indexOf(a)] ?? a : a)
      }
    }
  }

  /** Run `fn` now, or once the assignment arrives if an ack or precommit overtook it. */
  private afterAssignment (task: OracleTask, fn: () => void): void {
    if (task.record.state.phase !== 'queued') {
      fn()
    } else if ((task.unassigned ??= []).length < MAX_UNASSIGNED_EVENTS) {
      task.unassigned.push(fn)
    }
  }

  /** The task's round-0 assignment was applied: what overtook it runs now. */
  onAssigned (task: OracleTask): void {
    const waiting = task.unassigned ?? []
    task.unassigned = undefined
    for (const fn of waiting) {
      fn()
    }
  }

  private onPrecommit (task: OracleTask, m: Precommit): void {
    const miner = bytesToHex(m.miner).toLowerCase()
    if (this.init.tasks.apply(task, precommitEvent(m))) {
      task.record.precommits[miner] = { commitment: bytesToHex(m.commitment), signature: bytesToHex(m.signature) }
      task.record.precommitAtMs = { ...task.record.precommitAtMs, [miner]: Date.now() }
    }
  }

  private onReveal (task: OracleTask, m: Reveal): void {
    const phase = task.record.state.phase
    if (phase === 'queued' || phase === 'assigned' || phase === 'acked') {
      (task.early ??= []).push(m)
      return
    }
    const miner = bytesToHex(m.miner).toLowerCase()
    const p = task.record.precommits[miner]
    let matches = false
    let outputCid: CID | undefined
    try {
      outputCid = CID.decode(m.outputCid)
      matches = p != null && precommitHash(this.init.chain.domain, m.taskId, cidDigest(outputCid), bytesToHex(m.salt)) === p.commitment
    } catch {
      // an output CID that does not decode matches no commitment
    }
    if (this.init.tasks.apply(task, revealEvent(m, matches)) && outputCid != null) {
      task.record.reveals[miner] = { outputCid: outputCid.toString(), salt: bytesToHex(m.salt) }
    }
    // a second, different signed reveal is refused by the queue but may prove equivocation
    this.init.tasks.enqueue(task, async () => { await this.init.equivocations.onReveal(task, m) })
  }

  private async onVerdict (task: OracleTask, m: Verdict): Promise<void> {
    const { replay, pool } = this.init
    const sender = bytesToHex(m.oracle).toLowerCase()
    await replay.collect(task, m)
    const signed = m.miners.some(v => v.replaySignature != null)
    // a follower's attestation is not the task's verdict; only the leader's is
    if (!signed || await this.init.leadership.leads(sender)) {
      const outcomes: Record<string, MinerVerdict.Outcome> = {}
      for (const v of m.miners) {
        outcomes[bytesToHex(v.miner).toLowerCase()] = v.outcome
      }
      if (this.init.tasks.apply(task, verdictEvent(m))) {
        task.record.outcomes = outcomes
        // the leader's scores and measurements, so this oracle's draws match the leader's (node/roles/oracle/draws.ts)
        for (const [miner, outcome] of Object.entries(outcomes)) {
          pool.applyVerdict(miner, outcomeVerdict(outcome))
        }
        pool.delivery.addVerdict(m)
      }
    }
    // whichever oracle this one takes for the leader (a read may lag a takeover), a failed replay it has
    // not signed yet is replayed here, and signatures that may complete the quorum are tried at once
    if (sender !== this.init.address && this.init.replayQuorum() > 1) {
      await replay.attest(task, m)
    }
    if (signed) {
      await this.trySlash(task)
    }
  }

  /** Slash once the task is settled and enough attestations are in (the leader only). */
  private async trySlash (task: OracleTask): Promise<void> {
    if (task.record.state.phase === 'settled' && await this.init.leadership.isLeader()) {
      await this.init.replay.slash(task)
    }
  }

  // ------------------------------------------------------------ the chain

  async onChainLog (l: HubLog): Promise<void> {
    const { tasks, pool } = this.init
    this.init.abandons.onChainLog(l)
    if (l.eventName !== 'TasksSettled') {
      return
    }
    for (const id of settledTaskIds(l.args.settled)) {
      // measured delivery of a task counts for draws of tasks submitted after this block (protocols/pool/delivery.ts)
      if (l.blockNumber != null) {
        pool.delivery.settle(id, l.blockNumber)
      }
      const task = tasks.get(id)
      if (task == null) {
        continue
      }
      tasks.enqueue(task, async () => {
        if (!isTerminal(task.record.state) && !tasks.apply(task, { type: 'settled', txHash: l.transactionHash })) {
          // settled by another oracle before this one saw the verdict
          tasks.apply(task, { type: 'settled-on-chain', txHash: l.transactionHash })
          await tasks.persist(task)
        }
        if (l.blockHash != null && task.record.state.phase === 'settled') {
          await this.init.auditor.onSettled(task, l.blockHash)
        }
      })
    }
  }

  /**
   * Tasks this oracle's records call ended that the chain still holds open:
   * a local chain killed between two of its state writes lost their
   * settlement (or giving up). They are given up again, so no deposit stays
   * reserved for them. The latest records only: what a crash can lose.
   */
  async reconcile (): Promise<void> {
    const ended = [...this.init.tasks.values()]
      .filter(t => isTerminal(t.record.state))
      .sort((a, b) => a.queued.taskId < b.queued.taskId ? 1 : -1)
      .slice(0, RECONCILE_RECENT_TASKS)
    const { chain } = this.init
    for (const task of ended) {
      const onChain = await getTask(chain.wallet, { hub: chain.hub, taskId: task.queued.taskId }).catch(() => undefined)
      if (!this.init.signal.aborted && (onChain?.status === 'queued' || onChain?.status === 'assigned')) {
        this.init.say(`task ${task.queued.taskId}: ${task.record.state.phase} here but open on chain (the chain lost its last blocks): given up`)
        this.init.abandons.add(task.queued.taskId, 'settlement-timeout')
      }
    }
  }
}
