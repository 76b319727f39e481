/**
 * Who signed a 32-byte hash with an EVM signature (r ‖ s ‖ v): precommits,
 * reveals and replay verdicts. viem recovers the key in JavaScript (about
 * 2.4 ms here), and every node checks the signature of every precommit it
 * relays, so a Node process installs a faster recovery with the same answers
 * (`node/native-secp256k1.ts`); the browser keeps viem's.
 */
import { bytesToHex, recoverAddress } from 'viem'
import type { Address } from 'viem'

export type SignerRecovery = (hash: Uint8Array, signature: Uint8Array) => Promise<Address>

/** viem's recovery: the reference every other implementation must agree with. */
export const recoverSignerWithViem: SignerRecovery = async (hash, signature) =>
  recoverAddress({ hash: bytesToHex(hash), signature: bytesToHex(signature) })

let recovery: SignerRecovery = recoverSignerWithViem

/** The address whose key signed `hash`; throws where the signature does not recover. */
export async function recoverSigner (hash: Uint8Array, signature: Uint8Array): Promise<Address> {
  return recovery(hash, signature)
}

/** Use `fn` for every recovery in this process. */
export function useSignerRecovery (fn: SignerRecovery): void {
  recovery = fn
}
