/**
 * One secp256k1 key per node: the libp2p peer key is also the node's EVM
 * account, so a peer id maps to an address without any registry lookup.
 * Browser-safe.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex } from 'viem'
import { publicKeyToAddress } from 'viem/accounts'
import type { PeerId } from '@libp2p/interface'
import type { Address } from 'viem'

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

/**
 * Keys seen lately and their addresses: every gossip message is checked
 * against its author's address, and decompressing the key (a modular square
 * root in JavaScript) and hashing it cost more than the rest of the check.
 */
const addresses = new Map<string, Address>()
const MAX_CACHED_ADDRESSES = 1024

/** Compressed (33 bytes) or uncompressed (65 bytes) secp256k1 public key → address. */
export function publicKeyBytesToAddress (publicKey: Uint8Array): Address {
  const key = bytesToHex(publicKey)
  let address = addresses.get(key)
  if (address == null) {
    // throws on bytes that are not a point of the curve: nothing is cached for them
    address = publicKeyToAddress(bytesToHex(secp256k1.Point.fromBytes(publicKey).toBytes(false)))
    if (addresses.size >= MAX_CACHED_ADDRESSES) {
      addresses.delete(addresses.keys().next().value as string)
    }
    addresses.set(key, address)
  }
  return address
}
