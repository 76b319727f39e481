/**
 * One secp256k1 key per node: the libp2p peer key is also the node's EVM
 * account, so a peer id maps to an address without any registry lookup.
 * Browser-safe.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { publicKeyToAddress } from 'viem/accounts'
import type { PeerId } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

export class NotSecp256k1PeerError extends Error {
  static name = 'NotSecp256k1PeerError'

  constructor (peer: string) {
    super(`peer ${peer} does not use a secp256k1 key, so it has no EVM address`)
    this.name = 'NotSecp256k1PeerError'
  }
}

/** The EVM address of a peer whose identity key is secp256k1. */
export function peerIdToAddress (peerId: PeerId): Address {
  if (peerId.type !== 'secp256k1' || peerId.publicKey == null) {
    throw new NotSecp256k1PeerError(peerId.toString())
  }
  return publicKeyBytesToAddress(peerId.publicKey.raw)
}

/** Compressed (33 bytes) or uncompressed (65 bytes) secp256k1 public key → address. */
export function publicKeyBytesToAddress (publicKey: Uint8Array): Address {
  const uncompressed = secp256k1.Point.fromBytes(publicKey).toBytes(false)
  let hex = '0x'
  for (const b of uncompressed) {
    hex += b.toString(16).padStart(2, '0')
  }
  return publicKeyToAddress(hex as Hex)
}
