/**
 * The validation ladder an oracle runs on a committed task, cheapest first:
 * structure (the output document resolves, decodes and fits the task),
 * redundancy (honest miners store byte-identical outputs, so agreement is a
 * CID comparison), the replay check of every distinct output when they are
 * not all identical, and embedding distance between outputs that replay but
 * differ. Which outputs are replayed and how verdicts follow from the checks
 * is protocols/policy's (`needsReplay`, `replayTargets`, `aggregateVerdicts`),
 * the same code the simulator runs; this module fetches, replays and embeds.
 * The audit of agreeing outputs after settlement is node/roles/oracle/audit.ts.
 */
import { CID } from 'multiformats/cid'
import { MinerVerdict } from '../../../protocols/messages/index.ts'
import { DEFAULT_ESCALATE_ON_DISAGREEMENT, EMBEDDING_SIMILARITY_THRESHOLD, Submission, Verdict as V, aggregateVerdicts, clusterByEmbedding, cosine, needsReplay, replayTargets } from '../../../protocols/policy/index.ts'
import { isEmbedInput } from '../../../protocols/prompt/index.ts'
import { ContextOverflowError, ChatTemplateError } from '../../inference/errors.ts'
import { InvalidParamsError, replayCheck } from '../../inference/index.ts'
import { embeddingReplay, paidTokens } from './embedding-task.ts'
import { InvalidOutputError } from './errors.ts'
import { fetchFromHolders, taskPrompt } from './records.ts'
import type { OutputDoc } from './records.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { VerdictCode } from '../../../protocols/policy/verdicts.ts'
import type { PromptInput, TaskInput } from '../../../protocols/prompt/index.ts'
import type { TaskState } from '../../../protocols/queue/types.ts'
import type { Embedder, LlamaInferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { PeerId } from '@libp2p/interface'

const FETCH_TIMEOUT_MS = 15_000
/** Longest chat template name an output may carry (node-llama-cpp's names are under 30 characters). */
const MAX_CHAT_TEMPLATE_NAME_LENGTH = 64

export interface ValidationContext {
  node: Pick<CortensorNode, 'libp2p' | 'store'> & { config: Pick<CortensorNode['config'], 'network'> }
  /** the model, for the replay check; without one, a task that needs a replay is `unverifiable` */
  engine?: LlamaInferenceEngine
  /** for the embedding-distance check between outputs that replay but differ */
  embedder?: Embedder
  similarityThreshold?: number
  /** replay when outputs differ (default DEFAULT_ESCALATE_ON_DISAGREEMENT) */
  escalateOnDisagreement?: boolean
  /** the peer of a miner (the surest holder of its output) */
  peerOf(miner: string): PeerId | undefined
  /** called before each replay */
  onReplay?(): void
  say(line: string): void
}

export interface ValidationInput {
  queued: TaskQueued
  state: TaskState
  reveals: Record<string, { outputCid: string }>
  /** the submitter's peer (holds the prompt) */
  promptHolder?: PeerId
}

export interface ValidationResult {
  outcomes: Record<string, MinerVerdict.Outcome>
  /** cosine similarity to the accepted output, for outputs compared by embedding */
  similarity: Record<string, number>
  /** output length per miner whose output decoded */
  tokens: Record<string, number>
  /** whether validation replayed outputs (a task it did not replay may be audited after settlement) */
  replayed: boolean
}

interface OutputGroup {
  cid: string
  doc: OutputDoc
  miners: string[]
}

/** Judge every miner of a committed task. */
export async function validateOutputs (ctx: ValidationContext, input: ValidationInput): Promise<ValidationResult> {
  const outcomes = unrevealedOutcomes(input.state)
  const groups = await fetchOutputs(ctx, input, outcomes)
  const tokens: Record<string, number> = {}
  for (const { doc, miners } of groups) {
    for (const m of miners) {
      tokens[m] = paidTokens(doc)
    }
  }
  const { similarity, replayed } = await judgeGroups(ctx, input, groups, outcomes)
  return { outcomes, similarity, tokens, replayed }
}

/** Miners that never revealed, or revealed something else than they committed to. */
function unrevealedOutcomes (s: TaskState): Record<string, MinerVerdict.Outcome> {
  const outcomes: Record<string, MinerVerdict.Outcome> = {}
  for (const slot of s.slots) {
    if (slot.status === 'faulty') {
      outcomes[slot.miner] = MinerVerdict.Outcome.REVEAL_MISMATCH
    } else if (slot.status === 'missed' || slot.status === 'reassigned') {
      outcomes[slot.miner] = MinerVerdict.Outcome.MISSING
    }
  }
  return outcomes
}

/** The structural rung: fetch each distinct revealed output once; miners whose output fails it are rejected. */
async function fetchOutputs (ctx: ValidationContext, input: ValidationInput, outcomes: Record<string, MinerVerdict.Outcome>): Promise<OutputGroup[]> {
  const q = input.queued
  const groups: OutputGroup[] = []
  for (const slot of input.state.slots.filter(x => x.status === 'revealed')) {
    const cid = slot.outputCid ?? input.reveals[slot.miner]?.outputCid
    try {
      if (cid == null) {
        throw new InvalidOutputError('no output revealed')
      }
      const known = groups.find(g => g.cid === cid)
      if (known != null) {
        known.miners.push(slot.miner)
        continue
      }
      const doc = await fetchOutputDoc(ctx, q, ctx.peerOf(slot.miner), cid)
      groups.push({ cid, doc, miners: [slot.miner] })
    } catch (err: any) {
      outcomes[slot.miner] = MinerVerdict.Outcome.REJECTED_STRUCTURAL
      ctx.say(`task ${q.taskId}: output of ${slot.miner} rejected: ${err.message}`)
    }
  }
  return groups
}

async function fetchOutputDoc (ctx: ValidationContext, q: TaskQueued, holder: PeerId | undefined, cid: string): Promise<OutputDoc> {
  const { node } = ctx
  await fetchFromHolders(node.libp2p, node.store, node.config.network, [holder], CID.parse(cid))
  const doc = await node.store.getJson<OutputDoc>(CID.parse(cid), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
  checkOutputDoc(doc, q)
  return doc
}

/**
 * The replay and embedding rungs over the groups of identical outputs, as
 * protocols/policy decides them: every distinct output is replayed when
 * they are not all identical; the outputs that pass are clustered by
 * embedding, and the cluster with most miners is accepted.
 */
async function judgeGroups (ctx: ValidationContext, input: ValidationInput, groups: OutputGroup[], outcomes: Record<string, MinerVerdict.Outcome>): Promise<{ similarity: Record<string, number>, replayed: boolean }> {
  const similarity: Record<string, number> = {}
  const miners = groups.flatMap((g, gi) => g.miners.map(m => ({ miner: m, group: gi })))
  const n = miners.length
  if (n === 0) {
    return { similarity, replayed: false }
  }
  const output = Int32Array.from(miners, m => m.group)
  const plan = { n, status: new Uint8Array(n).fill(Submission.OK), output, escalateOnDisagreement: ctx.escalateOnDisagreement ?? DEFAULT_ESCALATE_ON_DISAGREEMENT }
  const replayed = needsReplay(plan)
  // replay results by group, run before the (synchronous) aggregation that reads them
  const passed = new Map<number, boolean>()
  if (replayed) {
    if (ctx.engine == null) {
      ctx.say(`task ${input.queued.taskId}: outputs differ and this oracle has no model to replay them: unverifiable`)
      for (const { miner } of miners) {
        outcomes[miner] = MinerVerdict.Outcome.UNVERIFIABLE
      }
      return { similarity, replayed: false }
    }
    const replay = promptReplayer(ctx, input)
    for (const i of replayTargets(plan)) {
      passed.set(output[i], await replay(groups[output[i]].doc))
    }
  }
  const passing = groups.map((_, gi) => !replayed || passed.get(gi) === true)
  const { cluster, vectors } = await embeddingClusters(ctx, groups, passing)
  const verdicts = new Uint8Array(n)
  const res = aggregateVerdicts({ ...plan, cluster: Int32Array.from(output, g => cluster[g]), replay: (i) => passed.get(output[i]) === true }, verdicts)
  for (let i = 0; i < n; i++) {
    outcomes[miners[i].miner] = outcomeOf(verdicts[i])
  }
  const reference = res.acceptedMiner >= 0 ? vectors[output[res.acceptedMiner]] : undefined
  if (reference != null) {
    for (const { miner, group } of miners) {
      const v = vectors[group]
      if (v != null && group !== output[res.acceptedMiner]) {
        similarity[miner] = cosine(reference, v)
      }
    }
  }
  return { similarity, replayed }
}

/**
 * Embedding cluster per group: only when several distinct outputs are in
 * the running (passed replay, or no replay ran) and an embedder is set;
 * otherwise each distinct output is its own answer.
 */
async function embeddingClusters (ctx: ValidationContext, groups: OutputGroup[], passing: boolean[]): Promise<{ cluster: number[], vectors: Array<number[] | undefined> }> {
  const cluster = groups.map((_, gi) => gi)
  const vectors: Array<number[] | undefined> = groups.map(() => undefined)
  const live = groups.flatMap((_, gi) => passing[gi] ? [gi] : [])
  if (ctx.embedder == null || live.length < 2) {
    return { cluster, vectors }
  }
  for (const gi of live) {
    vectors[gi] = await ctx.embedder.embed(groups[gi].doc.text)
  }
  const ids = clusterByEmbedding(live.map(gi => Float32Array.from(vectors[gi] ?? [])), ctx.similarityThreshold ?? EMBEDDING_SIMILARITY_THRESHOLD)
  live.forEach((gi, k) => { cluster[gi] = live[ids[k]] })
  return { cluster, vectors }
}

function outcomeOf (v: number): MinerVerdict.Outcome {
  switch (v) {
    case V.PASS: return MinerVerdict.Outcome.ACCEPTED
    case V.OUTLIER: return MinerVerdict.Outcome.OUTLIER
    case V.REPLAY_FAIL: return MinerVerdict.Outcome.REJECTED_REPLAY
    case V.COMMIT_MISMATCH: return MinerVerdict.Outcome.REVEAL_MISMATCH
    default: return MinerVerdict.Outcome.MISSING
  }
}

/**
 * The replay check of one output against the task's prompt (fetched once).
 * A claimed token the model does not have, or an output that overflows its
 * context, fails; a prompt that cannot be fetched throws.
 */
function promptReplayer (ctx: ValidationContext & { engine?: LlamaInferenceEngine }, input: Pick<ValidationInput, 'queued' | 'promptHolder'>): (doc: OutputDoc) => Promise<boolean> {
  const { node, engine } = ctx
  const q = input.queued
  let input0: TaskInput | undefined
  return async (doc) => {
    if (engine == null) {
      throw new InvalidOutputError('no model to replay with')
    }
    input0 ??= await taskPrompt(node.libp2p, node.store, node.config.network, q, [input.promptHolder], AbortSignal.timeout(FETCH_TIMEOUT_MS))
    ctx.onReplay?.()
    const prompt = input0
    if (isEmbedInput(prompt)) {
      // an embedding task: the vectors are recomputed with the task's model
      const mismatch = await embeddingReplay(engine, prompt, doc)
      if (mismatch != null) {
        ctx.say(`task ${q.taskId}: embedding replay failed: ${mismatch}`)
      }
      return mismatch == null
    }
    const p = q.params
    const mismatch = templateMismatch(engine, prompt, doc)
    if (mismatch != null) {
      ctx.say(`task ${q.taskId}: replay failed: ${mismatch}`)
      return false
    }
    try {
      const verdict = await replayCheck(engine, {
        prompt,
        params: { maxTokens: p?.maxTokens, temperature: p?.temperature, topK: p?.topK !== 0 ? p?.topK : undefined, topP: p?.topP !== 0 ? p?.topP : undefined, stop: p?.stop.length !== 0 ? p?.stop : undefined },
        output: doc.tokens,
        finishReason: doc.finishReason
      })
      if (!verdict.valid) {
        ctx.say(`task ${q.taskId}: replay ${verdict.reason} (${verdict.violations} of ${verdict.checked} positions outside the band)`)
      }
      return verdict.valid
    } catch (err: any) {
      if (err instanceof InvalidParamsError || err instanceof ContextOverflowError || err instanceof ChatTemplateError) {
        ctx.say(`task ${q.taskId}: replay failed: ${err.message}`)
        return false
      }
      throw err
    }
  }
}

/**
 * The output names the template its prompt was rendered with: the one this
 * model renders chats with, none for a plain prompt. Undefined when it does.
 */
function templateMismatch (engine: Pick<LlamaInferenceEngine, 'chat'>, prompt: PromptInput, doc: OutputDoc): string | undefined {
  const template = typeof prompt === 'string' ? undefined : engine.chat.name
  return doc.chatTemplate === template ? undefined : `the output says chat template ${doc.chatTemplate ?? 'none'}, the model's is ${template ?? 'none'}`
}

/**
 * Replay one miner's revealed output (an oracle attesting a failed replay
 * for the hub's quorum, or auditing a settled task): true if it replays,
 * false if it fails, undefined if it cannot be checked here (no model,
 * output or prompt not reachable, or not a well-formed output).
 */
export async function replayOne (ctx: ValidationContext, input: Pick<ValidationInput, 'queued' | 'reveals' | 'promptHolder'>, miner: string): Promise<boolean | undefined> {
  const cid = input.reveals[miner]?.outputCid
  if (ctx.engine == null || cid == null) {
    return undefined
  }
  try {
    const doc = await fetchOutputDoc(ctx, input.queued, ctx.peerOf(miner), cid)
    return await promptReplayer(ctx, input)(doc)
  } catch (err: any) {
    ctx.say(`task ${input.queued.taskId}: cannot replay the output of ${miner}: ${err.message}`)
    return undefined
  }
}

/** The reputation input for a miner's outcome; undefined for an outcome that says nothing about the miner. */
export function outcomeVerdict (outcome: MinerVerdict.Outcome): VerdictCode | undefined {
  switch (outcome) {
    case MinerVerdict.Outcome.ACCEPTED: return V.PASS
    case MinerVerdict.Outcome.OUTLIER: return V.OUTLIER
    case MinerVerdict.Outcome.REJECTED_REPLAY:
    case MinerVerdict.Outcome.REJECTED_STRUCTURAL: return V.REPLAY_FAIL
    case MinerVerdict.Outcome.REVEAL_MISMATCH: return V.COMMIT_MISMATCH
    case MinerVerdict.Outcome.UNVERIFIABLE: return undefined
    default: return V.TIMEOUT
  }
}

/** The structural rung: the output names the task and its model, holds token ids, fits the limits. */
export function checkOutputDoc (doc: OutputDoc, q: TaskQueued): void {
  if (doc == null || typeof doc !== 'object') {
    throw new InvalidOutputError('output is not a document')
  }
  if (doc.taskId !== q.taskId.toString()) {
    throw new InvalidOutputError(`output names task ${doc.taskId}`)
  }
  if (doc.modelId !== q.params?.modelId) {
    throw new InvalidOutputError(`output names model ${doc.modelId}`)
  }
  if (!Array.isArray(doc.tokens) || !doc.tokens.every(t => Number.isInteger(t) && t >= 0)) {
    throw new InvalidOutputError('output tokens are not token ids')
  }
  if (doc.tokens.length > (q.params?.maxTokens ?? 0)) {
    throw new InvalidOutputError(`${doc.tokens.length} tokens, max ${q.params?.maxTokens}`)
  }
  if (!['length', 'eos', 'stop'].includes(doc.finishReason) || typeof doc.text !== 'string') {
    throw new InvalidOutputError('bad finish reason or text')
  }
  if (doc.chatTemplate !== undefined && (typeof doc.chatTemplate !== 'string' || doc.chatTemplate.length > MAX_CHAT_TEMPLATE_NAME_LENGTH)) {
    throw new InvalidOutputError('bad chat template name')
  }
  if (doc.embeddings !== undefined && (!Array.isArray(doc.embeddings) || doc.tokens.length > 0 || !doc.embeddings.every(v => Array.isArray(v) && v.every(x => typeof x === 'number' && Number.isFinite(x))))) {
    throw new InvalidOutputError('embeddings are not vectors of finite numbers (beside no generated tokens)')
  }
}
