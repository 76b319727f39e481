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
 */
import { judgeReplay } from '../../protocols/replay/index.ts'
import {
  DEFAULT_REPLAY_MAX_LOGIT_GAP, DEFAULT_REPLAY_MAX_NEAR_TIES, DEFAULT_REPLAY_MAX_VIOLATIONS, DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP, DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA, REPLAY_MAX_EVIDENCE, REPLAY_MAX_TOP_K_FETCHED
} from './constants.ts'
import { resolveParams } from './engine.ts'
import { ContextOverflowError, InvalidParamsError } from './errors.ts'
import type { GenerateParams, LlamaInferenceEngine } from './engine.ts'
import type { FinishReason, PositionScore, ReplayPolicy, ReplayVerdict } from '../../protocols/replay/index.ts'
import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp'

export const DEFAULT_REPLAY_POLICY: ReplayPolicy = {
  maxLogitGap: DEFAULT_REPLAY_MAX_LOGIT_GAP,
  nearTieLogitGap: DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP,
  maxNearTies: DEFAULT_REPLAY_MAX_NEAR_TIES,
  nearTieTokensPerExtra: DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA,
  minRelativeProbability: DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY,
  maxViolations: DEFAULT_REPLAY_MAX_VIOLATIONS,
  maxEvidence: REPLAY_MAX_EVIDENCE
}

export interface ReplayRequest {
  prompt: string
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

/** What to fetch at each replayed position (see the file comment). */
export function replayLogitsFilter (claimed: number, topK: number): { tokens: Token[], includeSelected?: true, includeTop?: number } {
  return topK > 0
    ? { tokens: [claimed as Token], includeTop: Math.min(topK, REPLAY_MAX_TOP_K_FETCHED) }
    : { tokens: [claimed as Token], includeSelected: true }
}

function scoreFrom (index: number, claimed: number, logits: Map<number, number> | undefined): PositionScore {
  const entries = [...(logits ?? new Map<number, number>()).entries()].sort((a, b) => b[1] - a[1])
  return {
    index,
    claimed,
    claimedLogit: logits?.get(claimed) ?? -Infinity,
    topTokens: entries.map(e => e[0]),
    topLogits: entries.map(e => e[1])
  }
}

/** Replay a claimed output on the engine's model and return the verdict with evidence. */
export async function replayCheck (engine: LlamaInferenceEngine, request: ReplayRequest, signal?: AbortSignal): Promise<ReplayResult> {
  const params = resolveParams({ ...request.params, deterministic: false })
  const policy: ReplayPolicy = { ...DEFAULT_REPLAY_POLICY, ...request.policy }
  for (const t of request.output) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize(engine)) {
      throw new InvalidParamsError('output', `token ${t} is not in the model's vocabulary`)
    }
  }
  const prompt = engine.tokenizePrompt(request.prompt)
  const all = [...prompt, ...request.output]
  if (all.length + 1 > engine.contextSize) {
    throw new ContextOverflowError(all.length + 1, engine.contextSize)
  }
  const topK = params.temperature > 0 && params.topK != null && params.topK > 0 ? params.topK : 0
  const endToken = engine.endToken
  const wantEnd = request.finishReason === 'eos' && endToken != null
  const first = prompt.length - 1
  const input: ControlledEvaluateInputItem[] = all.map((token, i) => {
    const claimed = i < all.length - 1 ? all[i + 1] : (wantEnd ? endToken : undefined)
    if (i < first || claimed == null) {
      return token as Token
    }
    return [token as Token, { generateNext: { logits: { filter: replayLogitsFilter(claimed, topK) } } }]
  })

  return engine.withSequence(signal, async (seq) => {
    const t0 = performance.now()
    const res = await seq.controlledEvaluate(input)
    const evaluateMs = performance.now() - t0
    const positions: PositionScore[] = []
    for (let j = 0; j < request.output.length; j++) {
      const i = first + j
      positions.push(scoreFrom(j, all[i + 1], res[i]?.next.logits))
    }
    const end = wantEnd ? scoreFrom(request.output.length, endToken, res[all.length - 1]?.next.logits) : undefined
    const verdict = judgeReplay({
      positions,
      end,
      policy,
      sampling: { temperature: params.temperature, topK: params.topK },
      claim: {
        outputLength: request.output.length,
        maxTokens: params.maxTokens,
        finishReason: request.finishReason,
        stopMatched: request.finishReason === 'stop' && stopMatchedAtEnd(engine, request.output, params.stop)
      }
    })
    return { ...verdict, evaluateMs, positions }
  })
}

function vocabSize (engine: LlamaInferenceEngine): number {
  return engine.summary.vocabularySize ?? Number.MAX_SAFE_INTEGER
}
