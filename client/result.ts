/**
 * The accepted output of a settled task: the first miner the verdicts accept
 * whose reveal is known, its output fetched from it (or any other holder)
 * and read from the store. Undefined when no such miner is known within 5 s
 * of the settlement (the verdict gossip can trail it by a moment).
 */
import { CID } from 'multiformats/cid'
import { fetchFromHolders } from '../protocols/blocks/index.ts'
import { MinerVerdict } from '../protocols/messages/index.ts'
import type { ClientNode, Tracked } from './tracked.ts'
import type { OutputDoc } from '../protocols/blocks/index.ts'
import type { PoolView } from '../protocols/pool/view.ts'

export async function fetchAcceptedOutput (node: ClientNode, pool: PoolView, t: Tracked): Promise<{ miner: string, outputCid: string, doc: OutputDoc } | undefined> {
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
  const holders = [pool.get(miner)?.peerId, ...t.ackers.filter(a => a.miner === miner).map(a => a.peer)]
  if (node.connect != null) {
    const unique = [...new Map(holders.filter(p => p != null).map(p => [p.toString(), p])).values()]
    await Promise.allSettled(unique.map(async p => node.connect?.(p, { signal: AbortSignal.timeout(20_000) })))
  }
  await fetchFromHolders(node.libp2p, node.store, node.network, holders, CID.parse(outputCid))
  const doc = await node.store.getJson<OutputDoc>(CID.parse(outputCid), { signal: AbortSignal.timeout(15_000) })
  return { miner, outputCid, doc }
}
