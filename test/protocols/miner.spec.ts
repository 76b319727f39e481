/**
 * The miner's work machine (protocols/miner/machine.ts): every transition
 * with the effects it asks for, every event a phase cannot take rejected by
 * name, inputs never mutated, and a restart resuming from the stored state.
 */
import { expect } from 'aegir/chai'
import { Decline } from '../../protocols/messages/index.ts'
import { assignmentSeen, commitmentOf, initialWork, isAcked, isRefusing, isSpeculative, step } from '../../protocols/miner/machine.ts'
import type { MinerCommitment, MinerWorkEvent, MinerWorkPhase, MinerWorkState, NotRunnable } from '../../protocols/miner/machine.ts'

const cause: NotRunnable = { reason: Decline.Reason.CONTEXT_OVERFLOW, message: 'too long', promptTokens: 900, contextTokens: 512 }
const commitment: MinerCommitment = { outputCid: 'bafy', salt: '0x01', commitment: '0x02', signature: '0x03', tokens: 7 }

/** One state of each phase (and the variants that change what an event does). */
const states: Record<string, MinerWorkState> = {
  idle: { phase: 'idle', assignmentSeen: false },
  idleSeen: { phase: 'idle', assignmentSeen: true },
  speculating: { phase: 'speculating' },
  refused: { phase: 'refused' },
  working: { phase: 'working', acked: false },
  workingAcked: { phase: 'working', acked: true },
  unrunnable: { phase: 'unrunnable', cause, acked: false, speculative: false, seen: true, declinedRound: null },
  unrunnableSpeculative: { phase: 'unrunnable', cause, acked: false, speculative: true, seen: false, declinedRound: null },
  committed: { phase: 'committed', commitment, acked: true },
  revealed: { phase: 'revealed', commitment }
}

const events: Record<string, MinerWorkEvent> = {
  speculate: { type: 'speculate' },
  'not-assigned': { type: 'not-assigned' },
  'assignment-seen': { type: 'assignment-seen' },
  refuse: { type: 'refuse' },
  accept: { type: 'accept' },
  acked: { type: 'acked' },
  'not-runnable': { type: 'not-runnable', cause },
  declined: { type: 'declined', round: 0 },
  committed: { type: 'committed', commitment },
  'reveal-window': { type: 'reveal-window' },
  revealed: { type: 'revealed' },
  restartAcked: { type: 'restart', slot: 'acked' },
  restartPrecommitted: { type: 'restart', slot: 'precommitted' }
}

