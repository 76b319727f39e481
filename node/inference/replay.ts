/**
 * Oracle-side replay check: evaluate `prompt + claimed output` once (one
 * prefill pass through llama.cpp, batched) with the task's model, fetch at
 * each output position only what the verdict needs, and let the pure policy
 * in protocols/replay decide.
 *
 * What crosses into JS per position: for greedy and for sampled tasks
 * without top-k, the claimed token's logit and the best logit (node-llama-cpp's
 * `includeSelected` with its default greedy sampler: an argmax over the
 * vocabulary, no sort); only a top-k task fetches its k best logits, which
 * makes llama.cpp's binding sort the whole vocabulary at that position.
 * bench/replay.bench.ts measures the per-position cost of both.
 *
 * Sampled tasks (temperature > 0) are judged on the sampler's own
 * distribution instead: each position asks llama.cpp for the probabilities
 * the miner's sampler drew from (the task's temperature, top-k and top-p,
 * resolved by node-llama-cpp exactly as for generation; at most top-k
 * entries cross into JS). A claimed token outside that support could not
 * have been drawn; those positions get a second, greedy pass for their raw
 * logits, to tell drift at the sampler's cut-off from a token far below it.
 */
import { judgeReplay } from '../../protocols/replay/index.ts'
import {
  DEFAULT_REPLAY_MAX_LOGIT_GAP, DEFAULT_REPLAY_MAX_NEAR_TIES, DEFAULT_REPLAY_MAX_SAMPLE_Z, DEFAULT_REPLAY_MAX_VIOLATIONS, DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP, DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA, REPLAY_GRAMMAR_TOP_TOKENS, REPLAY_MAX_EVIDENCE, REPLAY_MAX_TOP_K_FETCHED
} from './constants.ts'
import { resolveParams } from './engine.ts'
import { ContextOverflowError, InvalidParamsError } from './errors.ts'
import { checkGrammarSampling, GrammarWalk, taskGrammar } from './grammar.ts'
import type { GenerateParams, LlamaInferenceEngine, ResolvedParams } from './engine.ts'
import type { TaskGrammar } from './grammar.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'
import type { FinishReason, PositionScore, ReplayPolicy, ReplayVerdict } from '../../protocols/replay/index.ts'
import type { ControlledEvaluateInputItem, LlamaContextSequence, Token } from 'node-llama-cpp'

export const DEFAULT_REPLAY_POLICY: ReplayPolicy = {
  maxLogitGap: DEFAULT_REPLAY_MAX_LOGIT_GAP,
  nearTieLogitGap: DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP,
  maxNearTies: DEFAULT_REPLAY_MAX_NEAR_TIES,
  nearTieTokensPerExtra: DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA,
  minRelativeProbability: DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  maxSampleZ: DEFAULT_REPLAY_MAX_SAMPLE_Z,
  maxViolations: DEFAULT_REPLAY_MAX_VIOLATIONS,
  maxEvidence: REPLAY_MAX_EVIDENCE
}

export interface ReplayRequest {
  /** the task's prompt, or its chat messages (rendered with the model's template, as the miner rendered them) */
  prompt: PromptInput
  /** the task's generation parameters (maxTokens, temperature, topK, stop) */
  params: GenerateParams
  /** the claimed output tokens (without the end-of-generation token) */
  output: number[]
  /** how the miner says its output ended */
  finishReason: FinishReason
  /** overrides of DEFAULT_REPLAY_POLICY */
  policy?: Partial<ReplayPolicy>
}

export interface ReplayResult extends ReplayVerdict {
  /** wall time of the evaluation */
  evaluateMs: number
  /** per-position scores, for callers that calibrate or record evidence */
  positions: PositionScore[]
  /** for an `eos` output: the score of its end (the model's best end-of-generation token there) */
  end?: PositionScore
}

/** Whether the output text completes a stop sequence exactly at its last token. */
function stopMatchedAtEnd (engine: LlamaInferenceEngine, output: number[], stop: string[]): boolean {
  if (stop.length === 0 || output.length === 0) {
    return false
  }
  const text = engine.detokenize(output)
  const before = engine.detokenize(output.slice(0, -1))
  return stop.some(s => text.includes(s)) && !stop.some(s => before.includes(s))
}

