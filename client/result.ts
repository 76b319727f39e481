/**
 * The accepted output of a settled task: the first miner the verdicts accept
 * whose reveal is known, its output fetched from every peer known to hold it
 * and read from the store. Undefined when no such miner is known within 5 s
 * of the settlement (the verdict gossip can trail it by a moment).
 *
 * Holders are tried in turn, again and again, until the output arrives or
 * RESULT_FETCH_TIMEOUT_MS passes: the accepted miner, every other miner that
 * revealed the same CID (same bytes), and the oracles that judged the task
 * (they fetched the output to validate it). Under load one holder's answer
 * can take longer than one attempt's few seconds; a settled, paid task must
 * not be reported failed for that.
 */
import { CID } from 'multiformats/cid'
import pRetry from 'p-retry'
import { fetchFromHolders } from '../protocols/blocks/index.ts'
import { MinerVerdict } from '../protocols/messages/index.ts'
import { sleep } from './sleep.ts'
import type { ClientNode, Tracked } from './tracked.ts'
import type { MinerOutcome, TaskResult } from './types.ts'
import type { OutputDoc } from '../protocols/blocks/index.ts'
import type { PoolView } from '../protocols/pool/view.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

/** how long a settled task's output is looked for before the task is reported without it */
export const RESULT_FETCH_TIMEOUT_MS = 60_000
/** how long a settlement waits for the verdict gossip that names its accepted miner */
const VERDICT_WAIT_MS = 5000
const VERDICT_POLL_MS = 20
/** one read of the local store after a round of fetches (bitswap may still find it meanwhile) */
const STORE_READ_MS = 5_000
/** pause between rounds over the holders, doubling up to the cap */
const RETRY_FIRST_MS = 250
const RETRY_MAX_MS = 4_000

export interface AcceptedOutput {
  miner: string
  outputCid: string
  doc: OutputDoc
}

/**
 * Fetch the accepted output of `t`; `signal` (the task's) ends the wait and the fetches at once.
 * Rejects with the last fetch's error when no holder sent it in time.
 */
export async function fetchAcceptedOutput (node: ClientNode, pool: PoolView, t: Tracked, timeoutMs = RESULT_FETCH_TIMEOUT_MS, signal?: AbortSignal): Promise<AcceptedOutput | undefined> {
  const deadline = Date.now() + VERDICT_WAIT_MS
  while (t.outcomes.size === 0 && Date.now() < deadline) {
    await sleep(VERDICT_POLL_MS, signal)
  }
  const accepted = [...t.outcomes.entries()].find(([m, o]) => o === MinerVerdict.Outcome.ACCEPTED && t.reveals.has(m))
  if (accepted == null) {
    return undefined
  }
  const [miner] = accepted
  const outputCid = t.reveals.get(miner) as string
  const cid = CID.parse(outputCid)
  const holders = holdersOf(pool, t, miner, outputCid)
  if (node.connect != null) {
    await Promise.allSettled(holders.map(async p => node.connect?.(p, { signal: withSignal(AbortSignal.timeout(20_000), signal) })))
  }
  const end = Date.now() + timeoutMs
  return pRetry(async () => {
    await fetchFromHolders(node.libp2p, node.store, node.network, holders, cid, withSignal(AbortSignal.timeout(Math.max(1, end - Date.now())), signal))
    const doc = await node.store.getJson<OutputDoc>(cid, { signal: withSignal(AbortSignal.timeout(Math.max(1, Math.min(STORE_READ_MS, end - Date.now()))), signal) })
    return { miner, outputCid, doc }
  }, {
    retries: Infinity,
    minTimeout: RETRY_FIRST_MS,
    factor: 2,
    maxTimeout: RETRY_MAX_MS,
    // no pause that would end past the deadline: the last error is the answer then
    shouldRetry: ({ retryDelay }) => Date.now() + retryDelay < end,
    ...(signal != null ? { signal } : {})
  })
}

function withSignal (timeout: AbortSignal, signal?: AbortSignal): AbortSignal {
  return signal != null ? AbortSignal.any([timeout, signal]) : timeout
}

/** The peers that hold `outputCid`: the accepted miner first, then the other miners that revealed it, then the judging oracles. */
function holdersOf (pool: PoolView, t: Tracked, accepted: string, outputCid: string): PeerId[] {
  const miners = [accepted, ...[...t.reveals.entries()].filter(([m, c]) => c === outputCid && m !== accepted).map(([m]) => m)]
  const peers: Array<PeerId | undefined> = []
  for (const m of miners) {
    peers.push(pool.get(m)?.peerId, ...t.ackers.filter(a => a.miner === m).map(a => a.peer))
  }
  peers.push(...(t.judges ?? []))
  return [...new Map(peers.filter((p): p is PeerId => p != null).map(p => [p.toString(), p])).values()]
}

const OUTCOMES: Record<string, MinerOutcome> = {
  ACCEPTED: 'accepted',
  REJECTED_STRUCTURAL: 'rejected-structural',
  REJECTED_REPLAY: 'rejected-replay',
  OUTLIER: 'outlier',
  MISSING: 'missing',
  REVEAL_MISMATCH: 'reveal-mismatch',
  UNVERIFIABLE: 'unverifiable'
}

/** The settled result of `t` from its accepted output and its settlement transaction (`submitTxHash` is filled in by the handle). */
export function settledResult (t: Tracked, output: AcceptedOutput, txHash: Hex): TaskResult {
  const { outputCid, doc } = output
  const miners = [...new Set([...t.record.miners, ...t.outcomes.keys()])].map(address => ({ address, outcome: OUTCOMES[t.outcomes.get(address) ?? 'MISSING'] ?? 'missing' }))
  return {
    taskId: t.record.taskId,
    sessionId: t.record.sessionId,
    modelId: doc.modelId,
    text: doc.text,
    completionTokens: doc.tokens.length,
    promptTokens: t.promptTokens ?? 0,
    finishReason: doc.finishReason,
    ...(typeof doc.chatTemplate === 'string' ? { chatTemplate: doc.chatTemplate } : {}),
    ...(Array.isArray(doc.embeddings) ? { embeddings: doc.embeddings } : {}),
    outputCid,
    miners,
    txHash,
    submitTxHash: '',
    submittedAtMs: t.record.submittedAtMs,
    settledAtMs: Date.now()
  }
}
