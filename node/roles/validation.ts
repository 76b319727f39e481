/**
 * The validation ladder an oracle runs on a committed task, cheapest first:
 * structure (the output document resolves, decodes and fits the task),
 * redundancy (honest miners store byte-identical outputs, so agreement is a
 * CID comparison), the replay check (sampled on agreeing outputs, always on
 * disagreeing ones) and embedding distance between outputs that replay but
 * disagree. It judges; the oracle role publishes and settles the verdicts.
 */
import { CID } from 'multiformats/cid'
import { hexToBytes } from 'viem'
import { MinerVerdict } from '../../protocols/messages/index.ts'
import { DEFAULT_SAMPLE_RATE, EMBEDDING_SIMILARITY_THRESHOLD } from '../../protocols/policy/constants.ts'
import { Verdict as V } from '../../protocols/policy/verdicts.ts'
import { deriveSeed, seedToUnit } from '../../protocols/selection/index.ts'
import { cosineSimilarity, replayCheck } from '../inference/index.ts'
import { fetchFromHolders, taskPrompt } from './records.ts'
import type { OutputDoc } from './records.ts'
import type { TaskQueued } from '../../protocols/messages/index.ts'
import type { VerdictCode } from '../../protocols/policy/verdicts.ts'
import type { TaskState } from '../../protocols/queue/types.ts'
import type { Embedder, LlamaInferenceEngine } from '../inference/index.ts'
import type { CortensorNode } from '../node.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

const SAMPLE_DOMAIN = 'cortensor/replay-sample/v1'
const FETCH_TIMEOUT_MS = 15_000

export interface ValidationContext {
  node: Pick<CortensorNode, 'libp2p' | 'store' | 'config'>
  /** the model, for the replay check (without one, only structure and redundancy are checked) */
  engine?: LlamaInferenceEngine
  /** for the embedding-distance check between disagreeing outputs */
  embedder?: Embedder
  /** fraction of agreeing outputs replayed anyway; default policy DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  similarityThreshold?: number
  /** the peer of a miner (the surest holder of its output) */
  peerOf(miner: string): PeerId | undefined
  /** called before each replay */
  onReplay?(): void
  say(line: string): void
}

export interface ValidationInput {
  queued: TaskQueued
  state: TaskState
  /** the chain's selection seed of the task (decides whether agreeing outputs are sampled) */
  seed: Hex
  reveals: Record<string, { outputCid: string }>
  /** the submitter's peer (holds the prompt) */
  promptHolder?: PeerId
}

export interface ValidationResult {
  outcomes: Record<string, MinerVerdict.Outcome>
  /** cosine similarity to the reference output, for outputs compared by embedding */
  similarity: Record<string, number>
  /** output length per miner whose output decoded */
  tokens: Record<string, number>
}

type OutputGroups = Map<string, { doc: OutputDoc, miners: string[] }>