/**
 * What to fetch at each replayed position (see the file comment). `claimed`
 * is the claimed token, or at the end of an `eos` output every
 * end-of-generation token of the model (the best of them is scored).
 */
export function replayLogitsFilter (claimed: number | number[], topK: number): { tokens: Token[], includeSelected?: true, includeTop?: number } {
  const tokens = (Array.isArray(claimed) ? claimed : [claimed]) as Token[]
  return topK > 0
    ? { tokens, includeTop: Math.min(topK, REPLAY_MAX_TOP_K_FETCHED) }
    : { tokens, includeSelected: true }
}

/** The candidate with the highest value in `values` (the first candidate when none has one). */
function bestOf (candidates: number[], values: Map<number, number> | undefined): number {
  let best = candidates[0]
  let bestValue = -Infinity
  for (const c of candidates) {
    const v = values?.get(c)
    if (v != null && v > bestValue) {
      best = c
      bestValue = v
    }
  }
  return best
}

function scoreFrom (index: number, candidates: number[], logits: Map<number, number> | undefined): PositionScore {
  const entries = [...(logits ?? new Map<number, number>()).entries()].sort((a, b) => b[1] - a[1])
  const claimed = bestOf(candidates, logits)
  return {
    index,
    claimed,
    claimedLogit: logits?.get(claimed) ?? -Infinity,
    topTokens: entries.map(e => e[0]),
    topLogits: entries.map(e => e[1])
  }
}

const endTokensOf = new WeakMap<LlamaInferenceEngine, number[]>()

/**
 * Every end-of-generation token of the model (EOS, and EOT, end-of-message
 * and the like where the model has them): a turn may end on any of them.
 */
export function endOfGenerationTokens (engine: LlamaInferenceEngine): number[] {
  let tokens = endTokensOf.get(engine)
  if (tokens == null) {
    tokens = []
    const size = engine.summary.vocabularySize ?? 0
    for (let t = 0; t < size; t++) {
      if (engine.isEndToken(t)) {
        tokens.push(t)
      }
    }
    if (tokens.length === 0 && engine.endToken != null) {
      tokens.push(engine.endToken)
    }
    endTokensOf.set(engine, tokens)
  }
  return tokens
}

/** Replay a claimed output on the engine's model and return the verdict with evidence. */
export async function replayCheck (engine: LlamaInferenceEngine, request: ReplayRequest, signal?: AbortSignal): Promise<ReplayResult> {
  const params = resolveParams({ ...request.params, deterministic: false })
  checkGrammarSampling(request.prompt, params.temperature)
  const policy: ReplayPolicy = { ...DEFAULT_REPLAY_POLICY, ...request.policy }
  for (const t of request.output) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize(engine)) {
      throw new InvalidParamsError('output', `token ${t} is not in the model's vocabulary`)
    }
  }
  const grammar = await taskGrammar(engine.llama, request.prompt)
  const prompt = engine.renderPrompt(request.prompt).tokens
  const all = [...prompt, ...request.output]
  if (all.length + 1 > engine.contextSize) {
    throw new ContextOverflowError(all.length + 1, engine.contextSize)
  }
  const endTokens = request.finishReason === 'eos' ? endOfGenerationTokens(engine) : []
  const wantEnd = endTokens.length > 0
  const first = prompt.length - 1
  // the tokens each scored position claims: the output's, then the model's end-of-generation tokens for an `eos` claim
  const claimedAt = (i: number): number[] | undefined => i < first ? undefined : i < all.length - 1 ? [all[i + 1]] : (wantEnd ? endTokens : undefined)
  const sampled = params.temperature > 0
  const stop = grammar != null ? [...params.stop, ...grammar.stop] : params.stop

  return engine.withSequence(signal, async (seq) => {
    const t0 = performance.now()
    const scores = grammar != null
      ? await grammarScores(engine, grammar, seq, all, first, claimedAt)
      : sampled
        ? await sampledScores(seq, all, claimedAt, params, policy)
        : await greedyScores(seq, all, claimedAt, params)
    const evaluateMs = performance.now() - t0
    const positions = request.output.map((_, j) => ({ ...(scores[first + j] as PositionScore), index: j }))
    const end = wantEnd ? { ...(scores[all.length - 1] as PositionScore), index: request.output.length } : undefined
    const verdict = judgeReplay({
      positions,
      end,
      policy,
      sampling: { temperature: params.temperature, topK: params.topK },
      claim: {
        outputLength: request.output.length,
        maxTokens: params.maxTokens,
        finishReason: request.finishReason,
        stopMatched: request.finishReason === 'stop' && stopMatchedAtEnd(engine, request.output, stop)
      }
    })
    return { ...verdict, evaluateMs, positions, ...(end != null ? { end } : {}) }
  })
}

