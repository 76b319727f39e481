/**
 * Mesh baseline on loopback: gossip latency across 20 nodes, DHT
 * findProviders, Helia bitswap fetch of 1 KiB and 1 MiB, node start time.
 * Each figure has a baseline measured in this run on the same nodes.
 */
import { randomBytes } from 'node:crypto'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { TestNet, tcpAddr, waitFor } from '../test/fixtures/nodes.ts'
import { percentile, printFigures } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { CortensorNode } from '../node/node.ts'

const NODES = 20
const GOSSIP_MESSAGES = 100
/** one message every 100 ms: a steady task-announcement rate, not a flood of one process on 2 cores */

const net = new TestNet()
const figures: BenchFigure[] = []
const median = (xs: number[]): number => percentile(xs, 50)

try {
  // node start time vs a bare libp2p node (tcp + noise + yamux, no services, no storage)
  const bareTimes: number[] = []
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    const bare = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    bareTimes.push(performance.now() - t)
    await bare.stop()
  }
  const startTimes: number[] = []
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    const n = await net.start({ roles: ['miner'] })
    startTimes.push(performance.now() - t)
    await n.stop()
  }
  figures.push({ name: 'node start (key, datastore, Helia, all services)', value: median(startTimes), unit: 'ms', baseline: { name: 'bare libp2p start', value: median(bareTimes) } })

  const boot = await net.start({ roles: ['bootstrap'] })
  const nodes: CortensorNode[] = []
  for (let i = 0; i < NODES - 1; i++) {
    nodes.push(await net.start({ roles: ['miner'], bootstrap: [tcpAddr(boot)] }))
  }
  const all = [boot, ...nodes]
  await waitFor('every node connected to the bootstrap', () => boot.libp2p.getPeers().length >= nodes.length, 60000)
  process.stderr.write(`bootstrap routing table: ${boot.health().dht.routingTableSize} of ${nodes.length} nodes\n`)

  // gossip latency: one publisher, every other node timestamps arrival
  const topic = '/cortensor-test/1/bench'
  const arrivals: number[] = []
  const sent = new Map<string, number>()
  for (const n of all) {
    n.libp2p.services.pubsub.subscribe(topic)
    n.libp2p.services.pubsub.addEventListener('message', (evt) => {
      const at = sent.get(new TextDecoder().decode(evt.detail.data))
      if (at != null) {
        arrivals.push(performance.now() - at)
      }
    })
  }
  const sender = nodes[0]
  // warm up: probe until every node receives, so the mesh is formed before measuring
  const probed = new Set<string>()
  for (const n of all) {
    n.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (new TextDecoder().decode(evt.detail.data).startsWith('probe')) {
        probed.add(n.libp2p.peerId.toString())
      }
    })
  }
  await waitFor('gossip to reach every node', async () => {
    await sender.libp2p.services.pubsub.publish(topic, new TextEncoder().encode(`probe ${Date.now()}`))
    return probed.size >= NODES - 1
  }, 180000, 1000)
  await new Promise(resolve => setTimeout(resolve, 10000))
  for (let i = 0; i < GOSSIP_MESSAGES; i++) {
    const id = `m${i}`
    sent.set(id, performance.now())
    await sender.libp2p.services.pubsub.publish(topic, new TextEncoder().encode(id))
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  await waitFor('all gossip arrivals', () => arrivals.length >= GOSSIP_MESSAGES * (NODES - 1), 30000).catch(() => {})
  // one-hop baseline: a fresh pair of directly connected nodes on their own topic
  const p1 = await net.start({ roles: ['miner'] })
  const p2 = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(p1)] })
  const pairTopic = '/cortensor-test/1/pair'
  const pairTimes: number[] = []
  const pairSent = new Map<string, number>()
  p1.libp2p.services.pubsub.subscribe(pairTopic)
  p2.libp2p.services.pubsub.subscribe(pairTopic)
  p2.libp2p.services.pubsub.addEventListener('message', (evt) => {
    const at = pairSent.get(new TextDecoder().decode(evt.detail.data))
    if (at != null) {
      pairTimes.push(performance.now() - at)
    }
  })
  await waitFor('pair subscription', () => p1.libp2p.services.pubsub.getSubscribers(pairTopic).length > 0, 30000)
  await new Promise(resolve => setTimeout(resolve, 2000))
  for (let i = 0; i < GOSSIP_MESSAGES; i++) {
    const id = `p${i}`
    pairSent.set(id, performance.now())
    await p1.libp2p.services.pubsub.publish(pairTopic, new TextEncoder().encode(id))
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  await waitFor('pair arrivals', () => pairTimes.length >= GOSSIP_MESSAGES, 10000).catch(() => {})
  const oneHop = median(pairTimes)
  figures.push({ name: `gossip latency p50 (${NODES} nodes, ${arrivals.length} deliveries)`, value: percentile(arrivals, 50), unit: 'ms', baseline: { name: 'gossip p50 between 2 direct peers', value: oneHop } })
  figures.push({ name: `gossip latency p99 (${NODES} nodes)`, value: percentile(arrivals, 99), unit: 'ms', baseline: { name: 'gossip p50 between 2 direct peers', value: oneHop } })

  // DHT provide + findProviders between two nodes that know each other only through the bootstrap
  const a = nodes[2]
  const b = nodes[NODES - 2]
  const findTimes: number[] = []
  for (let i = 0; i < 10; i++) {
    const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
    await a.libp2p.contentRouting.provide(cid)
    const t = performance.now()
    for await (const p of b.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(10000) })) {
      if (p.id.equals(a.libp2p.peerId)) {
        break
      }
    }
    findTimes.push(performance.now() - t)
  }
  const findPeerTimes: number[] = []
  for (let i = 0; i < 10; i++) {
    const t = performance.now()
    await b.libp2p.peerRouting.findPeer(a.libp2p.peerId, { useCache: false, signal: AbortSignal.timeout(10000) } as any)
    findPeerTimes.push(performance.now() - t)
  }
  figures.push({ name: 'DHT findProviders (first result)', value: median(findTimes), unit: 'ms', baseline: { name: 'DHT findPeer of the same node (no cache)', value: median(findPeerTimes) } })

  // bitswap fetch vs the same bytes over a plain libp2p stream between the same two nodes
  for (const [label, size] of [['1 KiB', 1024], ['1 MiB', 1024 * 1024]] as const) {
    const fetchTimes: number[] = []
    const streamTimes: number[] = []
    for (let i = 0; i < 5; i++) {
      const cid = await a.store.putBytes(randomBytes(size))
      await b.libp2p.dial(a.libp2p.peerId)
      const t = performance.now()
      const got = await b.store.getBytes(cid, { signal: AbortSignal.timeout(30000) })
      fetchTimes.push(performance.now() - t)
      if (got.length !== size) {
        throw new Error('short fetch')
      }
      const t2 = performance.now()
      await a.store.getBytes(cid)
      streamTimes.push(performance.now() - t2)
    }
    figures.push({ name: `Helia bitswap fetch ${label}`, value: median(fetchTimes), unit: 'ms', baseline: { name: 'read from the local blockstore', value: median(streamTimes) } })
  }
} finally {
  await net.cleanup()
}

printFigures('mesh (loopback)', figures)
