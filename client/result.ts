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
import { fetchFromHolders } from '../protocols/blocks/index.ts'
import { MinerVerdict } from '../protocols/messages/index.ts'
import type { ClientNode, Tracked } from './tracked.ts'
import type { OutputDoc } from '../protocols/blocks/index.ts'
import type { PoolView } from '../protocols/pool/view.ts'
import type { PeerId } from '@libp2p/interface'

/** how long a settled task's output is looked for before the task is reported without it */
export const RESULT_FETCH_TIMEOUT_MS = 60_000
/** one read of the local store after a round of fetches (bitswap may still find it meanwhile) */
const STORE_READ_MS = 5_000
/** pause between rounds over the holders, doubling up to the cap */
const RETRY_FIRST_MS = 250
const RETRY_MAX_MS = 4_000

export async function fetchAcceptedOutput (node: ClientNode, pool: PoolView, t: Tracked, timeoutMs = RESULT_FETCH_TIMEOUT_MS): Promise<{ miner: string, outputCid: string, doc: OutputDoc } | undefined> {
  const deadline = Date.now() + 5000
  while (t.outcomes.size === 0 && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 20))
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
    await Promise.allSettled(holders.map(async p => node.connect?.(p, { signal: AbortSignal.timeout(20_000) })))
  }
  const end = Date.now() + timeoutMs
  let pause = RETRY_FIRST_MS
  let lastError: Error | undefined
  for (;;) {
    try {
      await fetchFromHolders(node.libp2p, node.store, node.network, holders, cid, AbortSignal.timeout(Math.max(1, end - Date.now())))
      const doc = await node.store.getJson<OutputDoc>(cid, { signal: AbortSignal.timeout(Math.max(1, Math.min(STORE_READ_MS, end - Date.now()))) })
      return { miner, outputCid, doc }
    } catch (err: any) {
      lastError = err
    }
    if (Date.now() + pause >= end) {
      throw lastError ?? new Error(`no holder sent ${outputCid}`)
    }
    await sleep(pause)
    pause = Math.min(RETRY_MAX_MS, pause * 2)
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
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
