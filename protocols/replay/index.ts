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
}

export interface ReplayPolicy {
  /** greedy: the claimed logit may be at most this far below the best one (numeric drift between evaluations) */
  maxLogitGap: number
  /** sampled: smallest allowed p(claimed)/p(best) at the task's temperature */
  minRelativeProbability: number
  /** positions allowed outside the band before the output is invalid */
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

export type ReplayReason = 'valid' | 'token-mismatch' | 'truncated' | 'extended' | 'eos-mismatch' | 'empty'

export interface ReplayEvidence {
  index: number
  claimed: number
  /** the validator's best token at that position */
  expected: number
  /** logit(expected) − logit(claimed) */
  logitGap: number
  /** 1-based rank of the claimed token among the fetched top tokens (topTokens.length + 1 = below all of them) */
  rank: number
}

export interface ReplayVerdict {
  valid: boolean
  reason: ReplayReason
  /** positions scored */
  checked: number
  /** positions outside the band */
  violations: number
  /** first offending positions (at most policy.maxEvidence) */
  evidence: ReplayEvidence[]
  /** largest logit gap among the positions that passed (how close honest drift came to the tolerance) */
  maxPassingGap: number
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

/** The largest logit gap a claimed token may have under these sampling parameters. */
export function allowedLogitGap (sampling: ReplaySampling, policy: ReplayPolicy): number {
  if (sampling.temperature <= 0) {
    return policy.maxLogitGap
  }
  // p(c)/p(best) = exp(-(gap)/T) ≥ minRel  ⇔  gap ≤ T·ln(1/minRel)
  return Math.max(policy.maxLogitGap, sampling.temperature * Math.log(1 / policy.minRelativeProbability))
}

/** Judge one position: undefined when inside the band, else the evidence. */
export function judgePosition (score: PositionScore, sampling: ReplaySampling, policy: ReplayPolicy): ReplayEvidence | undefined {
  const best = score.topLogits[0]
  const gap = Math.max(0, best - score.claimedLogit)
  const rank = claimedRank(score, policy.maxLogitGap)
  let bad = !Number.isFinite(score.claimedLogit) || gap > allowedLogitGap(sampling, policy)
  if (!bad && sampling.temperature > 0 && sampling.topK != null && sampling.topK > 0 && rank > sampling.topK) {
    bad = true
  }
  if (!bad) {
    return undefined
  }
  return { index: score.index, claimed: score.claimed, expected: score.topTokens[0], logitGap: gap, rank }
}

/**
 * The verdict over a whole output. `positions` are the scores of the claimed
 * output tokens, in order; `end`, for finishReason `eos`, is the score of the
 * end-of-generation token right after the output.
 */
export function judgeReplay (input: {
  positions: PositionScore[]
  sampling: ReplaySampling
  policy: ReplayPolicy
  claim: ReplayClaim
  end?: PositionScore
}): ReplayVerdict {
  const { positions, sampling, policy, claim } = input
  const evidence: ReplayEvidence[] = []
  let violations = 0
  let maxPassingGap = 0
  for (const p of positions) {
    const e = judgePosition(p, sampling, policy)
    if (e == null) {
      maxPassingGap = Math.max(maxPassingGap, p.topLogits[0] - p.claimedLogit)
      continue
    }
    violations++
    if (evidence.length < policy.maxEvidence) {
      evidence.push(e)
    }
  }
  const verdict = (reason: ReplayReason): ReplayVerdict => ({
    valid: reason === 'valid',
    reason,
    checked: positions.length,
    violations,
    evidence,
    maxPassingGap
  })
  if (claim.outputLength > claim.maxTokens) {
    return verdict('extended')
  }
  if (violations > policy.maxViolations) {
    return verdict('token-mismatch')
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
    case 'eos': {
      const end = input.end
      const e = end == null ? undefined : judgePosition(end, sampling, policy)
      if (end == null || e != null) {
        if (e != null && evidence.length < policy.maxEvidence) {
          evidence.push(e)
        }
        return verdict('eos-mismatch')
      }
      break
    }
    default:
      return verdict('truncated')
  }
  return verdict('valid')
}
