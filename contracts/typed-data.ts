/**
 * EIP-712 statements miners and oracles sign, in one place. Browser-safe: viem only, no Node imports
 * (the browser client verifies precommits with the same definitions).
 */
import { parseSignature, recoverTypedDataAddress, signatureToCompactSignature } from 'viem'
import type { Address, Hex, LocalAccount, TypedDataDomain } from 'viem'

export const HUB_DOMAIN_NAME = 'CortensorHub'
export const HUB_DOMAIN_VERSION = '1'

export const hubTypes = {
  Precommit: [
    { name: 'taskId', type: 'uint256' },
    { name: 'outputDigest', type: 'bytes32' },
    { name: 'salt', type: 'bytes32' }
  ],
  Reveal: [
    { name: 'taskId', type: 'uint256' },
    { name: 'outputDigest', type: 'bytes32' },
    { name: 'salt', type: 'bytes32' }
  ],
  ReplayVerdict: [
    { name: 'taskId', type: 'uint256' },
    { name: 'miner', type: 'address' },
    { name: 'outputDigest', type: 'bytes32' },
    { name: 'passed', type: 'bool' }
  ]
} as const

export interface HubDomain extends TypedDataDomain {
  name: string
  version: string
  chainId: number
  verifyingContract: Address
}

export function hubDomain (chainId: number, hub: Address): HubDomain {
  return { name: HUB_DOMAIN_NAME, version: HUB_DOMAIN_VERSION, chainId, verifyingContract: hub }
}

export interface OutputStatement {
  taskId: bigint
  outputDigest: Hex
  salt: Hex
}

export interface ReplayVerdictStatement {
  taskId: bigint
  miner: Address
  outputDigest: Hex
  passed: boolean
}

/** A 65-byte signature as the EIP-2098 (r, vs) pair the contract takes. */
export interface CompactSig {
  r: Hex
  vs: Hex
}

export function toCompact (signature: Hex): CompactSig {
  const c = signatureToCompactSignature(parseSignature(signature))
  return { r: c.r, vs: c.yParityAndS }
}

type Signer = Pick<LocalAccount, 'signTypedData'>

/** The miner's precommit: binds it to an output without revealing it (the salt hides the digest). */
export async function signPrecommit (account: Signer, domain: HubDomain, statement: OutputStatement): Promise<Hex> {
  return account.signTypedData({ domain, types: hubTypes, primaryType: 'Precommit', message: statement })
}

/** The miner's reveal on the mesh; one that differs from its precommit is slashable. */
export async function signReveal (account: Signer, domain: HubDomain, statement: OutputStatement): Promise<Hex> {
  return account.signTypedData({ domain, types: hubTypes, primaryType: 'Reveal', message: statement })
}

/** An oracle's replay-check verdict on a miner's committed output. */
export async function signReplayVerdict (account: Signer, domain: HubDomain, statement: ReplayVerdictStatement): Promise<Hex> {
  return account.signTypedData({ domain, types: hubTypes, primaryType: 'ReplayVerdict', message: statement })
}

/** The address that signed a precommit (compare with the assigned miner). */
export async function recoverPrecommitSigner (domain: HubDomain, statement: OutputStatement, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: hubTypes, primaryType: 'Precommit', message: statement, signature })
}
