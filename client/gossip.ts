/**
 * What the client does with the task gossip it hears: assignments, declines,
 * acks and reveals of its own tasks update their bookkeeping; verdicts and
 * heartbeats feed the pool view.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { MinerVerdict } from '../protocols/messages/index.ts'
import { noteDecline } from './declines.ts'
import { TaskFailedError } from './errors.ts'
import { MinerNotAssignedError } from './token-stream.ts'
import type { Tracked } from './tracked.ts'
import type { TaskStatus } from './types.ts'
import type { MessageMeta } from '../protocols/gossip/index.ts'
import type { PoolView } from '../protocols/pool/view.ts'
import type { TopicHandlers } from '../protocols/topics.ts'

/** The client's side of its tasks that the handlers drive. */
export interface TaskGossipContext {
  tracked: ReadonlyMap<string, Tracked>
  pool: PoolView
  update(t: Tracked, status: TaskStatus, detail?: string): void
  fail(t: Tracked, err: TaskFailedError): void
}

/** One handler per topic kind, for `installGossip`. */
export function taskGossipHandlers (c: TaskGossipContext): TopicHandlers<MessageMeta> {
  return {
    task: () => {},
    assignment: (m) => {
      const t = c.tracked.get(m.taskId.toString())
      if (t == null) {
        return
      }
      const now = performance.now()
      for (const b of m.miners) {
        const a = bytesToHex(b).toLowerCase()
        if (!t.record.miners.includes(a)) {
          t.record.miners.push(a)
        }
        if (!(t.assignedAt ??= new Map()).has(a)) {
          t.assignedAt.set(a, now)
        }
      }
      c.update(t, 'assigned', `round ${m.round}: ${m.miners.length} miner(s)`)
      if (m.round === 0) {
        const assigned = m.miners.map(b => bytesToHex(b).toLowerCase())
        // a predicted miner the assignment does not name will not serve: stop waiting on it
        if (t.attempt?.early === true && !assigned.includes(t.attempt.miner) && t.streamedTokens === 0) {
          t.attempt.controller.abort(new MinerNotAssignedError(t.attempt.miner))
        }
        // ask the first assigned miner for tokens now rather than after its ack (one gossip hop
        // later): its stream opens while it starts generating, and it answers at once if it declines
        if (!t.ackers.some(a => assigned.includes(a.miner))) {
          const first = assigned.map(a => c.pool.get(a)).find(e => e != null)
          if (first != null) {
            t.ackers.push({ miner: first.address.toLowerCase(), peer: first.peerId, early: true })
            t.newAcker?.()
          }
        }
      }
      // declines that came before the assignment named their miners count now
      const declined = noteDecline(t)
      if (declined != null) {
        c.fail(t, declined)
      }
    },
    decline: (m) => {
      const t = c.tracked.get(m.taskId.toString())
      const declined = t != null ? noteDecline(t, m) : undefined
      if (t != null && declined != null) {
        c.fail(t, declined)
      }
    },
    ack: (m, meta) => {
      const t = c.tracked.get(m.taskId.toString())
      if (t != null && meta.from != null) {
        t.ackers.push({ miner: bytesToHex(m.miner).toLowerCase(), peer: meta.from })
        t.newAcker?.()
      }
    },
    precommit: () => {},
    reveal: (m) => {
      const t = c.tracked.get(m.taskId.toString())
      if (t != null) {
        t.reveals.set(bytesToHex(m.miner).toLowerCase(), CID.decode(m.outputCid).toString())
        if (t.record.status === 'generating' || t.record.status === 'assigned') {
          c.update(t, 'committed')
        }
      }
    },
    verdict: (m, meta) => {
      // what the leader measured miners deliver: this view's speeds follow the oracles'
      c.pool.delivery.addVerdict(m)
      const t = c.tracked.get(m.taskId.toString())
      if (t == null) {
        return
      }
      if (meta.from != null && !(t.judges ??= []).some(p => p.equals(meta.from))) {
        t.judges.push(meta.from)
      }
      for (const v of m.miners) {
        // the leader's verdict comes first; an oracle's later attestation (a quorum signature, or an audit
        // after settlement) does not rewrite what the task settled with
        const miner = bytesToHex(v.miner).toLowerCase()
        if (!t.outcomes.has(miner)) {
          t.outcomes.set(miner, v.outcome)
        }
      }
      c.update(t, 'validated')
      const outcomes = [...t.outcomes.values()]
      if (outcomes.includes(MinerVerdict.Outcome.UNVERIFIABLE) && !outcomes.includes(MinerVerdict.Outcome.ACCEPTED)) {
        // not settled: the task expires on chain and its reservation returns to the session
        c.fail(t, new TaskFailedError('unverifiable', `task ${t.record.taskId}: the miners' outputs differ and the leader oracle has no model to replay them`, t.record.taskId))
      }
    },
    // this client's own reports go to the oracles; others' are theirs to fold
    'first-token': () => {},
    heartbeat: (m, meta) => {
      if (meta.from != null) {
        c.pool.onHeartbeat(m, meta.from)
      }
    }
  }
}
