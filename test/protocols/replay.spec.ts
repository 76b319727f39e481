import { expect } from 'aegir/chai'
import {
  DEFAULT_REPLAY_MAX_LOGIT_GAP, DEFAULT_REPLAY_MAX_NEAR_TIES, DEFAULT_REPLAY_MAX_SAMPLE_Z, DEFAULT_REPLAY_MAX_VIOLATIONS, DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP, DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA
} from '../../node/inference/constants.ts'
import { classifyPosition, judgeReplay, nearTieBudget } from '../../protocols/replay/index.ts'
import type { FinishReason, PositionScore, ReplayPolicy, ReplayVerdict } from '../../protocols/replay/index.ts'

/** The node's default policy, from its measured constants. */
const policy: ReplayPolicy = {
  maxLogitGap: DEFAULT_REPLAY_MAX_LOGIT_GAP,
  nearTieLogitGap: DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP,
  maxNearTies: DEFAULT_REPLAY_MAX_NEAR_TIES,
  nearTieTokensPerExtra: DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA,
  minRelativeProbability: DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  maxSampleZ: DEFAULT_REPLAY_MAX_SAMPLE_Z,
  maxViolations: DEFAULT_REPLAY_MAX_VIOLATIONS,
  maxEvidence: 4
}
const greedy = { temperature: 0 }
const BEST = 9
const CLAIMED = 5

/** A position where the claimed token scores `gap` below the best (gap 0: the claimed token is the best). */
function pos (index: number, gap = 0, rank = 2): PositionScore {
  if (gap === 0) {
    return { index, claimed: BEST, claimedLogit: 10, topTokens: [BEST, CLAIMED], topLogits: [10, 9] }
  }
  // rank 3+: other tokens between the best and the claimed one
  const between = Array.from({ length: rank - 2 }, (_, i) => 100 + i)
  return {
    index,
    claimed: CLAIMED,
    claimedLogit: 10 - gap,
    topTokens: [BEST, ...between, CLAIMED],
    topLogits: [10, ...between.map((_, i) => 10 - gap * (i + 1) / (rank - 1)), 10 - gap]
  }
}

/** An output of `length` positions, all the best token except the given gaps (index → gap). */
function output (length: number, gaps: Record<number, number> = {}, rank = 2): PositionScore[] {
  return Array.from({ length }, (_, i) => pos(i, gaps[i] ?? 0, rank))
}

function judge (positions: PositionScore[], opts: { finishReason?: FinishReason, maxTokens?: number, end?: PositionScore, sampling?: { temperature: number, topK?: number }, policy?: ReplayPolicy } = {}): ReplayVerdict {
  return judgeReplay({
    positions,
    sampling: opts.sampling ?? greedy,
    policy: opts.policy ?? policy,
    claim: { outputLength: positions.length, maxTokens: opts.maxTokens ?? positions.length, finishReason: opts.finishReason ?? 'length' },
    end: opts.end
  })
}