/**
 * Grammar tasks (greedy only): one batched pass fetching the claimed token
 * and the best REPLAY_GRAMMAR_TOP_TOKENS logits at each position; the claimed
 * tokens are walked through the grammar in order, and at each position the
 * best token the grammar allows is the one the claimed token is judged
 * against. A claimed token the grammar forbids scores −∞ (outside); after it
 * the grammar has no state, and the rest is judged without it. Where none of
 * the fetched best tokens is allowed, a second pass fetches the whole
 * vocabulary there.
 */
async function grammarScores (engine: LlamaInferenceEngine, g: TaskGrammar, seq: LlamaContextSequence, all: number[], first: number, claimedAt: (i: number) => number[] | undefined): Promise<Array<PositionScore | undefined>> {
  const res = await seq.controlledEvaluate(all.map((token, i) => {
    const claimed = claimedAt(i)
    return claimed == null ? token as Token : [token as Token, { generateNext: { logits: { filter: { tokens: claimed as Token[], includeTop: REPLAY_GRAMMAR_TOP_TOKENS } } } }]
  }))
  const walk = GrammarWalk.of(engine.llama, engine.model, g)
  const scores: Array<PositionScore | undefined> = []
  const unresolved = new Map<number, GrammarWalk>()
  let broken = false
  for (let i = 0; i < all.length; i++) {
    const claimed = claimedAt(i)
    if (claimed == null) {
      scores.push(undefined)
      continue
    }
    const logits = res[i]?.next.logits
    if (broken) {
      scores.push(scoreFrom(i, claimed, logits))
      continue
    }
    const { score, resolved } = grammarScore(i, claimed, logits, walk, REPLAY_GRAMMAR_TOP_TOKENS)
    scores.push(score)
    if (!resolved) {
      unresolved.set(i, walk.clone())
    }
    if (i >= first && i < all.length - 1) {
      if (Number.isFinite(score.claimedLogit)) {
        walk.accept(all[i + 1])
      } else {
        broken = true
      }
    }
  }
  if (unresolved.size > 0) {
    await seq.clearHistory()
    const full = await seq.controlledEvaluate(all.map((token, i) => unresolved.has(i) ? [token as Token, { generateNext: { logits: true } }] : token as Token))
    for (const [i, state] of unresolved) {
      scores[i] = grammarScore(i, claimedAt(i) as number[], full[i]?.next.logits, state, Infinity).score
    }
  }
  return scores
}

/**
 * One grammar position: the best allowed claimed candidate, judged against
 * the best allowed fetched token. `resolved` is false when the first `top`
 * fetched tokens are all forbidden and the claimed one sits below them, so an
 * allowed token between them may not have been fetched.
 */
function grammarScore (index: number, candidates: number[], logits: Map<number, number> | undefined, walk: GrammarWalk, top: number): { score: PositionScore, resolved: boolean } {
  const entries = [...(logits ?? new Map<number, number>()).entries()].sort((a, b) => b[1] - a[1])
  const allowed = candidates.filter(c => walk.allows(c))
  const claimed = allowed.length > 0 ? bestOf(allowed, logits) : candidates[0]
  const claimedLogit = allowed.length > 0 ? (logits?.get(claimed) ?? -Infinity) : -Infinity
  const at = entries.findIndex(([t]) => t === claimed ? allowed.length > 0 : walk.allows(t))
  const best = at >= 0 ? entries[at] : entries[0]
  const score: PositionScore = { index, claimed, claimedLogit, topTokens: best != null ? [best[0]] : [], topLogits: best != null ? [best[1]] : [] }
  return { score, resolved: allowed.length === 0 || at < top || !candidates.includes(entries[at][0]) }
}

