import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { MinerVerdict } from '../../protocols/messages/index.ts'
import {
  ACK_TIMEOUT_MS, ASSIGN_TIMEOUT_MS, MAX_RETRIES, PRECOMMIT_TIMEOUT_MS, REVEAL_TIMEOUT_MS, SETTLE_TIMEOUT_MS, VALIDATE_TIMEOUT_MS,
  createTask, declineQuorum, deserialiseState, isTerminal, nextDeadline, serialiseState, tick, transition,
  taskInitFrom, assignedEvent, ackEvent, precommitEvent, revealEvent, verdictEvent
} from '../../protocols/queue/index.ts'
import * as f from './fixtures.ts'
import type { QueueEffect, QueueEvent, TaskInit, TaskPhase, TaskState } from '../../protocols/queue/index.ts'

const T0 = 1_700_000_000_000
const A = '0xAaaa000000000000000000000000000000000001'
const B = '0xaaaa000000000000000000000000000000000002'
const C = '0xaaaa000000000000000000000000000000000003'
const D = '0xaaaa000000000000000000000000000000000004'
const E = '0xaaaa000000000000000000000000000000000005'
const a = A.toLowerCase()

const init = (over: Partial<TaskInit> = {}): TaskInit => ({ taskId: 42n, sessionId: 7n, redundancy: 3, deadlineMs: T0 + 3_600_000, ...over })

/** Applies events in order at the given times, collecting effects. */
function run (state: TaskState, steps: Array<[QueueEvent, number]>): { state: TaskState, effects: QueueEffect[] } {
  const effects: QueueEffect[] = []
  for (const [event, at] of steps) {
    const r = transition(state, event, at)
    state = r.state
    effects.push(...r.effects)
  }
  return { state, effects }
}

function throwsNamed (fn: () => unknown, name: string): void {
  let thrown: any
  try { fn() } catch (err) { thrown = err }
  expect(thrown, `expected ${name}`).to.be.an('error')
  expect(thrown.name).to.equal(name)
}

const types = (effects: QueueEffect[]): string[] => effects.map(e => e.type)

/** A task driven to the given phase with miners A, B, C. */
function inPhase (phase: TaskPhase): TaskState {
  let s = createTask(init(), T0).state
  if (phase === 'queued') { return s }
  s = transition(s, { type: 'assigned', miners: [A, B, C], round: 0 }, T0 + 1).state
  if (phase === 'assigned') { return s }
  s = run(s, [[{ type: 'ack', miner: A }, T0 + 2], [{ type: 'ack', miner: B }, T0 + 2], [{ type: 'ack', miner: C }, T0 + 2]]).state
  if (phase === 'acked') { return s }
  s = run(s, [A, B, C].map(m => [{ type: 'precommit', miner: m, commitment: `c-${m}` }, T0 + 3])).state
  if (phase === 'precommitted') { return s }
  s = run(s, [A, B, C].map(m => [{ type: 'reveal', miner: m, outputCid: `cid-${m}`, matchesCommitment: true }, T0 + 4])).state
  if (phase === 'committed') { return s }
  s = transition(s, { type: 'verdict', accepted: [A, B], rejected: [C] }, T0 + 5).state
  if (phase === 'validated') { return s }
  s = transition(s, { type: 'settled', txHash: '0xfeed' }, T0 + 6).state
  if (phase === 'settled') { return s }
  return tick(createTask(init({ deadlineMs: T0 + 10 }), T0).state, T0 + 10).state
}