describe('protocols/replay: the verdict rule', () => {
  describe('honest hardware drift (GPU.md, H200 Vulkan; CPU engine settings)', () => {
    // every failing honest position measured on the GPU, each in a 200-token output: rank 2, 0.023–0.039 logits
    for (const gap of [0.023, 0.031, 0.031, 0.039]) {
      it(`passes a 200-token output with one rank-2 near tie of ${gap} logits`, () => {
        const v = judge(output(200, { 117: gap }))
        expect(v.valid).to.equal(true)
        expect(v.reason).to.equal('valid')
        expect(v.nearTies).to.equal(1)
        expect(v.violations).to.equal(0)
        expect(v.maxGap).to.be.closeTo(gap, 1e-12)
        expect(v.evidence).to.deep.equal([{ index: 117, claimed: CLAIMED, expected: BEST, logitGap: v.maxGap, rank: 2, severity: 'near-tie' }])
      })
    }

    it('passes the largest passing GPU gap (0.0156) and the largest CPU drift (0.0122) inside the strict band', () => {
      const v = judge(output(200, { 3: 0.0156, 150: 0.0122 }))
      expect(v.valid).to.equal(true)
      expect(v.nearTies).to.equal(0)
      expect(v.evidence).to.deep.equal([])
      expect(v.maxPassingGap).to.be.closeTo(0.0156, 1e-12)
    })

    it('counts a near tie at the end-of-text position against the same budget', () => {
      const v = judge(output(200, { 10: 0.023, 150: 0.031 }), { finishReason: 'eos', maxTokens: 256, end: pos(200, 0.039) })
      expect(v.valid).to.equal(true)
      expect(v.nearTies).to.equal(3)
      expect(v.nearTieBudget).to.equal(3)
      const over = judge(output(200, { 10: 0.023, 90: 0.031, 150: 0.031 }), { finishReason: 'eos', maxTokens: 256, end: pos(200, 0.039) })
      expect(over.reason).to.equal('near-ties')
    })

    it('passes a rank-3 near tie (three tokens within the band) the same as rank 2', () => {
      expect(judge(output(64, { 5: 0.05 }, 3)).valid).to.equal(true)
    })
  })

  describe('the near-tie budget', () => {
    it('allows DEFAULT_REPLAY_MAX_NEAR_TIES plus one per DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA tokens', () => {
      expect(nearTieBudget(0, policy)).to.equal(2)
      expect(nearTieBudget(127, policy)).to.equal(2)
      expect(nearTieBudget(128, policy)).to.equal(3)
      expect(nearTieBudget(1000, policy)).to.equal(9)
      expect(nearTieBudget(1000, { ...policy, nearTieTokensPerExtra: 0 })).to.equal(2)
    })

    it('fails an output with more near ties than its budget (reason near-ties), with the near ties as evidence', () => {
      const gaps = { 1: 0.05, 20: 0.05, 40: 0.05 }
      expect(judge(output(100, { 1: 0.05, 20: 0.05 })).valid).to.equal(true)
      const v = judge(output(100, gaps))
      expect(v.valid).to.equal(false)
      expect(v.reason).to.equal('near-ties')
      expect(v.nearTies).to.equal(3)
      expect(v.nearTieBudget).to.equal(2)
      expect(v.evidence.map(e => [e.index, e.severity])).to.deep.equal([[1, 'near-tie'], [20, 'near-tie'], [40, 'near-tie']])
    })
  })

  describe('cheats', () => {
    it('fails another model: its first token several logits below the best (token-mismatch)', () => {
      const v = judge(output(128, { 0: 7.5, 1: 21, 2: 0.004 }))
      expect(v.valid).to.equal(false)
      expect(v.reason).to.equal('token-mismatch')
      expect(v.violations).to.equal(2)
      expect(v.evidence[0]).to.deep.equal({ index: 0, claimed: CLAIMED, expected: BEST, logitGap: 7.5, rank: 2, severity: 'outside' })
    })

    it('fails a single position just outside the near-tie band, whatever else passes', () => {
      const v = judge(output(256, { 200: DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP + 0.001 }))
      expect(v.reason).to.equal('token-mismatch')
      expect(v.violations).to.equal(1)
      expect(v.nearTies).to.equal(0)
    })

    it('fails a quantized copy\'s pattern: many small drifts (near-ties) or one larger one (token-mismatch)', () => {
      // measured q8_0 copies: up to 17 positions above 0.02 per output, gaps up to 0.37
      expect(judge(output(128, { 3: 0.03, 10: 0.06, 30: 0.08, 64: 0.04, 90: 0.05 })).reason).to.equal('near-ties')
      expect(judge(output(128, { 40: 0.21 })).reason).to.equal('token-mismatch')
    })

    it('lists the positions outside the band before the near ties in the evidence', () => {
      const v = judge(output(128, { 2: 0.05, 9: 3, 50: 0.04 }))
      expect(v.evidence.map(e => [e.index, e.severity])).to.deep.equal([[9, 'outside'], [2, 'near-tie'], [50, 'near-tie']])
    })

    it('fails a claimed token the validator gave no logit (outside, infinite gap)', () => {
      const v = judge([pos(0), { index: 1, claimed: 77, claimedLogit: -Infinity, topTokens: [BEST], topLogits: [10] }])
      expect(v.reason).to.equal('token-mismatch')
      expect(v.evidence[0].logitGap).to.equal(Infinity)
    })

    it('fails an end of text the model would not produce, and passes one in the band', () => {
      expect(judge(output(10), { finishReason: 'eos', maxTokens: 20, end: pos(10, 2) }).reason).to.equal('eos-mismatch')
      expect(judge(output(10), { finishReason: 'eos', maxTokens: 20 }).reason).to.equal('eos-mismatch')
      expect(judge(output(10), { finishReason: 'eos', maxTokens: 20, end: pos(10, 0.02) }).valid).to.equal(true)
    })

    it('fails truncated, extended and empty outputs on their claim', () => {
      expect(judge(output(10), { maxTokens: 12 }).reason).to.equal('truncated')
      expect(judge(output(10), { finishReason: 'stop', maxTokens: 12 }).reason).to.equal('truncated')
      expect(judge(output(12), { maxTokens: 10 }).reason).to.equal('extended')
      expect(judge([], { maxTokens: 10 }).reason).to.equal('empty')
    })
  })

  describe('sampled tasks', () => {
    it('allows ordinary samples at the task temperature, and keeps top-k', () => {
      const positions = output(2, { 1: 0.5 })
      expect(judge(positions, { sampling: { temperature: 1 } }).valid).to.equal(true)
      expect(judge(positions, { sampling: { temperature: 1, topK: 1 } }).reason).to.equal('token-mismatch')
      // a claimed token just below the k-th one (within the near-tie band) is a near tie, not a fraud
      const v = judge(output(2, { 1: 0.05 }), { sampling: { temperature: 1, topK: 1 } })
      expect(v.valid).to.equal(true)
      expect(v.nearTies).to.equal(1)
    })

    it('classifies positions the same way the verdict counts them', () => {
      expect(classifyPosition(pos(0, 0.01), greedy, policy)).to.equal('pass')
      expect(classifyPosition(pos(0, 0.05), greedy, policy)).to.equal('near-tie')
      expect(classifyPosition(pos(0, 0.5), greedy, policy)).to.equal('outside')
      expect(classifyPosition(pos(0, 0.5), { temperature: 0.8 }, policy)).to.equal('pass')
    })
  })

  it('keeps a strict policy available (no near ties, one violation allowed)', () => {
    const strict = { ...policy, nearTieLogitGap: policy.maxLogitGap, maxNearTies: 0, nearTieTokensPerExtra: 0 }
    expect(judge(output(10, { 4: 0.03 }), { policy: strict }).reason).to.equal('token-mismatch')
    expect(judge(output(10, { 4: 0.03 }), { policy: { ...strict, maxViolations: 1 } }).valid).to.equal(true)
  })

  describe('sampled outputs, judged on the sampler\'s own distribution', () => {
    const sampled = { temperature: 0.8 }
    /** a sampled position: in the sampler's support with this mid-distribution value, or outside it */
    const spos = (index: number, pit: number, inSupport = true, nearCutoff = false): PositionScore => ({
      index, claimed: CLAIMED, claimedLogit: inSupport ? -1 : -Infinity, topTokens: [BEST], topLogits: [0], sample: { inSupport, nearCutoff, pit }
    })
    const judgeSampled = (positions: PositionScore[]): ReplayVerdict => judgeReplay({
      positions, sampling: sampled, policy, claim: { outputLength: positions.length, maxTokens: positions.length, finishReason: 'length' }
    })

    it('passes an output whose tokens the sampler could draw, spread as honest draws are', () => {
      // pit values of honest draws average 1/2
      const v = judgeSampled(Array.from({ length: 60 }, (_, i) => spos(i, ((i * 37) % 60 + 0.5) / 60)))
      expect(v.reason).to.equal('valid')
      expect(v.sampleZ).to.be.closeTo(0, 1e-9)
    })

    it('fails a token the sampler could not have drawn, unless drift moved the cut-off', () => {
      const far = judgeSampled([spos(0, 0.5), spos(1, 0.5, false), spos(2, 0.5)])
      expect(far.reason).to.equal('token-mismatch')
      expect(far.evidence[0]).to.include({ index: 1, severity: 'outside' })
      const drift = judgeSampled([spos(0, 0.5), spos(1, 0.5, false, true), spos(2, 0.5)])
      expect(drift.reason).to.equal('valid')
      expect(drift.nearTies).to.equal(1)
    })

    it('fails an output whose tokens sit too often at the unlikely end of the distribution', () => {
      // every token in the support, but each among the least probable: z = n·0.45 / √(n/12)
      const v = judgeSampled(Array.from({ length: 40 }, (_, i) => spos(i, 0.95)))
      expect(v.sampleZ).to.be.closeTo(40 * 0.45 / Math.sqrt(40 / 12), 1e-9)
      expect(v.reason).to.equal('unlikely')
      expect(v.valid).to.equal(false)
    })
  })
})