/** state name → event name → [next phase, effect types], or the error's name */
const table: Record<string, Record<string, [MinerWorkPhase, string[]] | string>> = {
  idle: {
    speculate: ['speculating', ['start-work']],
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['idle', ['wake']],
    refuse: ['refused', ['wake']],
    accept: ['working', ['start-work', 'wake']],
    acked: 'IllegalMinerEventError',
    'not-runnable': ['unrunnable', ['decline']],
    declined: 'IllegalMinerEventError',
    committed: 'IllegalMinerEventError',
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['idle', []]
  },
  speculating: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': ['idle', ['drop-work', 'wake']],
    'assignment-seen': ['idle', ['drop-work', 'wake']],
    refuse: ['refused', ['drop-work', 'wake']],
    accept: ['working', ['confirm-work', 'wake']],
    acked: 'IllegalMinerEventError',
    'not-runnable': ['unrunnable', ['decline']],
    declined: 'IllegalMinerEventError',
    committed: 'IllegalMinerEventError',
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['speculating', []]
  },
  refused: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['refused', ['wake']],
    refuse: ['refused', ['wake']],
    accept: ['working', ['start-work', 'wake']],
    acked: 'IllegalMinerEventError',
    'not-runnable': ['unrunnable', ['decline']],
    declined: 'IllegalMinerEventError',
    committed: 'IllegalMinerEventError',
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['refused', []]
  },
  working: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['working', ['wake']],
    refuse: ['refused', ['wake']],
    accept: ['working', ['start-work', 'wake']],
    acked: ['working', ['wake']],
    'not-runnable': ['unrunnable', ['decline']],
    declined: 'IllegalMinerEventError',
    committed: ['committed', ['persist']],
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['working', []]
  },
  unrunnable: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['unrunnable', ['wake']],
    refuse: ['unrunnable', ['wake']],
    accept: ['unrunnable', ['decline']],
    acked: ['unrunnable', ['wake']],
    'not-runnable': ['unrunnable', ['decline']],
    declined: ['unrunnable', ['wake']],
    committed: 'IllegalMinerEventError',
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['unrunnable', []]
  },
  unrunnableSpeculative: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': ['unrunnable', ['drop-work', 'wake']],
    'assignment-seen': ['unrunnable', ['drop-work', 'wake']],
    refuse: ['unrunnable', ['drop-work', 'wake']],
    accept: ['unrunnable', ['drop-work', 'decline']],
    acked: ['unrunnable', ['wake']],
    'not-runnable': ['unrunnable', ['decline']],
    declined: ['unrunnable', ['wake']],
    committed: 'IllegalMinerEventError',
    'reveal-window': 'IllegalMinerEventError',
    revealed: 'IllegalMinerEventError',
    restartAcked: ['working', ['start-work']],
    restartPrecommitted: ['unrunnable', []]
  },
  committed: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['committed', ['wake']],
    refuse: ['refused', ['wake']],
    accept: ['working', ['start-work', 'wake']],
    acked: ['committed', ['wake']],
    'not-runnable': 'IllegalMinerEventError',
    declined: 'IllegalMinerEventError',
    committed: 'IllegalMinerEventError',
    'reveal-window': ['committed', ['reveal']],
    revealed: ['revealed', ['persist']],
    restartAcked: ['committed', ['resend-precommit']],
    restartPrecommitted: ['committed', ['resend-precommit']]
  },
  revealed: {
    speculate: 'IllegalMinerEventError',
    'not-assigned': 'IllegalMinerEventError',
    'assignment-seen': ['revealed', ['wake']],
    refuse: ['refused', ['wake']],
    accept: ['working', ['start-work', 'wake']],
    acked: 'IllegalMinerEventError',
    'not-runnable': 'IllegalMinerEventError',
    declined: 'IllegalMinerEventError',
    committed: 'IllegalMinerEventError',
    'reveal-window': ['revealed', []],
    revealed: 'IllegalMinerEventError',
    restartAcked: ['committed', ['resend-precommit', 'reveal']],
    restartPrecommitted: ['committed', ['resend-precommit', 'reveal']]
  }
}
table.idleSeen = table.idle
table.workingAcked = table.working

function errorName (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err: any) {
    return err.name
  }
  return undefined
}

