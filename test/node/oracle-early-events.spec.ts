import { expect } from 'aegir/chai'
import { EARLY_EVENTS_PER_TASK, EARLY_EVENT_TASKS } from '../../node/roles/oracle/constants.ts'
import { EarlyEvents } from '../../node/roles/oracle/tasks.ts'

describe('node/roles/oracle/tasks EarlyEvents', () => {
  it('keeps a task\'s events in arrival order and hands them over once', () => {
    const e = new EarlyEvents<number>()
    e.add('7', 1)
    e.add('7', 2)
    e.add('8', 3)
    expect(e.take('7')).to.deep.equal([1, 2])
    expect(e.take('7')).to.deep.equal([])
    expect(e.take('8')).to.deep.equal([3])
  })

  it(`keeps at most ${EARLY_EVENTS_PER_TASK} events per task, the first ones`, () => {
    const e = new EarlyEvents<number>()
    for (let i = 0; i < EARLY_EVENTS_PER_TASK + 10; i++) {
      e.add('1', i)
    }
    const kept = e.take('1')
    expect(kept).to.have.length(EARLY_EVENTS_PER_TASK)
    expect(kept[0]).to.equal(0)
    expect(kept.at(-1)).to.equal(EARLY_EVENTS_PER_TASK - 1)
  })

  it(`keeps the events of the latest ${EARLY_EVENT_TASKS} tasks at least, and of fewer than twice that: the oldest go first`, () => {
    const e = new EarlyEvents<number>()
    const n = EARLY_EVENT_TASKS * 3
    for (let i = 0; i < n; i++) {
      e.add(String(i), i)
    }
    const held: number[] = []
    for (let i = 0; i < n; i++) {
      held.push(...e.take(String(i)))
    }
    // quick-lru keeps two generations of at most EARLY_EVENT_TASKS each
    expect(held.length).to.be.at.least(EARLY_EVENT_TASKS)
    expect(held.length).to.be.below(EARLY_EVENT_TASKS * 2)
    expect(held).to.not.include(0)
    expect(held.slice(-EARLY_EVENT_TASKS)).to.deep.equal(Array.from({ length: EARLY_EVENT_TASKS }, (_, i) => n - EARLY_EVENT_TASKS + i))
  })
})
