import { expect } from 'aegir/chai'
import { Verdict } from '../../protocols/policy/verdicts.ts'
import {
  levelFor,
  nextReputation,
  REPUTATION_INITIAL,
  REPUTATION_MAX,
  REPUTATION_PASS_GAIN
} from '../../protocols/reputation/index.ts'

describe('protocols/reputation', () => {
  it('passes raise the score, fraud drops it, clamped to [0, max]', () => {
    expect(nextReputation(REPUTATION_INITIAL, Verdict.PASS)).to.equal(REPUTATION_INITIAL + REPUTATION_PASS_GAIN)
    expect(nextReputation(REPUTATION_MAX, Verdict.PASS)).to.equal(REPUTATION_MAX)
    expect(nextReputation(REPUTATION_INITIAL, Verdict.OUTLIER)).to.be.below(REPUTATION_INITIAL)
    expect(nextReputation(REPUTATION_INITIAL, Verdict.TIMEOUT)).to.be.below(REPUTATION_INITIAL)
    expect(nextReputation(REPUTATION_INITIAL, Verdict.REPLAY_FAIL)).to.be.below(nextReputation(REPUTATION_INITIAL, Verdict.OUTLIER))
    expect(nextReputation(REPUTATION_MAX, Verdict.COMMIT_MISMATCH)).to.equal(0)
    expect(nextReputation(10, Verdict.REPLAY_FAIL)).to.equal(0)
  })

  it('rejects scores outside the scale by name', () => {
    expect(() => nextReputation(-1, Verdict.PASS)).to.throw().with.property('name', 'InvalidReputationError')
    expect(() => nextReputation(1.5, Verdict.PASS)).to.throw().with.property('name', 'InvalidReputationError')
    expect(() => nextReputation(5000, 9 as any)).to.throw(RangeError)
  })

  it('levels need both score and a history of passes', () => {
    expect(levelFor(REPUTATION_INITIAL, 0)).to.equal(0)
    let score = REPUTATION_INITIAL
    let passes = 0
    while (levelFor(score, passes) < 1) {
      score = nextReputation(score, Verdict.PASS)
      passes++
    }
    expect(passes).to.equal(25)
    expect(levelFor(REPUTATION_MAX, 10)).to.equal(0)
    expect(levelFor(REPUTATION_MAX, 1000)).to.equal(3)
    expect(levelFor(6000, 1000)).to.equal(1)
  })
})
