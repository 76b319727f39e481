import { connect } from 'node:net'
import { expect } from 'aegir/chai'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { ContentStore } from '../../node/storage.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'
import { TestNet, tcpAddr, waitFor } from '../fixtures/nodes.ts'
import type { CortensorNode } from '../../node/node.ts'

async function portClosed (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => { resolve(true) })
  })
}

describe('mesh: 1 bootstrap + 4 nodes on loopback', function () {
  const net = new TestNet()
  let boot: CortensorNode
  let nodes: CortensorNode[]

  before(async function () {
    boot = await net.start({ roles: ['bootstrap'] })
    const bootstrap = [tcpAddr(boot)]
    nodes = await Promise.all([
      net.start({ roles: ['miner'], bootstrap }),
      net.start({ roles: ['miner'], bootstrap }),
      net.start({ roles: ['oracle'], bootstrap }),
      net.start({ roles: ['router'], bootstrap })
    ])
    const connectedToBoot = (n: CortensorNode): boolean => n.libp2p.getPeers().some(p => p.equals(boot.libp2p.peerId))
    await waitFor('every node connected to the bootstrap', () => nodes.every(connectedToBoot))
  })

  after(async function () {
    await net.cleanup()
  })

  it('uses the node key as peer key: the peer id maps to the EVM address', function () {
    for (const n of [boot, ...nodes]) {
      expect(peerIdToAddress(n.libp2p.peerId)).to.equal(n.peerIdentity.address)
      expect(n.libp2p.peerId.type).to.equal('secp256k1')
    }
  })

  it('finds every other node through the bootstrap DHT only', async function () {
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) {
          continue
        }
        const info = await a.libp2p.peerRouting.findPeer(b.libp2p.peerId, { useCache: false, signal: AbortSignal.timeout(15000) })
        expect(info.id.equals(b.libp2p.peerId)).to.equal(true)
        expect(info.multiaddrs.length).to.be.greaterThan(0)
      }
    }
    const conn = await nodes[0].libp2p.dial(nodes[3].libp2p.peerId, { signal: AbortSignal.timeout(10000) })
    expect(conn.remotePeer.equals(nodes[3].libp2p.peerId)).to.equal(true)
  })

  it('delivers a gossip message from one node to all others', async function () {
    const topic = '/cortensor-test/1/hello'
    const received = new Map<string, string>()
    for (const n of [boot, ...nodes]) {
      n.libp2p.services.pubsub.subscribe(topic)
      n.libp2p.services.pubsub.addEventListener('message', (evt) => {
        if (evt.detail.topic === topic) {
          received.set(n.libp2p.peerId.toString(), toString(evt.detail.data))
        }
      })
    }
    const sender = nodes[1]
    await waitFor('subscriptions to propagate', () => sender.libp2p.services.pubsub.getSubscribers(topic).length > 0)
    // the mesh forms on the heartbeat; retry publishing until everyone has it
    await waitFor('all 4 other nodes to receive the message', async () => {
      await sender.libp2p.services.pubsub.publish(topic, fromString(`hello ${Date.now()}`))
      return received.size === 4
    }, 20000, 500)
    expect([...received.keys()]).to.not.include(sender.libp2p.peerId.toString())
    for (const text of received.values()) {
      expect(text).to.match(/^hello \d+$/)
    }
  })

  it('finds a provider record put on the DHT by another node', async function () {
    const cid = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    await nodes[0].libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(15000) })
    const found = await waitFor('provider to be found', async () => {
      for await (const p of nodes[2].libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(5000) })) {
        if (p.id.equals(nodes[0].libp2p.peerId)) {
          return p
        }
      }
      return undefined
    })
    expect(found.id.equals(nodes[0].libp2p.peerId)).to.equal(true)
  })

  it('fetches a block put into Helia on node A from node C over bitswap', async function () {
    const a = nodes[0]
    const c = nodes[2]
    const doc = { prompt: 'what is a mesh?', params: { maxTokens: 16 }, n: 42 }
    // announced on the DHT before returning, so C can find A as a provider
    const cid = await a.store.putJson(doc, { provide: 'await' })
    const bytes = fromString('raw output bytes')
    const rawCid = await a.store.putBytes(bytes, { provide: 'await' })
    expect(await c.store.has(cid)).to.equal(false)
    // C is not necessarily connected to A: it finds A through the DHT
    await c.libp2p.hangUp(a.libp2p.peerId)
    expect(await c.store.getJson(cid, { signal: AbortSignal.timeout(20000) })).to.deep.equal(doc)
    expect(await c.store.getBytes(rawCid, { signal: AbortSignal.timeout(20000) })).to.deep.equal(bytes)
    expect(await c.store.has(cid)).to.equal(true)
  })

  describe('provides in the background once the node is quiet', function () {
    /** a content store over node A's real DHT, recording when each provide starts */
    function recordingStore (options: { provideQuietMs: number, provideMaxDelayMs: number, announce?: boolean }): { store: ContentStore, provided: Array<{ cid: string, at: number }> } {
      const provided: Array<{ cid: string, at: number }> = []
      const routing = {
        provide: async (cid: CID, opts?: { signal?: AbortSignal }) => {
          provided.push({ cid: cid.toString(), at: Date.now() })
          await nodes[0].libp2p.contentRouting.provide(cid, opts)
        }
      }
      return { store: new ContentStore({ blockstore: new MemoryBlockstore(), routing } as any, options), provided }
    }

    it('waits for a pause in puts, then announces every block, and another node finds it', async function () {
      const { store, provided } = recordingStore({ provideQuietMs: 400, provideMaxDelayMs: 30_000 })
      try {
        const cids: CID[] = []
        let lastPut = 0
        for (let i = 0; i < 4; i++) {
          cids.push(await store.putJson({ quiet: i, at: Date.now() }))
          lastPut = Date.now()
          await new Promise(resolve => setTimeout(resolve, 150))
          expect(provided, 'nothing is provided while puts keep coming').to.have.length(0)
        }
        expect(store.pendingProvides).to.equal(4)
        await waitFor('all 4 blocks provided', () => provided.length === 4 && store.pendingProvides === 0, 20_000)
        expect(provided.map(p => p.cid)).to.deep.equal(cids.map(String))
        for (const p of provided) {
          expect(p.at - lastPut).to.be.at.least(400)
        }
        const found = await waitFor('node C to find A as the provider', async () => {
          for await (const p of nodes[2].libp2p.contentRouting.findProviders(cids[3], { signal: AbortSignal.timeout(10_000) })) {
            if (p.id.equals(nodes[0].libp2p.peerId)) {
              return p
            }
          }
          return undefined
        }, 20_000, 500)
        expect(found.id.equals(nodes[0].libp2p.peerId)).to.equal(true)
      } finally {
        await store.close()
      }
    })

    it('announces a block at the latest after the maximum delay, however busy the node', async function () {
      const { store, provided } = recordingStore({ provideQuietMs: 10_000, provideMaxDelayMs: 500 })
      try {
        const first = Date.now()
        const cids = [await store.putJson({ busy: 0 })]
        const until = first + 2500
        for (let i = 1; Date.now() < until; i++) {
          cids.push(await store.putJson({ busy: i }))
          await new Promise(resolve => setTimeout(resolve, 50))
        }
        // the puts never paused for 10 s, yet the blocks went out in batches, the first after about 0.5 s
        expect(provided.length).to.be.greaterThan(1)
        expect(provided.map(p => p.cid)).to.deep.equal(cids.slice(0, provided.length).map(String))
        expect(provided[0].at - first).to.be.at.least(500)
        expect(provided[0].at).to.be.below(until)
      } finally {
        await store.close()
      }
    })

    it('a store that does not announce (a node\'s default, `announceBlocks` off) provides only the puts that ask', async function () {
      const { store, provided } = recordingStore({ provideQuietMs: 100, provideMaxDelayMs: 100, announce: false })
      try {
        const quiet = await store.putJson({ announced: false })
        expect(store.pendingProvides).to.equal(0)
        const asked = await store.putJson({ announced: true }, { provide: true })
        expect(store.pendingProvides).to.equal(1)
        await waitFor('the asked-for block to be provided', () => provided.length === 1 && store.pendingProvides === 0, 10_000)
        await new Promise(resolve => setTimeout(resolve, 300))
        expect(provided.map(p => p.cid)).to.deep.equal([asked.toString()])
        expect(await store.has(quiet)).to.equal(true)
      } finally {
        await store.close()
      }
    })

    it('drops the waiting provides on close and never announces them', async function () {
      const { store, provided } = recordingStore({ provideQuietMs: 200, provideMaxDelayMs: 200 })
      await store.putJson({ closed: true })
      await store.putJson({ closed: false }, { provide: false })
      expect(store.pendingProvides).to.equal(1)
      await store.close()
      expect(store.pendingProvides).to.equal(0)
      await new Promise(resolve => setTimeout(resolve, 500))
      expect(provided).to.have.length(0)
    })
  })

  it('refuses to read a CID as the wrong codec', async function () {
    const cid = await nodes[0].store.putBytes(fromString('x'), { provide: false })
    await expect(nodes[0].store.getJson(cid)).to.eventually.be.rejected.with.property('name', 'UnsupportedCodecError')
  })

  it('leaves no listening port behind after stop', async function () {
    const n = await net.start({ roles: ['miner'] })
    const ports = n.libp2p.getMultiaddrs().map(a => Number(a.getComponents().find(c => c.name === 'tcp')?.value))
    expect(ports.length).to.be.greaterThan(0)
    await n.stop()
    for (const port of ports) {
      expect(await portClosed(port)).to.equal(true)
    }
  })
})

describe('node restart', function () {
  const net = new TestNet()

  after(async function () {
    await net.cleanup()
  })

  it('keeps its peer id, address and blocks across a restart with the same data dir', async function () {
    const dataDir = await net.tempDir()
    const first = await net.start({ dataDir })
    const peerId = first.libp2p.peerId.toString()
    const address = first.peerIdentity.address
    const cid = await first.store.putJson({ kept: true }, { provide: false })
    await first.stop()

    const second = await net.start({ dataDir })
    expect(second.libp2p.peerId.toString()).to.equal(peerId)
    expect(second.peerIdentity.address).to.equal(address)
    expect(await second.store.has(cid)).to.equal(true)
    expect(await second.store.getJson(cid)).to.deep.equal({ kept: true })
  })

  it('start and stop are idempotent', async function () {
    const n = await net.start()
    await n.start()
    await Promise.all([n.stop(), n.stop()])
    await n.stop()
    expect(n.isStarted()).to.equal(false)
  })
})
