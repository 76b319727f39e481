/**
 * What a miner reveals for a task it committed to. An honest miner reveals
 * its committed output and salt once, signed (EIP-712 `Reveal`): a signed
 * reveal that contradicts the signed precommit is slashable on chain, so
 * signing what it committed to costs an honest miner nothing.
 *
 * The faults of the fraud tests and demos are other strategies, picked once
 * from `MinerFaults` when the role starts (behaviour.ts): reveal another salt (a mismatch,
 * not provable), sign and reveal a second, different output (equivocation,
 * provable with the precommit), or reveal what another miner revealed (the
 * copier, node/roles/miner/copy-fault.ts).
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { signReveal } from '../../../contracts/index.ts'
import { addressToBytes } from '../../../protocols/messages/index.ts'
import { cidDigest } from '../shared/records.ts'
import type { CopyFault } from './copy-fault.ts'
import type { Committed, MinerComponents, MinerFaults } from './types.ts'
import type { HubDomain } from '../../../contracts/index.ts'
import type { Reveal } from '../../../protocols/messages/index.ts'
import type { OutputDoc } from '../shared/records.ts'
import type { Hex } from 'viem'

/** The reveals to gossip, in order (none: reveal nothing). */
export type RevealStrategy = (committed: Committed | undefined, taskId: bigint) => Promise<Reveal[]>

export interface RevealsInit {
  node: Pick<MinerComponents, 'peerIdentity' | 'store'>
  domain: HubDomain
  /** the miner's address, lower case */
  address: string
  faults?: MinerFaults
  /** the copier's source of other miners' reveals */
  copier: Pick<CopyFault, 'reveal'>
}

/** The miner's EIP-712-signed reveal of (output, salt). */
export async function signedReveal (init: Pick<RevealsInit, 'node' | 'domain' | 'address'>, taskId: bigint, outputCid: CID, salt: Hex): Promise<Reveal> {
  const signature = await signReveal(privateKeyToAccount(init.node.peerIdentity.privateKey), init.domain, { taskId, outputDigest: cidDigest(outputCid), salt })
  return { taskId, miner: addressToBytes(init.address as Hex), outputCid: outputCid.bytes, salt: Uint8Array.from(hexToBytes(salt)), signature: Uint8Array.from(hexToBytes(signature)) }
}

/** The strategy `faults` call for; the honest one without faults. */
export function revealStrategy (init: RevealsInit): RevealStrategy {
  const faults = init.faults
  if (faults?.withholdReveal === true) {
    return async () => []
  }
  if (faults?.copyOthers === true) {
    return async (_committed, taskId) => {
      const copy = await init.copier.reveal(taskId)
      return copy == null ? [] : [copy]
    }
  }
  if (faults?.revealMismatch === true) {
    // another salt than the committed one: the reveal does not hash back to the commitment
    return async (c) => c == null ? [] : [await signedReveal(init, c.taskId, CID.parse(c.outputCid), bytesToHex(randomBytes(32)))]
  }
  if (faults?.equivocate === true) {
    return async (c) => {
      if (c == null) {
        return []
      }
      // the committed output, and a second output (stored, so it resolves) signed just the same
      const honest = await signedReveal(init, c.taskId, CID.parse(c.outputCid), c.salt)
      const committed = await init.node.store.getJson<OutputDoc>(CID.parse(c.outputCid))
      const other = await init.node.store.putJson({ ...committed, text: `${committed.text} (another output)` })
      return [honest, await signedReveal(init, c.taskId, other, c.salt)]
    }
  }
  return async (c) => c == null ? [] : [await signedReveal(init, c.taskId, CID.parse(c.outputCid), c.salt)]
}
