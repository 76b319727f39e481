import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { kadDHT } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { ORIGINAL_ALGEBRA, useStringPeerSetAlgebra } from '../../node/peer-sets.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

interface AnyPeerSet {
  set: Set<string>
  add(p: PeerId): void
  difference(o: AnyPeerSet): AnyPeerSet
  intersection(o: AnyPeerSet): AnyPeerSet
  union(o: AnyPeerSet): AnyPeerSet
  [Symbol.iterator](): Iterator<PeerId>
}

describe('kad-dht peer sets: set algebra on the id strings', function () {
  this.timeout(30_000)
  let node: Libp2p<{ dht: KadDHT, identify: unknown, ping: unknown }>

  before(async () => {
    node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: '/peer-sets-test/kad/1.0.0' }) } })
  })
  after(async () => { await node?.stop() })

  it('gives the results the class gave, in the same order, for the DHT\'s own PeerSet class', async () => {
    const sample = (node.services.dht as any).routingTable.closestPeerTagger.closestPeers as AnyPeerSet
    const PeerSet = sample.constructor as new () => AnyPeerSet
    // the class's own methods, also when another node of this process installed the patch already
    const installed = (PeerSet.prototype as any)[ORIGINAL_ALGEBRA] as Pick<AnyPeerSet, 'difference' | 'intersection' | 'union'> | undefined
    const before = installed ?? { difference: PeerSet.prototype.difference, intersection: PeerSet.prototype.intersection, union: PeerSet.prototype.union }
    const ids = await Promise.all(Array.from({ length: 12 }, async () => peerIdFromPrivateKey(await generateKeyPair('secp256k1'))))
    const of = (xs: PeerId[]): AnyPeerSet => { const s = new PeerSet(); xs.forEach(x => { s.add(x) }); return s }
    const a = of(ids.slice(0, 8))
    const b = of(ids.slice(4, 12))
    const strings = (s: AnyPeerSet): string[] => [...s.set]
    const expected = {
      difference: strings(before.difference.call(a, b)),
      intersection: strings(before.intersection.call(a, b)),
      union: strings(before.union.call(a, b))
    }
    expect(useStringPeerSetAlgebra(node.services.dht)).to.equal(true)
    expect(PeerSet.prototype.difference).to.not.equal(before.difference)
    expect(strings(a.difference(b))).to.deep.equal(expected.difference)
    expect(strings(a.intersection(b))).to.deep.equal(expected.intersection)
    expect(strings(a.union(b))).to.deep.equal(expected.union)
    // results are PeerSets whose members iterate as the same peer ids
    expect([...a.difference(b)].map(String)).to.deep.equal(ids.slice(0, 4).map(String))
    // installing twice changes nothing
    const patched = PeerSet.prototype.difference
    expect(useStringPeerSetAlgebra(node.services.dht)).to.equal(true)
    expect(PeerSet.prototype.difference).to.equal(patched)
  })
})
