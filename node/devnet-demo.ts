/**
 * The demo `cortensor devnet` runs: start the local network, then walk one
 * prompt through the mesh and print each step as it happens.
 */
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { startDevnet } from './devnet.ts'
import type { CortensorNode } from './node.ts'

export interface RunDevnetOptions {
  miners: number
  oracles: number
  dataDir?: string
  httpPort: number
  prompt: string
  once: boolean
  say(line: string): void
  print(text: string): void
}

const STATUS_INTERVAL_MS = 10_000

async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`devnet: timed out waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export async function runDevnet (opts: RunDevnetOptions): Promise<void> {
  const { say } = opts
  const t0 = Date.now()
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`
  say(`[${elapsed()}] starting a local network: 1 bootstrap, ${opts.miners} miners, ${opts.oracles} oracles`)
  const roles = [...Array(opts.miners).fill('miner'), ...Array(opts.oracles).fill('oracle')]
  const net = await startDevnet({ roles, dataDir: opts.dataDir, httpPort: opts.httpPort, onLine: (l) => { say(`[${elapsed()}]   ${l}`) } })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true
      say(`[${elapsed()}] stopping ${net.nodes.length + 1} nodes`)
      await net.stop()
      say(`[${elapsed()}] stopped`)
    }
  }

  try {
    const all = [net.bootstrap, ...net.nodes]
    await until('every node to join through the bootstrap', () => net.nodes.every(n => n.libp2p.getPeers().length > 0), 20_000)
    // content routing needs the DHT: wait until every node is in the bootstrap's routing table and vice versa
    await until('the DHT routing tables to fill', () => net.bootstrap.health().dht.routingTableSize >= net.nodes.length &&
      net.nodes.every(n => n.health().dht.routingTableSize > 0), 30_000)
    say(`[${elapsed()}] mesh formed: ${all.length} nodes, bootstrap DHT routing table ${net.bootstrap.health().dht.routingTableSize}`)
    await demoPrompt(net.bootstrap, net.nodes, opts, elapsed)
  } catch (err) {
    await stop()
    throw err
  }

  if (opts.once) {
    await stop()
    return
  }
  say(`[${elapsed()}] network is up; status every ${STATUS_INTERVAL_MS / 1000}s, Ctrl-C to stop`)
  const timer = setInterval(() => {
    const h = net.bootstrap.health()
    say(`[${elapsed()}] status: ${h.connectedPeers} peers connected to the bootstrap, routing table ${h.dht.routingTableSize}, uptime ${h.uptimeSeconds}s`)
  }, STATUS_INTERVAL_MS)
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      say(`${signal}: shutting down`)
      setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref()
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
  clearInterval(timer)
  await stop()
}

/**
 * One prompt through the mesh: the client (an oracle node here) stores the
 * prompt in Helia and announces its CID on gossip; every miner fetches it
 * by CID over bitswap and answers with a receipt stored in Helia too.
 */
async function demoPrompt (bootstrap: CortensorNode, nodes: CortensorNode[], opts: RunDevnetOptions, elapsed: () => string): Promise<void> {
  const { say, print } = opts
  const client = nodes[nodes.length - 1]
  const miners = nodes.filter(n => n.config.roles.includes('miner'))
  const topic = `/${client.config.network}/1/demo`
  const replies = new Map<string, string>()
  const seen = new Set<string>()
  // the bootstrap relays the network's gossip, so nodes that only know it still reach each other
  bootstrap.libp2p.services.pubsub.subscribe(topic)
  bootstrap.libp2p.services.pubsub.subscribe(`${topic}/receipts`)

  for (const miner of miners) {
    miner.libp2p.services.pubsub.subscribe(topic)
    miner.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== topic) {
        return
      }
      const text = toString(evt.detail.data)
      const key = `${miner.libp2p.peerId}:${text}`
      if (seen.has(key)) {
        return
      }
      seen.add(key)
      const cid = CID.parse(text)
      const started = Date.now()
      void (async () => {
        const doc = await miner.store.getJson<{ prompt: string }>(cid, { signal: AbortSignal.timeout(20_000) })
        const fetchMs = Date.now() - started
        const receipt = await miner.store.putJson({ promptCid: cid, miner: miner.peerIdentity.address, promptChars: doc.prompt.length, fetchMs })
        await miner.libp2p.services.pubsub.publish(`${topic}/receipts`, fromString(receipt.toString()))
      })().catch((err) => { say(`a miner failed to handle the prompt: ${err.message}`) })
    })
  }
  client.libp2p.services.pubsub.subscribe(`${topic}/receipts`)
  client.libp2p.services.pubsub.addEventListener('message', (evt) => {
    if (evt.detail.topic === `${topic}/receipts` && evt.detail.type === 'signed') {
      replies.set(evt.detail.from.toString(), toString(evt.detail.data))
    }
  })
  await until('gossip subscriptions', () => client.libp2p.services.pubsub.getSubscribers(topic).length >= 1 && miners.every(m => m.libp2p.services.pubsub.getSubscribers(`${topic}/receipts`).length >= 1), 20_000)

  const cid = await client.store.putJson({ prompt: opts.prompt, params: { maxTokens: 64, temperature: 0 } })
  say(`[${elapsed()}] prompt stored in Helia as ${cid}`)
  const announced = Date.now()
  await client.libp2p.services.pubsub.publish(topic, fromString(cid.toString()))
  say(`[${elapsed()}] prompt CID announced on gossip topic ${topic}`)
  await until(`receipts from all ${miners.length} miners`, () => replies.size >= miners.length, 30_000)
  say(`[${elapsed()}] ${miners.length} receipts in ${Date.now() - announced} ms`)
  for (const [peer, receiptCid] of replies) {
    const receipt = await client.store.getJson<{ miner: string, fetchMs: number }>(CID.parse(receiptCid), { signal: AbortSignal.timeout(20_000) })
    print(`miner ${receipt.miner} (peer …${peer.slice(-8)}) fetched the prompt over bitswap in ${receipt.fetchMs} ms; receipt ${receiptCid}`)
  }
  say(`[${elapsed()}] all ${miners.length} miners have the prompt`)
}
