/** How a light client's connection reaches its peer, read from the connection's remote address. */
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** How a connection reaches its peer, as shown on the page. */
export type TransportKind = 'websocket' | 'relay' | 'webrtc' | 'webrtc-direct' | 'tcp' | 'other'
export const TRANSPORT_KINDS: readonly TransportKind[] = ['websocket', 'relay', 'webrtc', 'webrtc-direct', 'tcp', 'other']

export interface ConnectionInfo {
  id: string
  peer: string
  addr: string
  transport: TransportKind
  direction: 'inbound' | 'outbound'
  /** relayed connections are limited (data and time caps); WebRTC and WebSocket ones are not */
  limited: boolean
  /** this peer is one of our bootstrap nodes */
  bootstrap: boolean
  openedAtMs: number
}

/** Classify a connection by its remote address (WebRTC first: its address names the relay it was signalled through). */
export function transportOf (addr: Multiaddr | string): TransportKind {
  const names = (typeof addr === 'string' ? multiaddr(addr) : addr).getComponents().map(c => c.name)
  if (names.includes('webrtc')) {
    return 'webrtc'
  }
  if (names.includes('webrtc-direct')) {
    return 'webrtc-direct'
  }
  if (names.includes('p2p-circuit')) {
    return 'relay'
  }
  if (names.includes('ws') || names.includes('wss')) {
    return 'websocket'
  }
  if (names.includes('tcp')) {
    return 'tcp'
  }
  return 'other'
}

/** The last peer id a multiaddr names (the target of a relayed address), if any. */
export function peerOf (addr: string): string | undefined {
  const p2p = multiaddr(addr).getComponents().filter(c => c.name === 'p2p')
  return p2p.length > 0 ? p2p[p2p.length - 1].value : undefined
}

export function emptyCounts (): Record<TransportKind, number> {
  return { websocket: 0, relay: 0, webrtc: 0, 'webrtc-direct': 0, tcp: 0, other: 0 }
}

/** A connection as the page shows it; `bootstrapPeers` marks our bootstrap nodes. */
export function describeConnection (c: Connection, bootstrapPeers: ReadonlySet<string>): ConnectionInfo {
  const peer = c.remotePeer.toString()
  return {
    id: c.id,
    peer,
    addr: c.remoteAddr.toString(),
    transport: transportOf(c.remoteAddr),
    direction: c.direction,
    limited: c.limits != null,
    bootstrap: bootstrapPeers.has(peer),
    openedAtMs: c.timeline.open
  }
}

/** `peer`'s WebRTC addresses through each bootstrap relay we hold an unlimited connection to. */
export function relayedWebRTCAddrs (connections: Connection[], bootstrapPeers: ReadonlySet<string>, peer: string): string[] {
  const relays = connections.filter(c => c.status === 'open' && bootstrapPeers.has(c.remotePeer.toString()) && c.limits == null)
  return relays.map(c => {
    const base = c.remoteAddr.toString()
    const withPeer = peerOf(base) === c.remotePeer.toString() ? base : `${base}/p2p/${c.remotePeer.toString()}`
    return `${withPeer}/p2p-circuit/webrtc/p2p/${peer}`
  })
}
