/**
 * The cost benchmark's baseline: a bare libp2p node in its own process, with
 * the transports, encryption and muxer a node runs (node/mesh.ts: TCP,
 * WebSockets, WebRTC, circuit relay; noise; yamux) and no services beyond
 * identify and ping; no gossipsub, no DHT, no Helia, no chain. It joins the
 * same network through the same bootstrap, counts bytes and messages with
 * the same metrics as a node (node/mesh.ts `meshMetrics`) and serves
 * them on `/metrics`, so its figures compare with a node's line for line.
 *
 * Run by the cost benchmark with CORTENSOR_BENCH_BARE (JSON: listen and
 * bootstrap addresses); writes `http on http://127.0.0.1:<port>` and `ready`
 * on stderr, stops on SIGTERM.
 */
import { createServer } from 'node:http'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { Registry } from 'prom-client'
import { meshMetrics } from '../node/mesh.ts'
import type { AddressInfo } from 'node:net'

interface BareJob {
  listen: string[]
  bootstrap: string[]
}

async function main (job: BareJob): Promise<void> {
  const registry = new Registry()
  const node = await createLibp2p({
    addresses: { listen: job.listen },
    transports: [tcp(), webSockets(), webRTC({ rtcConfiguration: { iceServers: [] } }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: [bootstrap({ list: job.bootstrap })],
    connectionGater: { denyDialMultiaddr: () => false },
    // the same instrument as a node's, so its cost is on both sides
    metrics: meshMetrics(registry),
    services: { identify: identify(), ping: ping() }
  })
  const http = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    registry.metrics().then((text) => { res.writeHead(200, { 'content-type': registry.contentType }).end(text) }, (err) => { res.writeHead(500).end(String(err)) })
  })
  await new Promise<void>(resolve => { http.listen(0, '127.0.0.1', resolve) })
  process.once('SIGTERM', () => {
    http.close()
    Promise.resolve(node.stop()).then(() => { process.exit(0) }, () => { process.exit(1) })
  })
  process.stderr.write(`http on http://127.0.0.1:${(http.address() as AddressInfo).port}\n`)
  process.stderr.write(`bare libp2p node ${node.peerId} on ${node.getMultiaddrs().map(String).join(' ')}\nready\n`)
}

const job = process.env.CORTENSOR_BENCH_BARE
if (job == null) {
  process.stderr.write('bench/bare-node.ts runs from the cost benchmark, with CORTENSOR_BENCH_BARE set\n')
  process.exit(2)
}
main(JSON.parse(job)).catch((err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1) })