/** Judge every miner of a committed task. */
export async function validateOutputs (ctx: ValidationContext, input: ValidationInput): Promise<ValidationResult> {
  const outcomes = unrevealedOutcomes(input.state)
  const docs = await fetchOutputs(ctx, input, outcomes)
  const similarity = await judgeGroups(ctx, input, docs, outcomes)
  const tokens: Record<string, number> = {}
  for (const [, { doc, miners }] of docs) {
    for (const m of miners) {
      tokens[m] = doc.tokens.length
    }
  }
  return { outcomes, similarity, tokens }
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
async function fetchOutputs (ctx: ValidationContext, input: ValidationInput, outcomes: Record<string, MinerVerdict.Outcome>): Promise<OutputGroups> {
  const { node } = ctx
  const q = input.queued
  const docs: OutputGroups = new Map()
  for (const slot of input.state.slots.filter(x => x.status === 'revealed')) {
    const cid = slot.outputCid ?? input.reveals[slot.miner]?.outputCid
    try {
      if (cid == null) {
        throw new Error('no output')
      }
      const entry = docs.get(cid)
      if (entry != null) {
        entry.miners.push(slot.miner)
        continue
      }
      await fetchFromHolders(node.libp2p, node.store, node.config.network, [ctx.peerOf(slot.miner)], CID.parse(cid))
      const doc = await node.store.getJson<OutputDoc>(CID.parse(cid), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
      checkOutputDoc(doc, q)
      docs.set(cid, { doc, miners: [slot.miner] })
    } catch (err: any) {
      outcomes[slot.miner] = MinerVerdict.Outcome.REJECTED_STRUCTURAL
      ctx.say(`task ${q.taskId}: output of ${slot.miner} rejected: ${err.message}`)
    }
  }
  return docs
}

/**
 * Replay and embedding rungs over the groups of identical outputs, largest
 * first: the largest group is replayed on a sample, every disagreeing output
 * is replayed; the first group that replays is the reference the others are
 * compared with by embedding. Returns the similarities computed.
 */
async function judgeGroups (ctx: ValidationContext, input: ValidationInput, docs: OutputGroups, outcomes: Record<string, MinerVerdict.Outcome>): Promise<Record<string, number>> {
  const { embedder } = ctx
  const q = input.queued
  const similarity: Record<string, number> = {}
  const groups = [...docs.entries()].sort((a, b) => b[1].miners.length - a[1].miners.length || (a[0] < b[0] ? -1 : 1))
  const replayer = promptReplayer(ctx, input)
  const sampled = isSampled(input.seed, q.taskId, ctx.sampleRate ?? DEFAULT_SAMPLE_RATE)
  let reference: OutputDoc | undefined
  for (let i = 0; i < groups.length; i++) {
    const [, { doc, miners }] = groups[i]
    const mustReplay = i > 0 || sampled || groups.length > 1
    const passed = mustReplay ? await replayer(doc) : true
    if (!passed) {
      for (const m of miners) {
        outcomes[m] = MinerVerdict.Outcome.REJECTED_REPLAY
      }
      continue
    }
    if (reference == null) {
      reference = doc
      for (const m of miners) {
        outcomes[m] = MinerVerdict.Outcome.ACCEPTED
      }
      continue
    }
    const sim = embedder != null ? cosineSimilarity(await embedder.embed(reference.text), await embedder.embed(doc.text)) : 0
    const outlier = sim < (ctx.similarityThreshold ?? EMBEDDING_SIMILARITY_THRESHOLD)
    for (const m of miners) {
      similarity[m] = sim
      outcomes[m] = outlier ? MinerVerdict.Outcome.OUTLIER : MinerVerdict.Outcome.ACCEPTED
    }
  }
  return similarity
}

/** The replay check of one output against the task's prompt (fetched once); passes everything without an engine. */
function promptReplayer (ctx: ValidationContext, input: ValidationInput): (doc: OutputDoc) => Promise<boolean> {
  const { node, engine } = ctx
  const q = input.queued
  let prompt: string | undefined
  return async (doc) => {
    if (engine == null) {
      return true
    }
    prompt ??= await taskPrompt(node.libp2p, node.store, node.config.network, q, [input.promptHolder], AbortSignal.timeout(FETCH_TIMEOUT_MS))
    ctx.onReplay?.()
    const p = q.params
    const verdict = await replayCheck(engine, {
      prompt,
      params: { maxTokens: p?.maxTokens, temperature: p?.temperature, topK: p?.topK !== 0 ? p?.topK : undefined, topP: p?.topP !== 0 ? p?.topP : undefined, stop: p?.stop.length !== 0 ? p?.stop : undefined },
      output: doc.tokens,
      finishReason: doc.finishReason
    })
    return verdict.valid
  }
}

/**
 * Replay one miner's revealed output (an oracle attesting a failed replay
 * for the hub's quorum): true if it replays, false if it fails, undefined if
 * it cannot be checked here (no model, output or prompt not reachable, or
 * not a well-formed output).
 */
export async function replayOne (ctx: ValidationContext, input: ValidationInput, miner: string): Promise<boolean | undefined> {
  const { node } = ctx
  const cid = input.reveals[miner]?.outputCid
  if (ctx.engine == null || cid == null) {
    return undefined
  }
  try {
    await fetchFromHolders(node.libp2p, node.store, node.config.network, [ctx.peerOf(miner)], CID.parse(cid))
    const doc = await node.store.getJson<OutputDoc>(CID.parse(cid), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    checkOutputDoc(doc, input.queued)
    return await promptReplayer(ctx, input)(doc)
  } catch (err: any) {
    ctx.say(`task ${input.queued.taskId}: cannot replay the output of ${miner}: ${err.message}`)
    return undefined
  }
}

/** Whether a task's agreeing outputs are replayed anyway: a draw from the chain seed, so every oracle agrees. */
export function isSampled (seed: Hex, taskId: bigint, sampleRate: number): boolean {
  return seedToUnit(deriveSeed(SAMPLE_DOMAIN, hexToBytes(seed), taskId)) < sampleRate
}

/** The reputation input for a miner's outcome. */
export function outcomeVerdict (outcome: MinerVerdict.Outcome): VerdictCode {
  switch (outcome) {
    case MinerVerdict.Outcome.ACCEPTED: return V.PASS
    case MinerVerdict.Outcome.OUTLIER: return V.OUTLIER
    case MinerVerdict.Outcome.REJECTED_REPLAY:
    case MinerVerdict.Outcome.REJECTED_STRUCTURAL: return V.REPLAY_FAIL
    case MinerVerdict.Outcome.REVEAL_MISMATCH: return V.COMMIT_MISMATCH
    default: return V.TIMEOUT
  }
}

/** The structural rung: the output names the task and its model, holds token ids, fits the limits. */
export function checkOutputDoc (doc: OutputDoc, q: TaskQueued): void {
  if (doc == null || typeof doc !== 'object') {
    throw new Error('output is not a document')
  }
  if (doc.taskId !== q.taskId.toString()) {
    throw new Error(`output names task ${doc.taskId}`)
  }
  if (doc.modelId !== q.params?.modelId) {
    throw new Error(`output names model ${doc.modelId}`)
  }
  if (!Array.isArray(doc.tokens) || !doc.tokens.every(t => Number.isInteger(t) && t >= 0)) {
    throw new Error('output tokens are not token ids')
  }
  if (doc.tokens.length > (q.params?.maxTokens ?? 0)) {
    throw new Error(`${doc.tokens.length} tokens, max ${q.params?.maxTokens}`)
  }
  if (!['length', 'eos', 'stop'].includes(doc.finishReason) || typeof doc.text !== 'string') {
    throw new Error('bad finish reason or text')
  }
}