describe('protocols/queue', () => {
  describe('legal transitions', () => {
    it('creates a queued task and asks the leader to select miners', () => {
      const { state, effects } = createTask(init(), T0)
      expect(state.phase).to.equal('queued')
      expect(state.taskId).to.equal('42')
      expect(effects).to.deep.equal([{ type: 'select-miners', count: 3, round: 0 }])
      expect(nextDeadline(state)).to.equal(T0 + ASSIGN_TIMEOUT_MS)
      throwsNamed(() => createTask(init({ redundancy: 0 }), T0), 'InvalidEventError')
    })

    it('runs the whole lifecycle with redundancy 3', () => {
      let s = createTask(init(), T0).state
      let r = transition(s, { type: 'assigned', miners: [A, B, C], round: 0 }, T0 + 10)
      expect(r.state.phase).to.equal('assigned')
      expect(r.state.slots.map(x => x.miner)).to.deep.equal([a, B, C])
      expect(r.state.slots[0].deadlineMs).to.equal(T0 + 10 + ACK_TIMEOUT_MS)
      s = run(r.state, [[{ type: 'ack', miner: A }, T0 + 20], [{ type: 'ack', miner: B }, T0 + 20]]).state
      expect(s.phase).to.equal('assigned')
      s = transition(s, { type: 'ack', miner: C }, T0 + 30).state
      expect(s.phase).to.equal('acked')
      expect(s.slots[2].deadlineMs).to.equal(T0 + 30 + PRECOMMIT_TIMEOUT_MS)
      s = run(s, [[{ type: 'precommit', miner: A, commitment: 'ca' }, T0 + 40], [{ type: 'precommit', miner: B, commitment: 'cb' }, T0 + 40]]).state
      expect(s.phase).to.equal('acked')
      r = transition(s, { type: 'precommit', miner: C, commitment: 'cc' }, T0 + 50)
      expect(r.state.phase).to.equal('precommitted')
      expect(r.effects).to.deep.equal([{ type: 'reveal-window-open', miners: [a, B, C] }])
      expect(r.state.phaseDeadlineMs).to.equal(T0 + 50 + REVEAL_TIMEOUT_MS)
      s = run(r.state, [[{ type: 'reveal', miner: A, outputCid: 'x', matchesCommitment: true }, T0 + 60], [{ type: 'reveal', miner: B, outputCid: 'x', matchesCommitment: true }, T0 + 60]]).state
      r = transition(s, { type: 'reveal', miner: C, outputCid: 'y', matchesCommitment: true }, T0 + 70)
      expect(r.state.phase).to.equal('committed')
      expect(r.effects).to.deep.equal([{ type: 'validate', miners: [a, B, C], attempt: 0 }])
      expect(r.state.phaseDeadlineMs).to.equal(T0 + 70 + VALIDATE_TIMEOUT_MS)
      r = transition(r.state, { type: 'verdict', accepted: [A, B], rejected: [C] }, T0 + 80)
      expect(r.state.phase).to.equal('validated')
      expect(r.effects).to.deep.equal([{ type: 'settle', accepted: [a, B], rejected: [C], attempt: 0 }])
      expect(r.state.phaseDeadlineMs).to.equal(T0 + 80 + SETTLE_TIMEOUT_MS)
      r = transition(r.state, { type: 'settled', txHash: '0xabc' }, T0 + 90)
      expect(r.state.phase).to.equal('settled')
      expect(r.state.txHash).to.equal('0xabc')
      expect(r.effects).to.deep.equal([{ type: 'settled', txHash: '0xabc' }])
      expect(nextDeadline(r.state)).to.equal(null)
      expect(isTerminal(r.state)).to.equal(true)
    })

    it('accepts a precommit that overtook its ack', () => {
      const s = transition(inPhase('assigned'), { type: 'precommit', miner: B, commitment: 'cb' }, T0 + 5).state
      expect(s.slots[1].status).to.equal('precommitted')
      expect(s.slots[1].deadlineMs).to.equal(null)
    })

    it('never mutates its input', () => {
      const s = inPhase('acked')
      const copy = structuredClone(s)
      transition(s, { type: 'precommit', miner: A, commitment: 'ca' }, T0 + 3)
      expect(tick(s, T0 + PRECOMMIT_TIMEOUT_MS * 2).state.phase).to.equal('expired')
      expect(s).to.deep.equal(copy)
    })

    it('a reveal that contradicts the precommit marks the miner faulty and slashes it', () => {
      const r = transition(inPhase('precommitted'), { type: 'reveal', miner: B, outputCid: 'x', matchesCommitment: false }, T0 + 10)
      expect(r.state.slots[1].status).to.equal('faulty')
      expect(r.effects).to.deep.equal([{ type: 'slash', miner: B, reason: 'reveal-mismatch' }])
      throwsNamed(() => transition(r.state, { type: 'reveal', miner: B, outputCid: 'x', matchesCommitment: true }, T0 + 11), 'DuplicateEventError')
    })
  })

  describe('declines', () => {
    it('a majority of the redundancy declining expires the task at once, with no penalty', () => {
      const s = transition(createTask(init(), T0).state, { type: 'assigned', miners: [A, B, C], round: 0 }, T0 + 10).state
      let r = transition(s, { type: 'declined', miner: B }, T0 + 20)
      // one decline of three: the task goes on (that miner is replaced when its ack is due)
      expect(r.state.phase).to.equal('assigned')
      expect(r.effects).to.deep.equal([])
      expect(r.state.declined).to.deep.equal([B])
      throwsNamed(() => transition(r.state, { type: 'declined', miner: B }, T0 + 21), 'DuplicateEventError')
      r = transition(r.state, { type: 'ack', miner: A }, T0 + 25)
      // an acked miner may still find it cannot run the task
      r = transition(r.state, { type: 'declined', miner: A }, T0 + 30)
      expect(r.state.phase).to.equal('expired')
      expect(r.state.expiredReason).to.equal('declined')
      expect(r.effects).to.deep.equal([{ type: 'expired', reason: 'declined' }])
      expect(nextDeadline(r.state)).to.equal(null)
      // nothing fires later: no reassignment, no penalty
      expect(tick(r.state, T0 + 3_600_000).effects).to.deep.equal([])
    })

    it('the quorum is a majority: 1 of 1, 2 of 2, 2 of 3, 3 of 5', () => {
      expect([1, 2, 3, 4, 5].map(declineQuorum)).to.deep.equal([1, 2, 2, 3, 3])
      const one = transition(createTask(init({ redundancy: 1 }), T0).state, { type: 'assigned', miners: [A], round: 0 }, T0 + 1).state
      expect(transition(one, { type: 'declined', miner: A }, T0 + 2).state.phase).to.equal('expired')
    })

    it('a decline from a miner that is not assigned, or has precommitted, is refused', () => {
      throwsNamed(() => transition(inPhase('assigned'), { type: 'declined', miner: E }, T0 + 5), 'UnknownMinerError')
      const s = transition(inPhase('assigned'), { type: 'precommit', miner: B, commitment: 'cb' }, T0 + 5).state
      throwsNamed(() => transition(s, { type: 'declined', miner: B }, T0 + 6), 'IllegalTransitionError')
      throwsNamed(() => transition(createTask(init(), T0).state, { type: 'declined', miner: A }, T0 + 1), 'IllegalTransitionError')
    })
  })

  describe('illegal transitions', () => {
    const events: Record<string, QueueEvent> = {
      assigned: { type: 'assigned', miners: [D], round: 1 },
      ack: { type: 'ack', miner: A },
      precommit: { type: 'precommit', miner: A, commitment: 'ca' },
      reveal: { type: 'reveal', miner: A, outputCid: 'x', matchesCommitment: true },
      verdict: { type: 'verdict', accepted: [A], rejected: [] },
      settled: { type: 'settled', txHash: '0x1' }
    }
    // phase → event → expected error name (absent = legal)
    const illegal: Record<TaskPhase, Record<string, string>> = {
      queued: { ack: 'IllegalTransitionError', precommit: 'IllegalTransitionError', reveal: 'IllegalTransitionError', verdict: 'IllegalTransitionError', settled: 'IllegalTransitionError' },
      assigned: { assigned: 'IllegalTransitionError', reveal: 'PrematureRevealError', verdict: 'IllegalTransitionError', settled: 'IllegalTransitionError' },
      acked: { assigned: 'IllegalTransitionError', ack: 'DuplicateEventError', reveal: 'PrematureRevealError', verdict: 'IllegalTransitionError', settled: 'IllegalTransitionError' },
      precommitted: { assigned: 'IllegalTransitionError', ack: 'IllegalTransitionError', precommit: 'IllegalTransitionError', verdict: 'IllegalTransitionError', settled: 'IllegalTransitionError' },
      committed: { assigned: 'IllegalTransitionError', ack: 'IllegalTransitionError', precommit: 'IllegalTransitionError', reveal: 'IllegalTransitionError', settled: 'IllegalTransitionError' },
      validated: { assigned: 'IllegalTransitionError', ack: 'IllegalTransitionError', precommit: 'IllegalTransitionError', reveal: 'IllegalTransitionError', verdict: 'IllegalTransitionError' },
      settled: Object.fromEntries(Object.keys(events).map(k => [k, 'TaskFinishedError'])),
      expired: Object.fromEntries(Object.keys(events).map(k => [k, 'TaskFinishedError']))
    }
    for (const [phase, table] of Object.entries(illegal) as Array<[TaskPhase, Record<string, string>]>) {
      for (const [name, event] of Object.entries(events)) {
        const expected = table[name]
        it(`${phase} + ${name} → ${expected ?? 'accepted'}`, () => {
          const s = inPhase(phase)
          expect(s.phase).to.equal(phase)
          const at = s.createdAtMs + 6
          if (expected == null) {
            // 'assigned' in queued needs the first round; the rest are legal as listed
            const e = phase === 'queued' && event.type === 'assigned' ? { ...event, round: 0 } : event
            expect(() => transition(s, e, at)).not.to.throw()
          } else {
            throwsNamed(() => transition(s, event, at), expected)
          }
        })
      }
    }

    it('an event from a miner that is not assigned is UnknownMinerError', () => {
      throwsNamed(() => transition(inPhase('assigned'), { type: 'ack', miner: E }, T0 + 5), 'UnknownMinerError')
      throwsNamed(() => transition(inPhase('precommitted'), { type: 'reveal', miner: E, outputCid: 'x', matchesCommitment: true }, T0 + 5), 'UnknownMinerError')
      throwsNamed(() => transition(inPhase('assigned'), { type: 'reveal', miner: E, outputCid: 'x', matchesCommitment: true }, T0 + 5), 'UnknownMinerError')
    })

    it('malformed events are InvalidEventError', () => {
      const q = inPhase('queued')
      throwsNamed(() => transition(q, { type: 'assigned', miners: [], round: 0 }, T0), 'InvalidEventError')
      throwsNamed(() => transition(q, { type: 'assigned', miners: [A, A.toLowerCase()], round: 0 }, T0), 'InvalidEventError')
      throwsNamed(() => transition(q, { type: 'assigned', miners: [A, B, C, D], round: 0 }, T0), 'InvalidEventError')
      const c = inPhase('committed')
      throwsNamed(() => transition(c, { type: 'verdict', accepted: [A], rejected: [A] }, T0 + 6), 'InvalidEventError')
      throwsNamed(() => transition(c, { type: 'verdict', accepted: [E], rejected: [] }, T0 + 6), 'UnknownMinerError')
      throwsNamed(() => transition(q, { type: 'bogus' } as any, T0), 'InvalidEventError')
    })

    it('a verdict cannot judge a miner that did not reveal', () => {
      let s = inPhase('precommitted')
      s = run(s, [[{ type: 'reveal', miner: A, outputCid: 'x', matchesCommitment: true }, T0 + 4]]).state
      s = tick(s, T0 + 3 + REVEAL_TIMEOUT_MS).state
      expect(s.phase).to.equal('committed')
      throwsNamed(() => transition(s, { type: 'verdict', accepted: [A, B], rejected: [] }, T0 + 3 + REVEAL_TIMEOUT_MS), 'InvalidEventError')
    })
  })

  describe('deadlines', () => {
    it('an ack timeout penalises the miner, asks for a replacement, and the replacement finishes the task', () => {
      let s = inPhase('assigned')
      s = run(s, [[{ type: 'ack', miner: A }, T0 + 2], [{ type: 'ack', miner: B }, T0 + 2]]).state
      const due = T0 + 1 + ACK_TIMEOUT_MS
      expect(tick(s, due - 1).effects).to.deep.equal([])
      const r = tick(s, due)
      expect(r.effects).to.deep.equal([
        { type: 'penalise', miner: C, reason: 'ack-timeout' },
        { type: 'reassign', miner: C, round: 1, reason: 'ack-timeout' }
      ])
      expect(r.state.slots[2].status).to.equal('reassigned')
      expect(r.state.vacancies).to.equal(1)
      expect(r.state.phase).to.equal('acked')
      // the late ack is refused
      throwsNamed(() => transition(r.state, { type: 'ack', miner: C }, due + 1), 'IllegalTransitionError')
      // a reassigned miner cannot come back as its own replacement
      throwsNamed(() => transition(r.state, { type: 'assigned', miners: [C], round: 1 }, due + 1), 'InvalidEventError')
      throwsNamed(() => transition(r.state, { type: 'assigned', miners: [D], round: 0 }, due + 1), 'InvalidEventError')
      throwsNamed(() => transition(r.state, { type: 'assigned', miners: [D, E], round: 1 }, due + 1), 'IllegalTransitionError')
      const done = run(r.state, [
        [{ type: 'assigned', miners: [D], round: 1 }, due + 10],
        [{ type: 'precommit', miner: A, commitment: 'ca' }, due + 20],
        [{ type: 'precommit', miner: B, commitment: 'cb' }, due + 20],
        [{ type: 'ack', miner: D }, due + 30],
        [{ type: 'precommit', miner: D, commitment: 'cd' }, due + 40]
      ])
      expect(done.state.phase).to.equal('precommitted')
      expect(done.effects).to.deep.equal([{ type: 'reveal-window-open', miners: [a, B, D] }])
      expect(done.state.vacancies).to.equal(0)
    })

    it('two slots timing out together are replaced in rounds one after the other, and both replacements are taken', () => {
      const s = run(inPhase('assigned'), [[{ type: 'ack', miner: A }, T0 + 2]]).state
      const due = T0 + 1 + ACK_TIMEOUT_MS
      const r = tick(s, due)
      expect(r.effects).to.deep.equal([
        { type: 'penalise', miner: B.toLowerCase(), reason: 'ack-timeout' },
        { type: 'reassign', miner: B.toLowerCase(), round: 1, reason: 'ack-timeout' },
        { type: 'penalise', miner: C, reason: 'ack-timeout' },
        { type: 'reassign', miner: C, round: 2, reason: 'ack-timeout' }
      ])
      const done = run(r.state, [
        [{ type: 'assigned', miners: [D], round: 1, replaced: [B] }, due + 10],
        [{ type: 'assigned', miners: [E], round: 2, replaced: [C] }, due + 20]
      ])
      expect(done.state.vacancies).to.equal(0)
      expect(done.state.slots.filter(x => x.status === 'assigned').map(x => x.miner)).to.deep.equal([D, E].map(m => m.toLowerCase()))
    })

    it('a precommit timeout reassigns; a late precommit is refused', () => {
      const s = run(inPhase('acked'), [[{ type: 'precommit', miner: A, commitment: 'ca' }, T0 + 3], [{ type: 'precommit', miner: B, commitment: 'cb' }, T0 + 3]]).state
      const due = T0 + 2 + PRECOMMIT_TIMEOUT_MS
      const r = tick(s, due)
      expect(types(r.effects)).to.deep.equal(['penalise', 'reassign'])
      expect(r.effects[0]).to.deep.include({ miner: C, reason: 'precommit-timeout' })
      throwsNamed(() => transition(r.state, { type: 'precommit', miner: C, commitment: 'cc' }, due), 'IllegalTransitionError')
    })

    it('an unfilled vacancy is abandoned and the task goes on with the miners it has', () => {
      const s = run(inPhase('acked'), [[{ type: 'precommit', miner: A, commitment: 'ca' }, T0 + 3], [{ type: 'precommit', miner: B, commitment: 'cb' }, T0 + 3]]).state
      const due = T0 + 2 + PRECOMMIT_TIMEOUT_MS
      const r = tick(s, due + ASSIGN_TIMEOUT_MS)
      expect(r.effects).to.deep.equal([
        { type: 'penalise', miner: C, reason: 'precommit-timeout' },
        { type: 'reassign', miner: C, round: 1, reason: 'precommit-timeout' },
        { type: 'reassign-abandoned', count: 1 },
        { type: 'reveal-window-open', miners: [a, B] }
      ])
      expect(r.state.phaseDeadlineMs).to.equal(due + ASSIGN_TIMEOUT_MS + REVEAL_TIMEOUT_MS)
    })

    it('when the reassignment budget is spent and nobody precommitted, the task expires', () => {
      const s = createTask(init({ redundancy: 1, limits: { maxReassignments: 1 } }), T0).state
      let r = transition(s, { type: 'assigned', miners: [A], round: 0 }, T0)
      r = tick(r.state, T0 + ACK_TIMEOUT_MS)
      expect(types(r.effects)).to.deep.equal(['penalise', 'reassign'])
      r = transition(r.state, { type: 'assigned', miners: [B], round: 1 }, T0 + ACK_TIMEOUT_MS + 1)
      r = tick(r.state, T0 + 2 * ACK_TIMEOUT_MS + 1)
      expect(r.effects).to.deep.equal([
        { type: 'penalise', miner: B.toLowerCase(), reason: 'ack-timeout' },
        { type: 'expired', reason: 'insufficient-miners' }
      ])
      expect(r.state.phase).to.equal('expired')
    })

    it('the reveal window closes: silent miners are penalised, the rest are validated', () => {
      const s = run(inPhase('precommitted'), [[{ type: 'reveal', miner: B, outputCid: 'x', matchesCommitment: true }, T0 + 4]]).state
      const r = tick(s, T0 + 3 + REVEAL_TIMEOUT_MS)
      expect(r.effects).to.deep.equal([
        { type: 'penalise', miner: a, reason: 'reveal-timeout' },
        { type: 'penalise', miner: C, reason: 'reveal-timeout' },
        { type: 'validate', miners: [B], attempt: 0 }
      ])
      expect(r.state.slots.map(x => x.status)).to.deep.equal(['missed', 'revealed', 'missed'])
    })

    it('no reveal at all expires the task', () => {
      const r = tick(inPhase('precommitted'), T0 + 3 + REVEAL_TIMEOUT_MS)
      expect(types(r.effects)).to.deep.equal(['penalise', 'penalise', 'penalise', 'expired'])
      expect(r.state.expiredReason).to.equal('insufficient-reveals')
    })

    it('an unassigned task raises assignment-overdue, then expires', () => {
      const s = inPhase('queued')
      const r = tick(s, T0 + ASSIGN_TIMEOUT_MS * (MAX_RETRIES + 1))
      expect(r.effects).to.deep.equal([
        ...Array.from({ length: MAX_RETRIES }, (_, i) => ({ type: 'assignment-overdue', attempt: i + 1 })),
        { type: 'expired', reason: 'unassigned' }
      ])
    })

    it('the task deadline expires a working task', () => {
      const s = transition(createTask(init({ deadlineMs: T0 + 1000 }), T0).state, { type: 'assigned', miners: [A], round: 0 }, T0)
      const r = tick(s.state, T0 + 1000)
      expect(r.effects).to.deep.equal([{ type: 'expired', reason: 'deadline' }])
      expect(r.state.slots[0].deadlineMs).to.equal(null)
    })

    it('the task deadline does not cut a task already in its reveal window', () => {
      let s = createTask(init({ deadlineMs: T0 + 100 }), T0).state
      s = run(s, [[{ type: 'assigned', miners: [A], round: 0 }, T0], [{ type: 'precommit', miner: A, commitment: 'c' }, T0 + 50]]).state
      const r = transition(s, { type: 'reveal', miner: A, outputCid: 'x', matchesCommitment: true }, T0 + 200)
      expect(r.state.phase).to.equal('committed')
    })

    it('validation and settlement are retried, then the task expires', () => {
      const c = tick(inPhase('committed'), T0 + 4 + VALIDATE_TIMEOUT_MS * (MAX_RETRIES + 1))
      expect(types(c.effects)).to.deep.equal([...Array(MAX_RETRIES).fill('validate'), 'expired'])
      expect(c.state.expiredReason).to.equal('validation-timeout')
      const v = tick(inPhase('validated'), T0 + 5 + SETTLE_TIMEOUT_MS * (MAX_RETRIES + 1))
      expect(types(v.effects)).to.deep.equal([...Array(MAX_RETRIES).fill('settle'), 'expired'])
      expect(v.effects[0]).to.deep.equal({ type: 'settle', accepted: [a, B], rejected: [C], attempt: 1 })
    })

    it('a settlement confirmed before the deadline ends the task once', () => {
      const v = inPhase('validated')
      const r = transition(v, { type: 'settled', txHash: '0x1' }, T0 + 5 + SETTLE_TIMEOUT_MS - 1)
      expect(r.state.phase).to.equal('settled')
      expect(tick(r.state, Number.MAX_SAFE_INTEGER).effects).to.deep.equal([])
      throwsNamed(() => transition(r.state, { type: 'settled', txHash: '0x1' }, T0 + 5 + SETTLE_TIMEOUT_MS), 'TaskFinishedError')
    })
  })

  describe('settled on chain (another oracle\'s settlement)', () => {
    for (const phase of ['queued', 'assigned', 'acked', 'precommitted', 'committed', 'validated'] as TaskPhase[]) {
      it(`${phase} + settled-on-chain → settled, with no deadline left`, () => {
        const s = inPhase(phase)
        const r = transition(s, { type: 'settled-on-chain', txHash: '0xbeef' }, s.createdAtMs + 6)
        expect(r.state.phase).to.equal('settled')
        expect(r.state.txHash).to.equal('0xbeef')
        expect(r.state.phaseDeadlineMs).to.equal(null)
        expect(r.effects).to.deep.equal([{ type: 'settled', txHash: '0xbeef' }])
        expect(nextDeadline(r.state)).to.equal(null)
        // the input is not mutated
        expect(s.phase).to.equal(phase)
      })
    }

    it('the chain\'s settlement stands over deadlines that passed here (none fires first)', () => {
      const v = inPhase('validated')
      const late = T0 + 5 + SETTLE_TIMEOUT_MS * (MAX_RETRIES + 2)
      // an ordinary settlement this late finds the task expired by its own clock
      throwsNamed(() => transition(v, { type: 'settled', txHash: '0x1' }, late), 'TaskFinishedError')
      const r = transition(v, { type: 'settled-on-chain', txHash: '0x1' }, late)
      expect(r.state.phase).to.equal('settled')
      expect(types(r.effects)).to.deep.equal(['settled'])
    })

    for (const phase of ['settled', 'expired'] as TaskPhase[]) {
      it(`${phase} + settled-on-chain → TaskFinishedError`, () => {
        throwsNamed(() => transition(inPhase(phase), { type: 'settled-on-chain', txHash: '0x1' }, T0 + 20), 'TaskFinishedError')
      })
    }
  })

  describe('serialisation', () => {
    it('a state survives JSON and the task resumes from it', () => {
      const mid = inPhase('precommitted')
      const restored = deserialiseState(serialiseState(mid))
      expect(restored).to.deep.equal(mid)
      const r = run(restored, [A, B, C].map(m => [{ type: 'reveal', miner: m, outputCid: 'x', matchesCommitment: true }, T0 + 4]))
      expect(r.state.phase).to.equal('committed')
    })

    it('corrupt or foreign states are CorruptStateError', () => {
      const good = JSON.parse(serialiseState(inPhase('acked')))
      for (const bad of ['nope', 'null', JSON.stringify({ ...good, version: 99 }), JSON.stringify({ ...good, phase: 'lost' }),
        JSON.stringify({ ...good, slots: [{ miner: A, status: 'dancing' }] }), JSON.stringify({ ...good, round: '1' })]) {
        throwsNamed(() => deserialiseState(bad), 'CorruptStateError')
      }
    })
  })

  describe('from wire messages', () => {
    it('drives a task from TaskQueued to settlement with the gossip messages', async () => {
      const promptCid = await f.cidBytes('prompt')
      const outputCid = await f.cidBytes('output')
      const queued = f.taskQueued(promptCid, { deadlineMs: BigInt(T0 + 600_000) })
      let { state } = createTask(taskInitFrom(queued), T0)
      expect(state.taskId).to.equal('42')
      expect(state.redundancy).to.equal(3)
      const miners = [f.address(10), f.address(11), f.address(12)]
      const steps: QueueEvent[] = [
        assignedEvent(f.assignment({ miners })),
        ...miners.map(miner => ackEvent(f.ack({ miner }))),
        ...miners.map(miner => precommitEvent(f.precommit({ miner }))),
        ...miners.map(miner => revealEvent(f.reveal(outputCid, { miner }), true))
      ]
      state = run(state, steps.map(e => [e, T0 + 1])).state
      expect(state.phase).to.equal('committed')
      expect(state.slots[0].commitment).to.equal('0x' + '03'.repeat(32))
      expect(state.slots[0].outputCid).to.match(/^baf/)
      const verdict = f.verdict({
        miners: [
          { miner: miners[0], outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0 },
          { miner: miners[1], outcome: MinerVerdict.Outcome.OUTLIER, similarityPpm: 0 },
          { miner: miners[2], outcome: MinerVerdict.Outcome.REJECTED_REPLAY, similarityPpm: 0 }
        ]
      })
      const r = transition(state, verdictEvent(verdict), T0 + 2)
      expect(r.state.accepted).to.deep.equal([state.slots[0].miner])
      expect(r.state.rejected).to.deep.equal([state.slots[1].miner, state.slots[2].miner])
    })
  })

  describe('properties', () => {
    const MINERS = [A, B, C, D, E, '0xaaaa000000000000000000000000000000000006']
    const QUEUE_ERRORS = new Set(['IllegalTransitionError', 'TaskFinishedError', 'UnknownMinerError', 'DuplicateEventError', 'PrematureRevealError', 'InvalidEventError'])
    const RANK: Record<TaskPhase, number> = { queued: 0, assigned: 1, acked: 1, precommitted: 2, committed: 3, validated: 4, settled: 5, expired: 5 }

    const action = fc.oneof(
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('assign' as const), picks: fc.uniqueArray(fc.nat(MINERS.length - 1), { minLength: 1, maxLength: 3 }), bump: fc.nat(2) }) },
      { weight: 8, arbitrary: fc.record({ kind: fc.constantFrom('ack' as const, 'precommit' as const), k: fc.nat(7) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('reveal' as const), k: fc.nat(7), ok: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('verdict' as const), mask: fc.nat(63) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('settled' as const) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), dt: fc.integer({ min: 0, max: 1_500 }) }) }
    )
    type Action = typeof action extends fc.Arbitrary<infer T> ? T : never

    function toEvent (s: TaskState, act: Action): QueueEvent | null {
      const pick = (k: number): string => s.slots.length > 0 ? s.slots[k % s.slots.length].miner : MINERS[k % MINERS.length]
      switch (act.kind) {
        case 'assign': {
          // mostly well-sized assignments (the unit tests cover the malformed ones), sometimes raw
          const fit = s.phase === 'queued' ? s.redundancy : Math.max(1, s.vacancies)
          const picks = act.bump === 2 ? act.picks : act.picks.slice(0, fit)
          return { type: 'assigned', miners: picks.map(i => MINERS[i]), round: s.round + act.bump }
        }
        case 'ack': return { type: 'ack', miner: pick(act.k) }
        case 'precommit': return { type: 'precommit', miner: pick(act.k), commitment: 'c' }
        case 'reveal': return { type: 'reveal', miner: pick(act.k), outputCid: 'o', matchesCommitment: act.ok }
        case 'verdict': {
          const revealed = s.slots.filter(x => x.status === 'revealed').map(x => x.miner)
          return { type: 'verdict', accepted: revealed.filter((_, i) => ((act.mask >> i) & 1) === 1), rejected: revealed.filter((_, i) => ((act.mask >> i) & 1) === 0) }
        }
        case 'settled': return { type: 'settled', txHash: '0x01' }
        default: return null
      }
    }

    it('random event sequences keep every invariant', function () {
      this.timeout(60_000)
      const outcomes = new Map<string, number>()
      fc.assert(fc.property(
        fc.array(action, { minLength: 10, maxLength: 80 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        (actions, redundancy, maxReassignments) => {
          const timeouts = { assignMs: 1_500, ackMs: 1_000, precommitMs: 3_000, revealMs: 1_000, validateMs: 2_000, settleMs: 2_000 }
          let { state, effects: all } = createTask(init({ redundancy, deadlineMs: T0 + 60_000, timeouts, limits: { maxReassignments } }), T0)
          let now = T0
          let rank = 0
          const step = (r: { state: TaskState, effects: QueueEffect[] }): void => {
            if (isTerminal(state)) {
              expect(r.effects, 'a finished task emits nothing more').to.deep.equal([])
            }
            state = r.state
            all = all.concat(r.effects)
            expect(RANK[state.phase], 'phases only move forward').to.be.at.least(rank)
            rank = RANK[state.phase]
          }
          for (const act of actions) {
            const event = toEvent(state, act)
            if (event == null) {
              now += (act as { dt: number }).dt
              step(tick(state, now))
              continue
            }
            try {
              step(transition(state, event, now))
            } catch (err: any) {
              expect(QUEUE_ERRORS.has(err.name), `unexpected ${err.name}: ${err.message}`).to.equal(true)
            }
            expect(deserialiseState(serialiseState(state))).to.deep.equal(state)
          }
          // every task reaches a terminal state once all deadlines pass
          step(tick(state, Number.MAX_SAFE_INTEGER))
          expect(isTerminal(state)).to.equal(true)
          expect(nextDeadline(state)).to.equal(null)
          const outcome = state.phase === 'settled' ? 'settled' : `expired:${state.expiredReason}`
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
          if (all.some(e => e.type === 'reassign')) {
            outcomes.set('reassigned', (outcomes.get('reassigned') ?? 0) + 1)
          }

          // settled and reassigned never together
          const t = types(all)
          if (state.phase === 'settled') {
            expect(state.vacancies).to.equal(0)
            expect(t).not.to.include('expired')
            expect(t.lastIndexOf('reassign')).to.be.lessThan(t.indexOf('reveal-window-open'))
            expect(state.slots.some(x => x.deadlineMs != null)).to.equal(false)
          }
          // effects are consistent
          const terminal = t.filter(x => x === 'settled' || x === 'expired')
          expect(terminal, 'exactly one terminal effect, last').to.have.length(1)
          expect(t[t.length - 1]).to.equal(terminal[0])
          expect(terminal[0]).to.equal(state.phase)
          if (state.phase === 'expired') {
            expect(all[all.length - 1]).to.deep.equal({ type: 'expired', reason: state.expiredReason })
          }
          expect(t.filter(x => x === 'reveal-window-open').length).to.be.at.most(1)
          expect(t.filter(x => x === 'reassign').length).to.be.at.most(maxReassignments)
          expect(t.filter(x => x === 'reassign').length).to.equal(state.reassignments)
          const firstSettle = t.indexOf('settle')
          if (firstSettle !== -1) {
            expect(t.indexOf('validate')).to.be.within(0, firstSettle)
            expect(t.slice(firstSettle).some(x => x === 'reassign' || x === 'reveal-window-open')).to.equal(false)
          }
          for (const e of all) {
            if (e.type === 'reassign') {
              expect(all).to.deep.include({ type: 'penalise', miner: e.miner, reason: e.reason })
              expect(state.slots.find(x => x.miner === e.miner)?.status).to.equal('reassigned')
            }
            if (e.type === 'slash') {
              expect(state.slots.find(x => x.miner === e.miner)?.status).to.equal('faulty')
            }
          }
          // per-miner sub-states match the task's outcome
          if (state.phase === 'settled') {
            expect([...state.accepted, ...state.rejected].every(m => state.slots.find(x => x.miner === m)?.status === 'revealed')).to.equal(true)
          }
        }
      ), { numRuns: 500 })
      // the generator must reach the interesting paths, or the properties prove little
      for (const outcome of ['settled', 'reassigned', 'expired:insufficient-miners', 'expired:insufficient-reveals', 'expired:unassigned']) {
        expect(outcomes.get(outcome) ?? 0, `${outcome} in ${JSON.stringify([...outcomes])}`).to.be.greaterThan(0)
      }
    })
  })
})