/** One batched pass fetching the claimed token's logit and the best one (or the top-k) at each scored position. */
async function greedyScores (seq: LlamaContextSequence, all: number[], claimedAt: (i: number) => number[] | undefined, params: ResolvedParams): Promise<Array<PositionScore | undefined>> {
  const topK = params.temperature > 0 && params.topK != null && params.topK > 0 ? params.topK : 0
  const input: ControlledEvaluateInputItem[] = all.map((token, i) => {
    const claimed = claimedAt(i)
    return claimed == null ? token as Token : [token as Token, { generateNext: { logits: { filter: replayLogitsFilter(claimed, topK) } } }]
  })
  const res = await seq.controlledEvaluate(input)
  return all.map((_, i) => {
    const claimed = claimedAt(i)
    return claimed == null ? undefined : scoreFrom(i, claimed, res[i]?.next.logits)
  })
}

/**
 * Sampled tasks: one batched pass fetching, at each scored position, the
 * probabilities the task's sampler draws from; where the claimed token is not
 * among them, a greedy pass fetches its raw logit and the raw logit of the
 * last token the sampler keeps.
 */
async function sampledScores (seq: LlamaContextSequence, all: number[], claimedAt: (i: number) => number[] | undefined, params: ResolvedParams, policy: ReplayPolicy): Promise<Array<PositionScore | undefined>> {
  const options = { temperature: params.temperature, topK: params.topK, topP: params.topP }
  const res = await seq.controlledEvaluate(all.map((token, i) => claimedAt(i) == null ? token as Token : [token as Token, { generateNext: { probabilities: true, options } }]))
  const scores: Array<PositionScore | undefined> = []
  const outside = new Map<number, number>()
  for (let i = 0; i < all.length; i++) {
    const claimed = claimedAt(i)
    if (claimed == null) {
      scores.push(undefined)
      continue
    }
    const support = [...(res[i]?.next.probabilities ?? new Map<number, number>()).entries()].sort((a, b) => b[1] - a[1])
    scores.push(sampledScore(i, claimed, support, params.temperature))
    if (scores[i]?.sample?.inSupport !== true && support.length > 0) {
      outside.set(i, support[support.length - 1][0])
    }
  }
  if (outside.size > 0) {
    await seq.clearHistory()
    const raw = await seq.controlledEvaluate(all.map((token, i) => {
      const last = outside.get(i)
      const claimed = claimedAt(i)
      return last == null || claimed == null ? token as Token : [token as Token, { generateNext: { logits: { filter: { tokens: [...claimed, last] as Token[], includeSelected: true } } } }]
    }))
    for (const [i, last] of outside) {
      const claimed = claimedAt(i) as number[]
      const logits = raw[i]?.next.logits ?? new Map<number, number>()
      const score = scoreFrom(i, claimed, logits)
      const lastLogit = logits.get(last)
      const nearCutoff = lastLogit != null && Number.isFinite(score.claimedLogit) && lastLogit - score.claimedLogit <= policy.nearTieLogitGap
      scores[i] = { ...score, sample: { inSupport: false, nearCutoff, pit: 1 } }
    }
  }
  return scores
}

/**
 * A sampled position's score from the sampler's support (most probable
 * first): its logits in raw units (T·ln p, up to a constant) so gaps read as
 * for greedy tasks, and where the claimed token sits in the distribution.
 */
function sampledScore (index: number, candidates: number[], support: Array<[number, number]>, temperature: number): PositionScore {
  let above = 0
  let p = 0
  // the support is most probable first: the first candidate met is the best one
  let claimed = candidates[0]
  for (const [token, q] of support) {
    if (candidates.includes(token)) {
      claimed = token
      p = q
      break
    }
    above += q
  }
  const top = support[0]
  return {
    index,
    claimed,
    claimedLogit: p > 0 ? temperature * Math.log(p) : -Infinity,
    topTokens: top != null ? [top[0]] : [],
    topLogits: top != null ? [temperature * Math.log(top[1])] : [],
    sample: { inSupport: p > 0, nearCutoff: false, pit: p > 0 ? above + p / 2 : 1 }
  }
}

function vocabSize (engine: LlamaInferenceEngine): number {
  return engine.summary.vocabularySize ?? Number.MAX_SAFE_INTEGER
}
