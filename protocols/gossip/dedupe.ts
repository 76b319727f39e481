/**
 * Gossipsub's fast message id: duplicates are dropped before their
 * signature is checked. Without one, gossipsub verifies the author's
 * secp256k1 signature (pure JavaScript, ~3–4 ms here) on every copy a node
 * receives, one per mesh peer that forwards it, before it finds the copy is a
 * duplicate. The id hashes every field of the raw message, so only
 * byte-identical copies share it, and gossipsub records it only after the
 * first copy validated: a forgery can neither pass as nor displace the
 * genuine message. Pure and browser-safe.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { toString } from 'uint8arrays/to-string'

interface RawMessage {
  from?: Uint8Array
  data?: Uint8Array
  seqno?: Uint8Array
  topic: string
  signature?: Uint8Array
  key?: Uint8Array
}

const utf8 = new TextEncoder()
const EMPTY = new Uint8Array(0)

export function fastMessageId (msg: RawMessage): string {
  const parts = [msg.from ?? EMPTY, msg.seqno ?? EMPTY, utf8.encode(msg.topic), msg.data ?? EMPTY, msg.signature ?? EMPTY, msg.key ?? EMPTY]
  // length-prefixed, so field boundaries cannot shift
  const size = parts.reduce((n, p) => n + 4 + p.byteLength, 0)
  const buf = new Uint8Array(size)
  const view = new DataView(buf.buffer)
  let at = 0
  for (const p of parts) {
    view.setUint32(at, p.byteLength)
    buf.set(p, at + 4)
    at += 4 + p.byteLength
  }
  return toString(sha256(buf), 'base64')
}
