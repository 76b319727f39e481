/**
 * The replay verdict (oracle side), pure and browser-safe: given what a
 * validator's own evaluation of `prompt + claimed output` scored at each
 * position, and the tolerance policy, decide whether the claimed output could
 * have come from the task's model and sampling parameters, with evidence.
 *
 * The node's engine (node/inference/replay.ts) produces the scores with one
 * prefill pass; the simulator feeds synthetic scores through the same code.
 */

/** What the validator's model scored at one output position. */
export interface PositionScore {
  /** index in the output (0 = first generated token) */
  index: number
  /** the token the miner claims it produced here */
  claimed: number
  /** the validator's logit for the claimed token */
  claimedLogit: number
  /** the validator's best tokens here, best first (at least one) */
  topTokens: number[]
  /** their logits, same order */
  topLogits: number[]
  /**
   * Sampled tasks: where the claimed token sits in the validator's own
   * sampling distribution here (the task's temperature, top-k and top-p, as
   * the miner's sampler applies them). Absent for greedy tasks.
   */
  sample?: SampleScore
}

export interface SampleScore {
  /** the claimed token is one the sampler could have drawn */
  inSupport: boolean
  /** not in the support, but its logit is within the near-tie band of the last token the sampler keeps (drift at the cut-off) */
  nearCutoff: boolean
  /**
   * P(a more probable token) + P(claimed) / 2 under the sampler's
   * distribution: its mean is exactly 1/2 and its variance at most 1/12 when
   * the token was drawn from that distribution
   */
  pit: number
}

export interface ReplayPolicy {
  /**
   * The strict band: a claimed token passes outright when its logit is at most
   * this far below the best one (greedy), or below the sampled tolerance.
   */
  maxLogitGap: number
  /**
   * The near-tie band: a position outside the strict band but at most this far
   * below the best logit (greedy) is a near tie, where honest numeric drift
   * between engines (GPU vs CPU, flash attention, KV cache type) flips the
   * choice between two almost equal tokens. Near ties pass up to a budget;
   * anything further below is outside and fails the output. For sampled tasks
   * the band is as wide beyond the sampled tolerance.
   *
   * For greedy tasks the rule looks at the gap only, not at the rank: a
   * claimed token of rank 3 or deeper within the band means three tokens
   * within a tenth of a logit, which drift reorders as easily as two, and a
   * deep rank with a larger gap is already outside.
   */
  nearTieLogitGap: number
  /** near ties allowed in any output */
  maxNearTies: number
  /** one more near tie allowed per this many output tokens (0: the budget does not grow with length) */
  nearTieTokensPerExtra: number
  /** sampled, without a distribution per position: smallest allowed p(claimed)/p(best) at the task's temperature */
  minRelativeProbability: number
  /**
   * sampled: the largest allowed z of the output's positions in the
   * sampler's distribution, Σ(pit − 1/2) ÷ √(n/12); honest sampling gives
   * z ≈ N(0, 1), an output drawn from elsewhere drifts to the unlikely end
   */
  maxSampleZ: number
  /** positions outside the near-tie band allowed before the output is invalid */
  maxViolations: number
  /** evidence entries kept */
  maxEvidence: number
}

/** The task's sampling parameters, as far as the check needs them. */
export interface ReplaySampling {
  /** 0 (or less) = greedy */
  temperature: number
  /** 0 / undefined = no top-k restriction */
  topK?: number
}

export type FinishReason = 'length' | 'eos' | 'stop'

/** What the miner claims about how its output ended. */
export interface ReplayClaim {
  outputLength: number
  maxTokens: number
  finishReason: FinishReason
  /** for `stop`: whether the output text ends with one of the task's stop sequences */
  stopMatched?: boolean
}

export type ReplayReason = 'valid' | 'token-mismatch' | 'near-ties' | 'unlikely' | 'truncated' | 'extended' | 'eos-mismatch' | 'empty'

/** Where a position fell: inside the strict band, in the near-tie band, or outside both. */
export type PositionClass = 'pass' | 'near-tie' | 'outside'

