/**
 * libp2p's secp256k1 keys sign and verify in pure JavaScript (`@noble/curves`
 * inside `@libp2p/crypto`): here ~2–3 ms per verify, ~1 ms per signature.
 * Every node checks the author's signature on every gossip message it
 * accepts, and a node's identity is a secp256k1 key (it is also the node's
 * EVM account), so in a busy process these checks take a large share of the
 * CPU and sit on the path of every announcement, assignment and ack.
 *
 * Node ships OpenSSL, which does the same work natively (~0.6 ms per verify).
 * `@libp2p/crypto` offers no hook to choose the implementation, so in Node
 * processes `useNativeSecp256k1()` points the two methods of its key classes
 * at `node:crypto`, keeping noble's rules exactly. Verify: sha-256 of the
 * message, a DER signature, and only low S (s ≤ n/2, as noble requires), so a
 * signature noble rejects is rejected. Sign: sha-256 of the message, DER,
 * normalized to low S, so noble (in a browser peer, say) accepts every
 * signature made here.
 * The browser build never imports this file.
 *
 * It also installs a faster recovery of EVM signers (precommits, reveals,
 * replay verdicts; every node checks every precommit it relays):
 * libsecp256k1 compiled to WebAssembly (`tiny-secp256k1`, bitcoinjs's), about
 * 0.5 ms against viem's 3–4 ms. Where it refuses a signature, viem decides,
 * so the answers are viem's exactly.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { recover } from 'tiny-secp256k1'
import { getAddress, keccak256 } from 'viem'
import { recoverSignerWithViem, useSignerRecovery } from '../protocols/signer.ts'
import { UnexpectedKeyTypeError } from './errors.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { KeyObject } from 'node:crypto'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { Address } from 'viem'

const INSTALLED = Symbol.for('cortensor.native-secp256k1')
/** DER header of a SubjectPublicKeyInfo for an id-ecPublicKey on secp256k1 with a 33-byte compressed point */
const SPKI_PREFIX = Uint8Array.from(Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'))
const N = secp256k1.Point.CURVE().n
/** peers whose keys stay converted; more than any mesh a node sees at once */
const PUBLIC_KEY_CACHE = 4096

interface PublicKeyLike {
  raw: Uint8Array
  verify(data: Uint8Array | Uint8ArrayList, sig: Uint8Array, options?: AbortOptions): boolean
}
interface PrivateKeyLike {
  raw: Uint8Array
  publicKey: { raw: Uint8Array }
  sign(data: Uint8Array | Uint8ArrayList, options?: AbortOptions): Uint8Array
}

const publicKeys = new Map<string, KeyObject>()
const privateKeys = new WeakMap<object, KeyObject>()

function publicKeyObject (compressed: Uint8Array): KeyObject {
  const id = Buffer.from(compressed).toString('base64')
  let key = publicKeys.get(id)
  if (key == null) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, compressed]), format: 'der', type: 'spki' })
    if (publicKeys.size >= PUBLIC_KEY_CACHE) {
      publicKeys.delete(publicKeys.keys().next().value as string)
    }
  } else {
    publicKeys.delete(id)
  }
  publicKeys.set(id, key)
  return key
}

function privateKeyObject (key: PrivateKeyLike): KeyObject {
  let object = privateKeys.get(key)
  if (object == null) {
    const point = secp256k1.Point.fromBytes(key.publicKey.raw).toBytes(false)
    const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')
    object = createPrivateKey({
      key: { kty: 'EC', crv: 'secp256k1', d: b64(key.raw), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) },
      format: 'jwk'
    })
    privateKeys.set(key, object)
  }
  return object
}

function bytesOf (data: Uint8Array | Uint8ArrayList): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/** Verify as `@libp2p/crypto` does (sha-256, DER, low S only), with OpenSSL. */
export function verifyNative (compressedKey: Uint8Array, data: Uint8Array | Uint8ArrayList, sig: Uint8Array): boolean {
  let parsed
  try {
    parsed = secp256k1.Signature.fromBytes(sig, 'der')
  } catch {
    return false
  }
  if (parsed.hasHighS()) {
    return false
  }
  return nodeVerify('sha256', bytesOf(data), publicKeyObject(compressedKey), sig)
}

/** Sign as `@libp2p/crypto` does (sha-256, DER, low S), with OpenSSL. */
export function signNative (key: PrivateKeyLike, data: Uint8Array | Uint8ArrayList): Uint8Array {
  const der = nodeSign('sha256', bytesOf(data), privateKeyObject(key))
  const parsed = secp256k1.Signature.fromBytes(der, 'der')
  return parsed.hasHighS() ? new secp256k1.Signature(parsed.r, N - parsed.s).toBytes('der') : Uint8Array.from(der)
}

/**
 * The EVM address that signed `hash` (r ‖ s ‖ v, v 0, 1, 27 or 28), recovered
 * by libsecp256k1; anything it refuses goes to viem, which throws or answers.
 */
export async function recoverSignerFast (hash: Uint8Array, signature: Uint8Array): Promise<Address> {
  if (hash.byteLength === 32 && signature.byteLength === 65) {
    const v = signature[64]
    const bit = v >= 27 ? v - 27 : v
    if (bit === 0 || bit === 1) {
      let key: Uint8Array | null = null
      try {
        key = recover(hash, signature.subarray(0, 64), bit, false)
      } catch {}
      if (key != null) {
        return getAddress(`0x${keccak256(key.subarray(1)).slice(-40)}`)
      }
    }
  }
  return recoverSignerWithViem(hash, signature)
}

/** Route libp2p's secp256k1 sign and verify to `node:crypto`, and EVM signer recovery to libsecp256k1, in this process (idempotent). */
export function useNativeSecp256k1 (): void {
  useSignerRecovery(recoverSignerFast)
  // any valid key yields the classes; this one is fixed so no randomness is spent
  const probe = privateKeyFromRaw(new Uint8Array(32).fill(1))
  if (probe.type !== 'secp256k1') {
    throw new UnexpectedKeyTypeError(probe.type)
  }
  const privateProto = Object.getPrototypeOf(probe) as PrivateKeyLike & Record<symbol, boolean>
  const publicProto = Object.getPrototypeOf(probe.publicKey) as PublicKeyLike & Record<symbol, boolean>
  if (publicProto[INSTALLED] === true) {
    return
  }
  publicProto.verify = function (this: PublicKeyLike, data, sig, options) {
    options?.signal?.throwIfAborted()
    return verifyNative(this.raw, data, sig)
  }
  privateProto.sign = function (this: PrivateKeyLike, data, options) {
    options?.signal?.throwIfAborted()
    return signNative(this, data)
  }
  publicProto[INSTALLED] = true
  privateProto[INSTALLED] = true
}
