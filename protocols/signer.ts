/**
 * Who signed a 32-byte hash with an EVM signature (r ‖ s ‖ v): precommits,
 * reveals and replay verdicts. viem recovers the key in JavaScript (3–4 ms
 * here), and every node checks the signature of every precommit it
 * relays, so a Node process installs a faster recovery with the same answers
 * (`node/native-secp256k1.ts`); the browser keeps viem's.
 */
import { bytesToHex, hashTypedData, hexToBytes, recoverAddress } from 'viem'
import type { Address, TypedData, TypedDataDefinition } from 'viem'

export type SignerRecovery = (hash: Uint8Array, signature: Uint8Array) => Promise<Address>

/** viem's recovery: the reference every other implementation must agree with. */
export const recoverSignerWithViem: SignerRecovery = async (hash, signature) =>
  recoverAddress({ hash: bytesToHex(hash), signature: bytesToHex(signature) })

let recovery: SignerRecovery = recoverSignerWithViem

/** The address whose key signed `hash`; throws where the signature does not recover. */
export async function recoverSigner (hash: Uint8Array, signature: Uint8Array): Promise<Address> {
  return recovery(hash, signature)
}

/** The signer of EIP-712 typed data; rejects where the data does not hash or the signature does not recover. */
export async function recoverTypedDataSigner<const T extends TypedData | Record<string, unknown>, P extends keyof T | 'EIP712Domain'> (data: TypedDataDefinition<T, P>, signature: Uint8Array): Promise<Address> {
  return recovery(hexToBytes(hashTypedData(data)), signature)
}

/** Use `fn` for every recovery in this process. */
export function useSignerRecovery (fn: SignerRecovery): void {
  recovery = fn
}