export interface ReplayEvidence {
  index: number
  claimed: number
  /** the validator's best token at that position */
  expected: number
  /** logit(expected) − logit(claimed) */
  logitGap: number
  /**
   * 1-based rank of the claimed token among the fetched tokens (for greedy
   * tasks only the best and the claimed token are fetched, so any claimed
   * token that is not the best is rank 2)
   */
  rank: number
  /** a near tie (counted against the budget) or outside the near-tie band */
  severity: Exclude<PositionClass, 'pass'>
}

export interface ReplayVerdict {
  valid: boolean
  reason: ReplayReason
  /** positions scored */
  checked: number
  /** positions outside the near-tie band */
  violations: number
  /** positions in the near-tie band (the end position included) */
  nearTies: number
  /** near ties this output was allowed (policy.maxNearTies plus its length's share) */
  nearTieBudget: number
  /** offending positions, those outside the band first, then near ties, in output order (at most policy.maxEvidence) */
  evidence: ReplayEvidence[]
  /** largest logit gap among the positions inside the strict band */
  maxPassingGap: number
  /** largest logit gap among all scored positions, near ties and violations included (how far this output's drift went) */
  maxGap: number
  /** sampled tasks: the z of the positions inside the sampler's support (see ReplayPolicy.maxSampleZ) */
  sampleZ?: number
}

/** Rank of the claimed token: 1 + the fetched tokens scoring more than `slack` above it. */
export function claimedRank (score: PositionScore, slack: number): number {
  let rank = 1
  for (let i = 0; i < score.topTokens.length; i++) {
    if (score.topTokens[i] !== score.claimed && score.topLogits[i] > score.claimedLogit + slack) {
      rank++
    }
  }
  return rank
}

/** The largest logit gap a claimed token may have inside the strict band under these sampling parameters. */
export function allowedLogitGap (sampling: ReplaySampling, policy: ReplayPolicy): number {
  if (sampling.temperature <= 0) {
    return policy.maxLogitGap
  }
  // p(c)/p(best) = exp(-(gap)/T) ≥ minRel  ⇔  gap ≤ T·ln(1/minRel)
  return Math.max(policy.maxLogitGap, sampling.temperature * Math.log(1 / policy.minRelativeProbability))
}

/** Near ties an output of this length may have. */
export function nearTieBudget (outputLength: number, policy: ReplayPolicy): number {
  const extra = policy.nearTieTokensPerExtra > 0 ? Math.floor(outputLength / policy.nearTieTokensPerExtra) : 0
  return policy.maxNearTies + extra
}

/** The logit gap of the claimed token below the best fetched one (0 when it is the best). */
export function logitGap (score: PositionScore): number {
  return Math.max(0, score.topLogits[0] - score.claimedLogit)
}

/** Classify one position: inside the strict band, a near tie, or outside. */
export function classifyPosition (score: PositionScore, sampling: ReplaySampling, policy: ReplayPolicy): PositionClass {
  if (sampling.temperature > 0 && score.sample != null) {
    // the sampler's own support decides: a token it could not have drawn is outside, unless drift moved the cut-off
    return score.sample.inSupport ? 'pass' : score.sample.nearCutoff ? 'near-tie' : 'outside'
  }
  if (!Number.isFinite(score.claimedLogit)) {
    return 'outside'
  }
  const gap = logitGap(score)
  const strict = allowedLogitGap(sampling, policy)
  const nearTieWidth = Math.max(0, policy.nearTieLogitGap - policy.maxLogitGap)
  const topK = sampling.temperature > 0 && sampling.topK != null && sampling.topK > 0 ? sampling.topK : 0
  let cls: PositionClass = 'outside'
  if (gap <= strict) {
    cls = 'pass'
  } else if (gap <= strict + nearTieWidth) {
    cls = 'near-tie'
  }
  if (cls !== 'outside' && topK > 0 && claimedRank(score, policy.maxLogitGap) > topK) {
    // outside the task's top-k: a near tie only if the k-th token is within the near-tie band of it
    cls = claimedRank(score, policy.maxLogitGap + nearTieWidth) > topK ? 'outside' : 'near-tie'
  }
  return cls
}

