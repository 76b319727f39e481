import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { peerKeeper } from '../../node/peer-keeper.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const INTERVAL_MS = 100

async function plainNode (keeper = false): Promise<Libp2p> {
  const services: Record<string, (components: any) => unknown> = keeper ? { peerKeeper: peerKeeper({ intervalMs: INTERVAL_MS, minConnections: 8, dialTimeoutMs: 1000 }) } : {}
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services
  })
}

describe('peer keeper', function () {
  const nodes: Libp2p[] = []
  afterEach(async function () {
    await Promise.all(nodes.splice(0).map(async n => n.stop()))
  })

  /** Count the keeper's dials to `peer`. */
  function countDials (keeper: Libp2p, peer: PeerId): number[] {
    const dials: number[] = []
    const manager = (keeper as unknown as { components: { connectionManager: { openConnection(peer: unknown, options?: unknown): Promise<unknown> } } }).components.connectionManager
    const open = manager.openConnection.bind(manager)
    manager.openConnection = async (target, options) => {
      if ((target as PeerId).equals?.(peer) === true) {
        dials.push(Date.now())
      }
      return open(target, options)
    }
    return dials
  }

  /** A peer that has left: its address refuses connections. */
  async function departed (): Promise<{ id: PeerId, addrs: Multiaddr[] }> {
    const gone = await plainNode()
    const out = { id: gone.peerId, addrs: gone.getMultiaddrs() }
    await gone.stop()
    return out
  }

  it('dials a departed peer less and less often, and a live one at once', async function () {
    const keeper = await plainNode(true)
    const neighbour = await plainNode()
    nodes.push(keeper, neighbour)
    // one connection open: the keeper is not cut off, it only wants more
    await keeper.dial(neighbour.getMultiaddrs()[0])
    const gone = await departed()
    const dials = countDials(keeper, gone.id)
    await keeper.peerStore.merge(gone.id, { multiaddrs: gone.addrs })
    await new Promise(resolve => setTimeout(resolve, 20 * INTERVAL_MS))
    // every check would have dialled it 20 times; waits of 2, 4 and 8 intervals leave 4 or 5
    expect(dials.length).to.be.within(3, 6)
    for (let i = 2; i < dials.length; i++) {
      expect(dials[i] - dials[i - 1]).to.be.above(dials[i - 1] - dials[i - 2])
    }
    // a peer that is there is dialled on the next check, backoff or not
    const live = await plainNode()
    nodes.push(live)
    await keeper.peerStore.merge(live.peerId, { multiaddrs: live.getMultiaddrs() })
    const deadline = Date.now() + 10 * INTERVAL_MS
    while (keeper.getConnections(live.peerId).length === 0) {
      if (Date.now() > deadline) {
        throw new Error('the keeper did not dial the live peer')
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })

  it('with no connection at all, retries every known peer within a few intervals, whatever their backoff', async function () {
    const keeper = await plainNode(true)
    const back = await plainNode()
    nodes.push(keeper, back)
    // the peer failed often (as every peer does while our own network is down) and waits a minute
    const failures = (keeper.services as unknown as { peerKeeper: { failures: Map<string, unknown> } }).peerKeeper.failures
    failures.set(back.peerId.toString(), { count: 8, at: Date.now(), until: Date.now() + 60_000 })
    await keeper.peerStore.merge(back.peerId, { multiaddrs: back.getMultiaddrs() })
    const t0 = Date.now()
    while (keeper.getConnections(back.peerId).length === 0) {
      if (Date.now() - t0 > 20 * INTERVAL_MS) {
        throw new Error('the isolated keeper waited out the backoff')
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    // not before its isolated retry was due
    expect(Date.now() - t0).to.be.at.least(3 * INTERVAL_MS)
  })

  it('forgets the failures of a peer once a connection to it opens', async function () {
    const keeper = await plainNode(true)
    const other = await plainNode()
    nodes.push(keeper, other)
    const id = other.peerId.toString()
    const failures = (keeper.services as unknown as { peerKeeper: { failures: Map<string, unknown> } }).peerKeeper.failures
    failures.set(id, { count: 5, until: Date.now() + 60_000 })
    // the other side dials in: the keeper's own backoff no longer applies
    await other.dial(keeper.getMultiaddrs()[0])
    const deadline = Date.now() + 2000
    while (failures.has(id) && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    expect(failures.has(id)).to.equal(false)
  })

  it('reads the peer store only when something changed: a peer added, a connection closed, a wait ended', async function () {
    const keeper = await plainNode(true)
    const neighbour = await plainNode()
    nodes.push(keeper, neighbour)
    await keeper.dial(neighbour.getMultiaddrs()[0])
    // count the keeper's reads of the store (every record read decodes a peer id)
    const store = keeper.peerStore
    const all = store.all.bind(store)
    let reads = 0
    store.all = async (options) => { reads++; return all(options) }
    await new Promise(resolve => setTimeout(resolve, 3 * INTERVAL_MS))
    reads = 0
    // one connection of the 8 it wants, nobody else known, nothing changes: 10 checks, no read
    await new Promise(resolve => setTimeout(resolve, 10 * INTERVAL_MS))
    expect(reads).to.equal(0)
    // a peer becomes known: read (and dialled) at the next check
    const live = await plainNode()
    nodes.push(live)
    await keeper.peerStore.merge(live.peerId, { multiaddrs: live.getMultiaddrs() })
    const deadline = Date.now() + 10 * INTERVAL_MS
    while (keeper.getConnections(live.peerId).length === 0) {
      if (Date.now() > deadline) {
        throw new Error('the keeper did not dial the new peer')
      }
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    expect(reads).to.be.at.least(1)
  })
})
