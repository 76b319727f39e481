/**
 * libp2p options of the browser light client: WebSockets to reach a
 * bootstrap node, circuit relay v2 for a reservation on it, WebRTC for direct
 * browser↔browser and browser↔node connections signalled through the relay,
 * noise, yamux, identify, ping and gossipsub (StrictSign, like every node).
 * No DHT, no storage, few connections. Browser-safe: nothing here may import
 * node/ or a Node builtin (the bundler checks).
 */
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { isLoopback, isPrivate } from '@libp2p/utils'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { fastMessageId } from '../../protocols/gossip/dedupe.ts'
import { peerScoreParams, peerScoreThresholds } from '../../protocols/gossip/scoring.ts'
import { allTopics } from '../../protocols/topics.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2pOptions } from 'libp2p'

/** A browser tab is not a server: a handful of peers is plenty. */
export const BROWSER_MAX_CONNECTIONS = 24
/** WebRTC dials go through relay signalling and ICE; allow them a little longer than a WebSocket dial. */
export const BROWSER_DIAL_TIMEOUT_MS = 15_000
/** Same framing limit as the nodes' gossipsub (one RPC may batch several messages). */
export const BROWSER_MAX_GOSSIP_RPC_BYTES = 256 * 1024
export const BROWSER_MAX_GOSSIP_OUTBOUND_BUFFER_BYTES = 4 * BROWSER_MAX_GOSSIP_RPC_BYTES

/** Services the light client runs. */
export type LightServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
}

export interface LightOptionsInit {
  /** the network name; gossip topics are `/<network>/1/<kind>[/<model>]` (default `cortensor`) */
  network?: string
  /**
   * ICE servers for WebRTC. Default: none. Host candidates are enough when the
   * peers share a network (or a host, as in tests); give STUN/TURN servers you
   * operate for peers behind NATs.
   */
  iceServers?: RTCIceServer[]
  /**
   * Dial loopback and private (LAN) addresses. Default: allowed only when one
   * of the bootstrap addresses is itself loopback or private, so a page
   * talking to a public bootstrap never probes the visitor's LAN.
   */
  allowPrivateAddresses?: boolean
  bootstrap?: string[]
  privateKey?: PrivateKey
  maxConnections?: number
}

/** Whether a multiaddr points at loopback or a private network. */
export function isLocalAddress (ma: Multiaddr): boolean {
  try {
    return isLoopback(ma) || isPrivate(ma)
  } catch {
    return false
  }
}

export function allowsPrivateAddresses (init: Pick<LightOptionsInit, 'allowPrivateAddresses' | 'bootstrap'>): boolean {
  if (init.allowPrivateAddresses != null) {
    return init.allowPrivateAddresses
  }
  return (init.bootstrap ?? []).some(a => {
    try {
      return isLocalAddress(multiaddr(a))
    } catch {
      return false
    }
  })
}

export function topicPrefix (network: string = 'cortensor'): string {
  return `/${network}`
}

export function lightClientOptions (init: LightOptionsInit = {}): Libp2pOptions<LightServices> {
  const allowPrivate = allowsPrivateAddresses(init)
  const prefix = topicPrefix(init.network)
  return {
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: {
      // a reservation on the relay we dial, and WebRTC connections signalled through it
      listen: ['/p2p-circuit', '/webrtc']
    },
    transports: [
      webSockets(),
      webRTC({ rtcConfiguration: { iceServers: init.iceServers ?? [] } }),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 })
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: {
      denyDialMultiaddr: (ma: Multiaddr) => !allowPrivate && isLocalAddress(ma)
    },
    connectionManager: {
      maxConnections: init.maxConnections ?? BROWSER_MAX_CONNECTIONS,
      maxParallelDials: 8,
      dialTimeout: BROWSER_DIAL_TIMEOUT_MS,
      maxIncomingPendingConnections: 4
    },
    // a WebRTC peer that closed its side (a tab shut, a hang-up) is only noticed by the ICE consent check after
    // about 30 s; the connection monitor's ping finds it sooner and frees the slot (the nodes turn this off
    // because the DHT's pings clash with it; a light client runs no DHT)
    connectionMonitor: { enabled: true, abortConnectionOnPingFailure: true },
    services: {
      identify: identify(),
      // the connection monitor pings every connection too; let an explicit ping run beside it
      ping: ping({ maxOutboundStreams: 4 }),
      pubsub: gossipsub({
        // same policy as the nodes: every message signed by its author, unsigned ones dropped
        globalSignaturePolicy: 'StrictSign',
        fastMsgIdFn: fastMessageId,
        maxInboundDataLength: BROWSER_MAX_GOSSIP_RPC_BYTES,
        maxOutboundBufferSize: BROWSER_MAX_GOSSIP_OUTBOUND_BUFFER_BYTES,
        allowPublishToZeroTopicPeers: true,
        // the mesh is reached over the bootstrap's relay before WebRTC is up
        runOnLimitedConnection: true,
        // a browser is a leaf: it does not hand out peer exchange lists
        doPX: false,
        scoreParams: peerScoreParams(allTopics([], { prefix })),
        scoreThresholds: peerScoreThresholds()
      }) as any
    }
  } as unknown as Libp2pOptions<LightServices>
}
