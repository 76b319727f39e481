/** A session as the hub has it, read for the client and the page. */
import { getSession } from '../contracts/actions/sessions.ts'
import type { SessionInfo } from './types.ts'
import type { ChainContext } from '../contracts/context.ts'

/** A session as the hub has it; `availableWei` is the deposit not yet reserved by tasks. */
export async function readSession (chain: Pick<ChainContext, 'wallet' | 'hub'>, sessionId: bigint): Promise<SessionInfo & { availableWei: string }> {
  const s = await getSession(chain.wallet, { hub: chain.hub, sessionId })
  return {
    sessionId: sessionId.toString(),
    owner: s.owner,
    modelId: s.modelId,
    redundancy: s.redundancy,
    pricePerTokenWei: s.pricePerTokenWei.toString(),
    depositWei: (s.availableWei + s.reservedWei).toString(),
    availableWei: s.availableWei.toString(),
    reservedWei: s.reservedWei.toString(),
    spentWei: '0',
    tasks: s.taskCount,
    closed: s.closed
  }
}
