/**
 * libp2p options for a node's roles. One place decides transports,
 * services and limits; the composition root (node.ts) hands the result to
 * Helia, which creates the libp2p node on the same datastore.
 */
import { autoNAT } from '@libp2p/autonat'
import { bootstrap } from '@libp2p/bootstrap'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub } from '@libp2p/gossipsub'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { fastMessageId } from '../protocols/gossip/dedupe.ts'
import { peerScoreParams, peerScoreThresholds } from '../protocols/gossip/scoring.ts'
import { allTopics } from '../protocols/topics.ts'
import {
  INBOUND_CONNECTIONS_PER_HOST_PER_SECOND, MAX_CONNECTIONS, MAX_GOSSIP_MESSAGE_BYTES, MAX_GOSSIP_OUTBOUND_BUFFER_BYTES, RELAY_MAX_RESERVATIONS
} from './constants.ts'
import { useNativeSecp256k1 } from './native-secp256k1.ts'
import { peerKeeper } from './peer-keeper.ts'
import { withMessageCounts } from './wire-metrics.ts'
import type { NodeConfig } from './config.ts'
import type { RecordContradictions } from '../protocols/gossip/scoring.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Libp2pOptions } from 'libp2p'
import type { Registry } from 'prom-client'

/** Services every node runs; `relay` only on bootstrap nodes. */
export type MeshServices = {
  identify: Identify
  identifyPush: unknown
  ping: Ping
  autoNAT: unknown
  dcutr: unknown
  pubsub: GossipSub
  dht: KadDHT
  relay?: unknown
  peerKeeper?: unknown
}

/** The Kademlia protocol id of a network: private, so our DHT never mixes with the public IPFS one. */
const LOOPBACK_IPS = ['127.0.0.1', '::1']

export function kadProtocol (network: string): string {
  return `/${network}/kad/1.0.0`
}

/**
 * prom-client's event-loop lag sampler wakes the process every 10 ms by
 * default: ~8 ms of CPU per second on an idle node here, more than the rest
 * of an idle libp2p node (`npm run bench -- cost`). Once a second still
 * shows a loop that stalls.
 */
export const EVENT_LOOP_MONITOR_PRECISION_MS = 1000

/**
 * A node's libp2p metrics on its own Prometheus registry: bytes
 * (prometheus-metrics) and messages (wire-metrics) per connection and
 * protocol, and the process's default metrics, on `/metrics`.
 */
export function meshMetrics (registry: Registry): NonNullable<Libp2pOptions['metrics']> {
  // prometheus-metrics keeps one metric map per process: let each node start it afresh, so a
  // restarted node (or the next node of a devnet) registers its metrics in its own registry
  return withMessageCounts(prometheusMetrics({
    registry,
    collectDefaultMetrics: true,
    defaultMetrics: { eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_PRECISION_MS },
    preserveExistingMetrics: false
  }))
}

export interface MeshOptionsInit {
  config: Pick<NodeConfig, 'roles' | 'network' | 'listen' | 'announce' | 'bootstrap' | 'dhtClient'>
  privateKey: PrivateKey
  /** per-node Prometheus registry, so several nodes in one process do not collide */
  registry: Registry
  /** authors of gossip that contradicts the chain or the node's records, scored through P5 */
  contradictions?: RecordContradictions
}

export function meshOptions ({ config, privateKey, registry, contradictions }: MeshOptionsInit): Libp2pOptions<MeshServices> {
  // every gossip message's signature is checked by every node: natively, not in pure JavaScript
  useNativeSecp256k1()
  const isBootstrap = config.roles.includes('bootstrap')
  const services: Record<string, unknown> = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping(),
    autoNAT: autoNAT(),
    dcutr: dcutr(),
    pubsub: gossipsub({
      // every message is signed by its author's peer key and unsigned ones are dropped
      globalSignaturePolicy: 'StrictSign',
      // duplicates (one per forwarding mesh peer) are dropped before their signature is checked
      fastMsgIdFn: fastMessageId,
      maxInboundDataLength: MAX_GOSSIP_MESSAGE_BYTES,
      maxOutboundBufferSize: MAX_GOSSIP_OUTBOUND_BUFFER_BYTES,
      // a lone devnet node publishing is not an error: the chain holds every task anyway
      allowPublishToZeroTopicPeers: true,
      // browsers reach the mesh over relayed connections before WebRTC is up
      runOnLimitedConnection: true,
      // invalid deliveries (what the validation wrapper rejects) cost score; loopback peers are one
      // host by definition (devnets, tests), so they are exempt from the IP-colocation penalty that
      // otherwise graylists every peer of a 20-node devnet
      scoreParams: peerScoreParams(allTopics([], { prefix: `/${config.network}` }), {
        ipColocationWhitelist: LOOPBACK_IPS,
        appSpecificScore: contradictions != null ? (peer) => contradictions.score(peer) : undefined
      }),
      scoreThresholds: peerScoreThresholds()
    }),
    dht: kadDHT({
      protocol: kadProtocol(config.network),
      clientMode: isBootstrap ? false : config.dhtClient,
      // our peers may be on loopback or a LAN: keep every address they tell us
      peerInfoMapper: passthroughMapper
    })
  }
  if (!isBootstrap) {
    // bootstrap nodes are dialled, they need not dial out
    services.peerKeeper = peerKeeper()
  }
  if (isBootstrap) {
    services.relay = circuitRelayServer({
      reservations: { maxReservations: RELAY_MAX_RESERVATIONS }
    })
  }

  return {
    privateKey,
    addresses: {
      listen: config.listen,
      announce: config.announce
    },
    transports: [
      tcp(),
      webSockets(),
      // no public STUN servers: host candidates and our own relays are enough on our network
      webRTC({ rtcConfiguration: { iceServers: [] } }),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // never the public IPFS bootstrappers: only the ones the operator names
    peerDiscovery: config.bootstrap.length > 0 ? [bootstrap({ list: config.bootstrap })] : [],
    // loopback and LAN addresses are legitimate on our network (devnets, tests, private clusters)
    connectionGater: { denyDialMultiaddr: () => false },
    // no connection monitor: its ping shares ping's one-outbound-stream limit with the DHT's liveness
    // pings, and a clash aborted healthy connections (and their gossip streams) every few seconds in a
    // 20-node mesh, losing ~20 % of messages; without aborting it only measured RTT, which nothing here
    // reads, at the price of a new stream and a peer-store write on both ends per connection every 10 s.
    // yamux's keep-alive (30 s) keeps NAT mappings open; TCP and the muxer detect dead links.
    connectionMonitor: { enabled: false },
    connectionManager: { maxConnections: MAX_CONNECTIONS, inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_HOST_PER_SECOND },
    metrics: meshMetrics(registry),
    services
  } as unknown as Libp2pOptions<MeshServices>
}
