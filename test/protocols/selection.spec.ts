import { expect } from 'aegir/chai'
import {
  MinerPool,
  minerWeight,
  poolFromRecords,
  Prng,
  selectionSeed,
  selectMiners,
  verifySelection
} from '../../protocols/selection/index.ts'
import type { MinerRecord } from '../../protocols/selection/index.ts'

const chainValue = new Uint8Array(32).fill(7)

function record (i: number, over: Partial<MinerRecord> = {}): MinerRecord {
  return { id: `m${i}`, models: ['tiny'], level: 1, reputation: 5000, tokensPerSec: 20, healthy: true, reserved: false, ...over }
}

describe('protocols/selection', () => {
  it('derives the same seed for the same inputs and different seeds otherwise', () => {
    const a = selectionSeed(chainValue, 42)
    expect(selectionSeed(chainValue, 42n)).to.deep.equal(a)
    expect(selectionSeed(chainValue, 43)).to.not.deep.equal(a)
    expect(selectionSeed(new Uint8Array(32).fill(8), 42)).to.not.deep.equal(a)
    expect(selectionSeed(chainValue, 'task-42')).to.have.length(32)
  })

  it('rejects unusable seeds and task ids by name', () => {
    expect(() => selectionSeed(new Uint8Array(0), 1)).to.throw().with.property('name', 'InvalidSeedError')
    expect(() => selectionSeed(chainValue, -1)).to.throw().with.property('name', 'InvalidSeedError')
    expect(() => new Prng(new Uint8Array(4))).to.throw().with.property('name', 'InvalidSeedError')
  })

  it('PRNG floats are uniform (mean and variance within 4 sigma)', () => {
    const prng = new Prng(selectionSeed(chainValue, 1))
    const n = 200_000
    let sum = 0
    let sq = 0
    let min = 1
    let max = 0
    for (let i = 0; i < n; i++) {
      const x = prng.nextFloat()
      min = Math.min(min, x)
      max = Math.max(max, x)
      sum += x
      sq += x * x
    }
    expect(min).to.be.at.least(0)
    expect(max).to.be.below(1)
    expect(Math.abs(sum / n - 0.5)).to.be.below(4 * Math.sqrt(1 / 12 / n))
    expect(Math.abs(sq / n - sum * sum / n / n - 1 / 12)).to.be.below(0.002)
  })

  it('Fenwick draws find the miner whose interval holds r', () => {
    const pool = new MinerPool([3, 0, 5, 2])
    expect(pool.totalWeight).to.equal(10)
    const owners = Array.from({ length: 10 }, (_, r) => pool.find(r))
    expect(owners).to.deep.equal([0, 0, 0, 2, 2, 2, 2, 2, 3, 3])
    pool.reserve(2)
    expect(pool.totalWeight).to.equal(5)
    expect(Array.from({ length: 5 }, (_, r) => pool.find(r))).to.deep.equal([0, 0, 0, 3, 3])
    pool.setWeight(2, 1) // stays hidden while reserved
    expect(pool.totalWeight).to.equal(5)
    pool.release(2)
    expect(pool.totalWeight).to.equal(6)
    expect(() => new MinerPool([1.5])).to.throw().with.property('name', 'InvalidWeightError')
  })

  it('selects distinct miners, reproducibly, in proportion to weight', () => {
    const weights = [1, 2, 3, 4, 0, 10]
    const pool = new MinerPool(weights)
    const counts = new Array(weights.length).fill(0)
    const trials = 30_000
    for (let t = 0; t < trials; t++) {
      const seed = selectionSeed(chainValue, t)
      const picked = selectMiners(pool, seed, 1)
      counts[picked[0]]++
      expect(selectMiners(pool, seed, 1)[0]).to.equal(picked[0])
    }
    const total = 20
    weights.forEach((w, i) => {
      const p = w / total
      const sd = Math.sqrt(trials * p * (1 - p))
      expect(Math.abs(counts[i] - trials * p)).to.be.at.most(4 * sd + 1e-9)
    })
    for (let t = 0; t < 500; t++) {
      const picked = Array.from(selectMiners(pool, selectionSeed(chainValue, t), 5))
      expect(new Set(picked).size).to.equal(5)
      expect(picked).to.not.include(4)
    }
    expect(pool.totalWeight).to.equal(total)
  })

  it('filters by model, level, speed, health and reservation', () => {
    const records = [
      record(0),
      record(1, { models: ['other'] }),
      record(2, { level: 0 }),
      record(3, { tokensPerSec: 2 }),
      record(4, { healthy: false }),
      record(5, { reserved: true }),
      record(6)
    ]
    const { pool, ids } = poolFromRecords(records, { model: 'tiny', minLevel: 1, minTokensPerSec: 5 })
    for (let t = 0; t < 50; t++) {
      const picked = Array.from(selectMiners(pool, selectionSeed(chainValue, t), 2)).map(i => ids[i]).sort()
      expect(picked).to.deep.equal(['m0', 'm6'])
    }
    expect(() => selectMiners(pool, selectionSeed(chainValue, 1), 3)).to.throw().with.property('name', 'NotEnoughMinersError')
    expect(pool.totalWeight).to.equal(2 * minerWeight(5000, 20))
    expect(() => selectMiners(pool, selectionSeed(chainValue, 1), 0)).to.throw().with.property('name', 'InvalidRedundancyError')
  })

  it('reserve option keeps the chosen miners out of the next selection', () => {
    const pool = new MinerPool(new Array(10).fill(5))
    const a = selectMiners(pool, selectionSeed(chainValue, 1), 3, { reserve: true })
    const b = selectMiners(pool, selectionSeed(chainValue, 2), 7, { reserve: true })
    expect(new Set([...a, ...b]).size).to.equal(10)
    expect(pool.totalWeight).to.equal(0)
  })

  it('weights grow with reputation and speed, bounded', () => {
    expect(minerWeight(0, 100)).to.equal(0)
    expect(minerWeight(10_000, 20)).to.be.above(minerWeight(5_000, 20))
    expect(minerWeight(5_000, 80)).to.equal(2 * minerWeight(5_000, 20))
    expect(minerWeight(5_000, 10_000)).to.equal(minerWeight(5_000, 80))
    expect(minerWeight(1, 1)).to.equal(1)
  })

  it('verifySelection accepts the leader\'s choice and rejects a swapped miner', () => {
    const pool = new MinerPool(Array.from({ length: 1000 }, (_, i) => 1 + (i % 17)))
    const seed = selectionSeed(chainValue, 99)
    const chosen = Array.from(selectMiners(pool, seed, 5)).reverse()
    expect(verifySelection(pool, seed, 5, chosen).ok).to.equal(true)
    const forged = [...chosen]
    forged[0] = (forged[0] + 1) % 1000
    expect(verifySelection(pool, seed, 5, forged).ok).to.equal(false)
    expect(verifySelection(pool, seed, 5, chosen.slice(0, 4)).ok).to.equal(false)
  })
})