/** Judge one position: undefined when inside the strict band, else the evidence (a near tie or outside). */
export function judgePosition (score: PositionScore, sampling: ReplaySampling, policy: ReplayPolicy): ReplayEvidence | undefined {
  const cls = classifyPosition(score, sampling, policy)
  if (cls === 'pass') {
    return undefined
  }
  return {
    index: score.index,
    claimed: score.claimed,
    expected: score.topTokens[0],
    logitGap: Number.isFinite(score.claimedLogit) ? logitGap(score) : Infinity,
    rank: claimedRank(score, policy.maxLogitGap),
    severity: cls
  }
}

/**
 * The verdict over a whole output. `positions` are the scores of the claimed
 * output tokens, in order; `end`, for finishReason `eos`, is the score of the
 * end-of-generation token right after the output.
 *
 * The rule: every position inside the strict band passes; a position in the
 * near-tie band is a near tie, allowed up to `nearTieBudget` per output (the
 * end position included); a position outside the near-tie band fails the
 * output (`token-mismatch`, or `eos-mismatch` at the end position), as do
 * more near ties than the budget (`near-ties`).
 */
export function judgeReplay (input: {
  positions: PositionScore[]
  sampling: ReplaySampling
  policy: ReplayPolicy
  claim: ReplayClaim
  end?: PositionScore
}): ReplayVerdict {
  const { positions, sampling, policy, claim } = input
  const outside: ReplayEvidence[] = []
  const ties: ReplayEvidence[] = []
  let violations = 0
  let nearTies = 0
  let maxPassingGap = 0
  let maxGap = 0
  const judge = (p: PositionScore): ReplayEvidence | undefined => {
    const e = judgePosition(p, sampling, policy)
    const gap = Number.isFinite(p.claimedLogit) ? logitGap(p) : Infinity
    maxGap = Math.max(maxGap, gap)
    if (e == null) {
      maxPassingGap = Math.max(maxPassingGap, gap)
    } else if (e.severity === 'near-tie') {
      nearTies++
      ties.push(e)
    } else {
      outside.push(e)
    }
    return e
  }
  let pitSum = 0
  let pitCount = 0
  for (const p of positions) {
    if (judge(p)?.severity === 'outside') {
      violations++
    }
    if (sampling.temperature > 0 && p.sample?.inSupport === true) {
      pitSum += p.sample.pit - 0.5
      pitCount++
    }
  }
  const sampleZ = pitCount > 0 ? pitSum / Math.sqrt(pitCount / 12) : undefined
  const endEvidence = claim.finishReason === 'eos' && input.end != null ? judge(input.end) : undefined
  const budget = nearTieBudget(claim.outputLength, policy)
  const verdict = (reason: ReplayReason): ReplayVerdict => ({
    valid: reason === 'valid',
    reason,
    checked: positions.length,
    violations,
    nearTies,
    nearTieBudget: budget,
    evidence: [...outside, ...ties].slice(0, policy.maxEvidence),
    maxPassingGap,
    maxGap,
    ...(sampleZ != null ? { sampleZ } : {})
  })
  if (claim.outputLength > claim.maxTokens) {
    return verdict('extended')
  }
  if (violations > policy.maxViolations) {
    return verdict('token-mismatch')
  }
  if (sampleZ != null && sampleZ > policy.maxSampleZ) {
    return verdict('unlikely')
  }
  if (claim.outputLength === 0 && claim.finishReason === 'length' && claim.maxTokens > 0) {
    return verdict('empty')
  }
  switch (claim.finishReason) {
    case 'length':
      if (claim.outputLength < claim.maxTokens) {
        return verdict('truncated')
      }
      break
    case 'stop':
      if (claim.stopMatched !== true) {
        return verdict('truncated')
      }
      break
    case 'eos':
      if (input.end == null || endEvidence?.severity === 'outside') {
        return verdict('eos-mismatch')
      }
      break
    default:
      return verdict('truncated')
  }
  if (nearTies > budget) {
    return verdict('near-ties')
  }
  return verdict('valid')
}
