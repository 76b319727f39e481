import { expect } from 'aegir/chai'
import { MinerVerdict } from '../../protocols/messages/index.ts'
import { DELIVERY_MIN_TASKS, DELIVERY_WINDOW_TASKS, DeliveryBook } from '../../protocols/pool/delivery.ts'
import { PoolView } from '../../protocols/pool/view.ts'
import {
  FAST_MIN_TOKENS_PER_SEC,
  SLA_CLASSES,
  emptyingFilter,
  minerWeight,
  routedDraw,
  routedDrawAllowed,
  routedDrawHolds,
  selectionSeed,
  slaFor
} from '../../protocols/selection/index.ts'
import { heartbeat, address } from './fixtures.ts'
import type { MinerRecord } from '../../protocols/selection/index.ts'
import type { PeerId } from '@libp2p/interface'

function record (i: number, over: Partial<MinerRecord> = {}): MinerRecord {
  return { id: `m${i}`, models: ['tiny'], level: 1, reputation: 5000, tokensPerSec: 20, firstTokenMs: 5, healthy: true, reserved: false, ...over }
}

const seedOf = (n: number): Uint8Array => selectionSeed(new Uint8Array(32).fill(3), n)

describe('protocols/selection: routing by SLA, speed and load', () => {
  it('maps the hub\'s four SLA classes; an unknown class is served as standard', () => {
    expect(SLA_CLASSES.map(s => s.name)).to.deep.equal(['best-effort', 'standard', 'fast', 'gpu'])
    expect(slaFor(1).filter).to.deep.equal({})
    expect(slaFor(2).filter.minTokensPerSec).to.equal(FAST_MIN_TOKENS_PER_SEC)
    expect(slaFor(3).filter.gpuOnly).to.equal(true)
    expect(slaFor(3).policy).to.equal('wait')
    expect(slaFor(9)).to.equal(SLA_CLASSES[1])
  })

  it('a fast SLA draws only miners at its speed; a standard one draws from all', () => {
    const records = [record(0, { tokensPerSec: 200 }), record(1, { tokensPerSec: 10 }), record(2, { tokensPerSec: 150 }), record(3, { tokensPerSec: 8 })]
    const seen = new Set<string>()
    const seenStandard = new Set<string>()
    for (let t = 0; t < 200; t++) {
      const fast = routedDraw(records, { model: 'tiny', sla: slaFor(2), seed: seedOf(t), count: 1 })
      expect(fast.slaRelaxed).to.equal(false)
      fast.miners.forEach(m => seen.add(m))
      routedDraw(records, { model: 'tiny', sla: slaFor(1), seed: seedOf(t), count: 1 }).miners.forEach(m => seenStandard.add(m))
    }
    expect([...seen].sort()).to.deep.equal(['m0', 'm2'])
    expect([...seenStandard].sort()).to.deep.equal(['m0', 'm1', 'm2', 'm3'])
  })

  it('fast falls back to every miner and says so when too few meet it', () => {
    const records = [record(0, { tokensPerSec: 200 }), record(1, { tokensPerSec: 10 }), record(2, { tokensPerSec: 9 })]
    const r = routedDraw(records, { model: 'tiny', sla: slaFor(2), seed: seedOf(1), count: 2 })
    expect(r.slaRelaxed).to.equal(true)
    expect(r.miners).to.have.length(2)
  })

  it('a GPU SLA nobody meets throws NoEligibleMinerError naming the gpu filter', () => {
    const records = [record(0, { tokensPerSec: 500 }), record(1, { tokensPerSec: 500 })]
    const err = (() => { try { routedDraw(records, { model: 'tiny', sla: slaFor(3), seed: seedOf(1), count: 1 }) } catch (e: any) { return e } })()
    expect(err?.name).to.equal('NoEligibleMinerError')
    expect(err.filter).to.equal('gpu')
    expect(err.needed).to.equal(1)
    expect(err.eligible).to.equal(0)
    // GPU miners of level 0 get past the gpu filter and are stopped by the level one
    expect(emptyingFilter(records.map(r => ({ ...r, gpu: true, level: 0 })), { model: 'tiny', ...slaFor(3).filter }, 1).filter).to.equal('level')
    expect(emptyingFilter(records.map(r => ({ ...r, gpu: true, firstTokenMs: 5000 })), { model: 'tiny', ...slaFor(3).filter }, 1).filter).to.equal('first-token')
    expect(emptyingFilter(records.map(r => ({ ...r, gpu: true })), { model: 'tiny', ...slaFor(3).filter }, 1).filter).to.equal(undefined)
    expect(emptyingFilter(records, { model: 'other' }, 1).filter).to.equal('model')
  })

  it('skips a busy miner while others can fill the draw, and takes it when they cannot', () => {
    const records = [record(0, { loadPermille: 1000 }), record(1), record(2)]
    for (let t = 0; t < 100; t++) {
      const r = routedDraw(records, { model: 'tiny', sla: slaFor(1), seed: seedOf(t), count: 2 })
      expect(r.miners).to.not.include('m0')
      expect(r.busyAllowed).to.equal(false)
    }
    const all = routedDraw(records, { model: 'tiny', sla: slaFor(1), seed: seedOf(1), count: 3 })
    expect(all.busyAllowed).to.equal(true)
    expect([...all.miners].sort()).to.deep.equal(['m0', 'm1', 'm2'])
  })

  it('weights a loaded miner down, to half at full load', () => {
    expect(minerWeight(5000, 20, 1000) * 2).to.be.closeTo(minerWeight(5000, 20, 0), 2)
    expect(minerWeight(5000, 20, 500)).to.be.lessThan(minerWeight(5000, 20, 0))
  })

  it('a follower holding the same records verifies the draw; a swapped miner fails', () => {
    const records = [record(0, { tokensPerSec: 200 }), record(1, { tokensPerSec: 60 }), record(2, { tokensPerSec: 150 }), record(3, { tokensPerSec: 8 })]
    const req = { model: 'tiny', sla: slaFor(2), seed: seedOf(5), count: 2 }
    const drawn = routedDraw(records, req).miners
    expect(routedDrawHolds(records, req, drawn)).to.equal(true)
    expect(routedDrawHolds(records, req, [drawn[0], 'm3'])).to.equal(false)
  })

  it('a draw made from a later pool is checked as allowed: live, free, distinct, meeting the SLA', () => {
    const records = [record(0, { tokensPerSec: 200 }), record(1, { tokensPerSec: 10 }), record(2, { tokensPerSec: 150, reserved: true }), record(3, { healthy: false })]
    const req = { model: 'tiny', sla: slaFor(3), seed: seedOf(1), count: 2 }
    const gpu = records.map(r => ({ ...r, gpu: true }))
    expect(routedDrawAllowed(gpu, req, ['m0', 'm1'])).to.equal(false)
    expect(routedDrawAllowed(gpu.map(r => ({ ...r, tokensPerSec: 500 })), req, ['m0', 'm1'])).to.equal(true)
    expect(routedDrawAllowed(gpu.map(r => ({ ...r, tokensPerSec: 500 })), req, ['m0', 'm0'])).to.equal(false)
    expect(routedDrawAllowed(gpu.map(r => ({ ...r, tokensPerSec: 500 })), req, ['m0', 'm2'])).to.equal(false)
    expect(routedDrawAllowed(gpu.map(r => ({ ...r, tokensPerSec: 500 })), req, ['m0', 'm3'])).to.equal(false)
    // a fallback SLA allows any live miner of the model
    expect(routedDrawAllowed(records, { ...req, sla: slaFor(2) }, ['m0', 'm1'])).to.equal(true)
  })

  describe('delivered speed (protocols/pool/delivery.ts)', () => {
    it('replaces a claim once DELIVERY_MIN_TASKS measurements of settled tasks are in', () => {
      const book = new DeliveryBook()
      book.add('0xAA', 1n, 20, 1000)
      expect(book.tokensPerSec('0xaa')).to.equal(undefined)
      book.add('0xaa', 2n, 20, 1000)
      book.add('0xaa', 2n, 2000, 1)
      expect(DELIVERY_MIN_TASKS).to.equal(2)
      expect(book.tokensPerSec('0xaa')).to.equal(20)
      // a draw anchored at a block counts only tasks settled before it
      expect(book.tokensPerSec('0xaa', 100n)).to.equal(undefined)
      book.settle(1n, 50n)
      book.settle(2n, 100n)
      expect(book.tokensPerSec('0xaa', 100n)).to.equal(undefined)
      expect(book.tokensPerSec('0xaa', 101n)).to.equal(20)
    })

    it('keeps the latest DELIVERY_WINDOW_TASKS tasks, whatever order they came in', () => {
      const a = new DeliveryBook()
      const b = new DeliveryBook()
      const samples = Array.from({ length: 20 }, (_, i) => ({ id: BigInt(i + 1), tokens: 10 + i, ms: 100 * (i + 1) }))
      samples.forEach(s => { a.add('0x01', s.id, s.tokens, s.ms) })
      ;[...samples].reverse().forEach(s => { b.add('0x01', s.id, s.tokens, s.ms) })
      const latest = samples.slice(-DELIVERY_WINDOW_TASKS)
      const expected = latest.reduce((n, s) => n + s.tokens, 0) / (latest.reduce((n, s) => n + s.ms, 0) / 1000)
      expect(a.tokensPerSec('0x01')).to.be.closeTo(expected, 1e-9)
      expect(b.tokensPerSec('0x01')).to.be.closeTo(expected, 1e-9)
    })

    it('a miner claiming 10× its delivered speed is drawn at the delivered one', () => {
      const view = new PoolView(1000)
      const liar = address(20)
      const peer = { toString: () => 'peer' } as unknown as PeerId
      view.onHeartbeat(heartbeat({ node: liar, models: ['tiny'], tokensPerSecondMilli: 300_000, timestampMs: BigInt(Date.now()) }), peer)
      const addr = view.list()[0].address
      expect(view.records(1n)[0].tokensPerSec).to.equal(300)
      view.delivery.addVerdict({ taskId: 1n, miners: [{ miner: liar, outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0, deliveredTokens: 30, deliveredMs: 1000 }] })
      view.delivery.addVerdict({ taskId: 2n, miners: [{ miner: liar, outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0, deliveredTokens: 30, deliveredMs: 1000 }] })
      expect(view.records(1n)[0].tokensPerSec).to.equal(30)
      expect(emptyingFilter(view.records(1n), { model: 'tiny', ...slaFor(2).filter }, 1).filter).to.equal('tokens-per-sec')
      expect(view.delivery.tokensPerSec(addr)).to.equal(30)
    })
  })
})
