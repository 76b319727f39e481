import { expect } from 'aegir/chai'
import {
  allDishonestQuorum,
  binomialDetection,
  hypergeometricDetection,
  hypergeometricPmf,
  isAuditDue,
  isSampled,
  majorityDishonestQuorum,
  normalQuantile,
  sampleSize
} from '../../protocols/sampling/index.ts'

const beacon = new Uint8Array(32).fill(3)

describe('protocols/sampling', () => {
  it('gives Cortensor\'s 9,604 for 95 % ± 1 % (and the finite-population size for 10^6 nodes)', () => {
    expect(sampleSize()).to.equal(9604)
    expect(sampleSize({ population: 1_000_000 })).to.equal(9513)
    expect(sampleSize({ confidence: 0.99, margin: 0.01 })).to.equal(16590)
    expect(normalQuantile(0.975)).to.be.closeTo(1.959964, 1e-6)
    expect(() => sampleSize({ margin: 0 })).to.throw(RangeError)
  })

  it('samples at the requested rate, deterministically, from the beacon', () => {
    const n = 20_000
    let hits = 0
    for (let t = 0; t < n; t++) {
      const s = isSampled(beacon, t, 0.05)
      if (s) {
        hits++
      }
      if (t < 200) {
        expect(isSampled(beacon, t, 0.05)).to.equal(s)
      }
    }
    const sd = Math.sqrt(n * 0.05 * 0.95)
    expect(Math.abs(hits - n * 0.05)).to.be.below(4 * sd)
    expect(isSampled(beacon, 1, 0)).to.equal(false)
    expect(isSampled(beacon, 1, 1)).to.equal(true)
    expect(() => isSampled(beacon, 1, 1.5)).to.throw().with.property('name', 'InvalidSampleRateError')
    // a different beacon gives a different (independent) set of sampled tasks
    let same = 0
    const other = new Uint8Array(32).fill(4)
    for (let t = 0; t < 2000; t++) {
      if (isSampled(beacon, t, 0.5) === isSampled(other, t, 0.5)) {
        same++
      }
    }
    expect(same).to.be.within(900, 1100)
  })

  it('audits a settled task only when its settlement block samples it and validation did not replay it', () => {
    const settled = new Uint8Array(32).fill(7)
    let due = 0
    for (let t = 0; t < 1000; t++) {
      expect(isAuditDue(settled, t, 1, true)).to.equal(false)
      if (isAuditDue(settled, t, 0.1, false)) {
        due++
        expect(isSampled(settled, t, 0.1)).to.equal(true)
      }
    }
    expect(due).to.be.within(60, 140)
    expect(isAuditDue(settled, 5, 1, false)).to.equal(true)
    expect(isAuditDue(settled, 5, 0, false)).to.equal(false)
  })

  it('closed forms: quorum escape of 1/3 malicious is ≈4.1e-3 at N=5 and ≈1.7e-5 at N=10', () => {
    expect(allDishonestQuorum(Infinity, 1 / 3, 5)).to.be.closeTo(4.115e-3, 1e-6)
    expect(allDishonestQuorum(Infinity, 1 / 3, 10)).to.be.closeTo(1.694e-5, 1e-8)
    // without replacement from a large pool it is essentially the same
    expect(allDishonestQuorum(3_000_000, 1_000_000, 5)).to.be.closeTo(4.115e-3, 1e-5)
    expect(allDishonestQuorum(10, 2, 3)).to.equal(0)
    expect(majorityDishonestQuorum(1 / 3, 3)).to.be.closeTo(7 / 27, 1e-12)
  })

  it('closed forms: hypergeometric and binomial detection', () => {
    // 1 bad in 10, sample 3: P(caught) = 3/10
    expect(hypergeometricDetection(10, 1, 3)).to.be.closeTo(0.3, 1e-9)
    expect(hypergeometricDetection(10, 5, 6)).to.equal(1)
    let total = 0
    for (let k = 0; k <= 5; k++) {
      total += hypergeometricPmf(50, 10, 5, k)
    }
    expect(total).to.be.closeTo(1, 1e-9)
    // Cortensor's reasoning: 9,604 checks/day among 10^6 nodes with 1 % bad finds one almost surely
    expect(hypergeometricDetection(1_000_000, 10_000, 9604)).to.be.above(0.999999)
    expect(binomialDetection(0.05 * 0.5, 100)).to.be.closeTo(1 - Math.pow(0.975, 100), 1e-12)
  })
})