describe('miner work machine', function () {
  describe('every phase and event', function () {
    for (const [stateName, state] of Object.entries(states)) {
      for (const [eventName, event] of Object.entries(events)) {
        const expected = table[stateName][eventName]
        it(`${stateName} + ${eventName} → ${typeof expected === 'string' ? expected : `${expected[0]} [${expected[1].join(', ')}]`}`, function () {
          const before = structuredClone(state)
          if (typeof expected === 'string') {
            expect(errorName(() => step(state, event))).to.equal(expected)
          } else {
            const next = step(state, event)
            expect(next.state.phase).to.equal(expected[0])
            expect(next.effects.map(e => e.type)).to.deep.equal(expected[1])
          }
          // pure: the state given is never changed
          expect(state).to.deep.equal(before)
        })
      }
    }
  })

  it('a new task is idle, no assignment seen, nothing acked, refused or committed', function () {
    const s = initialWork()
    expect(s).to.deep.equal({ phase: 'idle', assignmentSeen: false })
    expect([assignmentSeen(s), isAcked(s), isRefusing(s), isSpeculative(s), commitmentOf(s)]).to.deep.equal([false, false, false, false, undefined])
  })

  it('an honest task from speculation to reveal: streams open at the ack, the commitment is kept', function () {
    const start = step(initialWork(), { type: 'speculate' })
    expect(start.effects).to.deep.equal([{ type: 'start-work', speculative: true }])
    expect(isSpeculative(start.state)).to.equal(true)
    const accepted = step(start.state, { type: 'accept' }).state
    expect([isSpeculative(accepted), isAcked(accepted), assignmentSeen(accepted)]).to.deep.equal([false, false, true])
    const acked = step(accepted, { type: 'acked' }).state
    expect(isAcked(acked)).to.equal(true)
    const committed = step(acked, { type: 'committed', commitment }).state
    expect(commitmentOf(committed)).to.deep.equal(commitment)
    expect(isAcked(committed)).to.equal(true)
    const revealed = step(committed, { type: 'revealed' }).state
    expect(revealed).to.deep.equal({ phase: 'revealed', commitment })
    expect(step(revealed, { type: 'reveal-window' }).effects).to.deep.equal([])
  })

  it('an unrunnable task is declined once per round, and refuses streams once an assignment is seen', function () {
    const found = step(step(initialWork(), { type: 'speculate' }).state, { type: 'not-runnable', cause })
    expect(found.effects).to.deep.equal([{ type: 'decline', cause }])
    expect([isSpeculative(found.state), isRefusing(found.state)]).to.deep.equal([true, false])
    const assigned = step(found.state, { type: 'accept' })
    expect(assigned.effects).to.deep.equal([{ type: 'drop-work' }, { type: 'decline', cause }])
    expect([isSpeculative(assigned.state), isRefusing(assigned.state)]).to.deep.equal([false, true])
    const declined = step(assigned.state, { type: 'declined', round: 0 }).state
    expect(errorName(() => step(declined, { type: 'declined', round: 0 }))).to.equal('AlreadyDeclinedError')
    expect(step(declined, { type: 'declined', round: 1 }).state).to.include({ declinedRound: 1 })
  })

  it('an unrunnable task found after the ack keeps its ack', function () {
    const s = step({ phase: 'working', acked: true }, { type: 'not-runnable', cause }).state
    expect(isAcked(s)).to.equal(true)
  })

  it('a refused assignment refuses streams; an assignment naming others leaves the task idle and seen', function () {
    expect(isRefusing(step(initialWork(), { type: 'refuse' }).state)).to.equal(true)
    const seen = step(step(initialWork(), { type: 'speculate' }).state, { type: 'assignment-seen' }).state
    expect(seen).to.deep.equal({ phase: 'idle', assignmentSeen: true })
    expect([assignmentSeen(seen), isRefusing(seen)]).to.deep.equal([true, false])
  })

  it('a restart resumes from the stored state: work again, or the precommit (and reveal) sent again', function () {
    expect(step({ phase: 'working', acked: false }, { type: 'restart', slot: 'acked' })).to.deep.equal({ state: { phase: 'working', acked: true }, effects: [{ type: 'start-work', speculative: false }] })
    expect(step({ phase: 'committed', commitment, acked: false }, { type: 'restart', slot: 'acked' }).effects).to.deep.equal([{ type: 'resend-precommit', toQueue: true }])
    expect(step({ phase: 'committed', commitment, acked: true }, { type: 'restart', slot: 'precommitted' }).effects).to.deep.equal([{ type: 'resend-precommit', toQueue: false }])
    const again = step({ phase: 'revealed', commitment }, { type: 'restart', slot: 'precommitted' })
    expect(again.state).to.deep.equal({ phase: 'committed', commitment, acked: true })
    expect(again.effects).to.deep.equal([{ type: 'resend-precommit', toQueue: false }, { type: 'reveal' }])
  })

  it('the errors say what was refused', function () {
    let thrown: any
    try {
      step(initialWork(), { type: 'revealed' })
    } catch (err) {
      thrown = err
    }
    expect(thrown).to.include({ name: 'IllegalMinerEventError', phase: 'idle', event: 'revealed' })
  })
})
