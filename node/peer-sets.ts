/**
 * `PeerSet` (@libp2p/peer-collections) keeps peer ids as strings and turns
 * each back into a `PeerId` whenever it is iterated, and its `difference`,
 * `intersection` and `union` iterate. A secp256k1 peer id's key is a
 * compressed point, so each turn is a modular square root in JavaScript
 * (~0.4 ms here). kad-dht compares its closest-peer set with the previous
 * one every 5 s (routing-table/closest-peers.ts), which costs an idle node
 * 2 × 20 such decodes per round (`npm run bench -- cost`, CPU profile),
 * whether or not anything changed.
 *
 * `useStringPeerSetAlgebra` gives the class set algebra on the strings it
 * holds: the same members, the same results, and a `PeerId` is made only
 * when someone iterates the result (kad-dht then tags the peers that
 * changed, usually none). `PeerSet` is not one of this package's
 * dependencies, so the class is taken from the DHT's own instance.
 */
import type { KadDHT } from '@libp2p/kad-dht'

const INSTALLED = Symbol.for('cortensor.peer-set-algebra')
/** the class's own methods, kept on its prototype once replaced (tests compare against them) */
export const ORIGINAL_ALGEBRA = Symbol.for('cortensor.peer-set-algebra.originals')

interface StringPeerSet {
  set: Set<string>
  has(peer: { toString(): string }): boolean
}

type PeerSetClass = new () => StringPeerSet

/** Patch the `PeerSet` class the DHT uses (idempotent); false if its shape is not the expected one. */
export function useStringPeerSetAlgebra (dht: KadDHT): boolean {
  const sample = (dht as unknown as { routingTable?: { closestPeerTagger?: { closestPeers?: unknown } } }).routingTable?.closestPeerTagger?.closestPeers
  if (sample == null || !((sample as StringPeerSet).set instanceof Set)) {
    return false
  }
  const PeerSet = (sample as object).constructor as PeerSetClass
  const proto = PeerSet.prototype as unknown as Record<string | symbol, unknown>
  if (proto[INSTALLED] === true) {
    return true
  }
  if (typeof proto.difference !== 'function' || typeof proto.intersection !== 'function' || typeof proto.union !== 'function') {
    return false
  }
  const keys = (other: unknown): Set<string> | undefined => (other as Partial<StringPeerSet>)?.set instanceof Set ? (other as StringPeerSet).set : undefined
  const make = (members: Iterable<string>): StringPeerSet => {
    const out = new PeerSet()
    for (const s of members) {
      out.set.add(s)
    }
    return out
  }
  const original = { difference: proto.difference, intersection: proto.intersection, union: proto.union } as unknown as Record<string, (this: StringPeerSet, other: unknown) => StringPeerSet>
  proto.difference = function (this: StringPeerSet, other: unknown): StringPeerSet {
    const theirs = keys(other)
    return theirs == null ? original.difference.call(this, other) : make([...this.set].filter(s => !theirs.has(s)))
  }
  proto.intersection = function (this: StringPeerSet, other: unknown): StringPeerSet {
    const theirs = keys(other)
    return theirs == null ? original.intersection.call(this, other) : make([...theirs].filter(s => this.set.has(s)))
  }
  proto.union = function (this: StringPeerSet, other: unknown): StringPeerSet {
    const theirs = keys(other)
    return theirs == null ? original.union.call(this, other) : make([...theirs, ...this.set])
  }
  proto[ORIGINAL_ALGEBRA] = original
  proto[INSTALLED] = true
  return true
}
