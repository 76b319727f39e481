/**
 * Gossipsub peer-score parameters for the task topics. Invalid deliveries (P4)
 * are what the validation wrapper's Reject feeds; mesh delivery rates (P3)
 * are disabled because task topics are bursty and low-volume, so an honest
 * peer would fall below any fixed delivery threshold between tasks.
 */
import { createPeerScoreParams, createPeerScoreThresholds, createTopicScoreParams } from '@libp2p/gossipsub/score'
import {
  ACCEPT_PX_THRESHOLD, CONTRADICTION_DECAY_PER_S, DECAY_INTERVAL_MS, FIRST_DELIVERY_CAP, FIRST_DELIVERY_DECAY, FIRST_DELIVERY_WEIGHT, GOSSIP_THRESHOLD,
  GRAYLIST_THRESHOLD, INVALID_MESSAGE_DECAY, INVALID_MESSAGE_WEIGHT, OPPORTUNISTIC_GRAFT_THRESHOLD, PUBLISH_THRESHOLD,
  TIME_IN_MESH_CAP, TIME_IN_MESH_QUANTUM_MS, TIME_IN_MESH_WEIGHT, TOPIC_SCORE_CAP, TOPIC_WEIGHT
} from './constants.ts'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'

export interface ScoringInit {
  /** IPs exempt from the IP-colocation penalty (P6), e.g. loopback on a devnet */
  ipColocationWhitelist?: string[]
  /** P5 hook: application score (reputation) of a peer id string */
  appSpecificScore?(peerId: string): number
}

export function topicScoreParams (): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: TOPIC_WEIGHT,
    timeInMeshWeight: TIME_IN_MESH_WEIGHT,
    timeInMeshQuantum: TIME_IN_MESH_QUANTUM_MS,
    timeInMeshCap: TIME_IN_MESH_CAP,
    firstMessageDeliveriesWeight: FIRST_DELIVERY_WEIGHT,
    firstMessageDeliveriesDecay: FIRST_DELIVERY_DECAY,
    firstMessageDeliveriesCap: FIRST_DELIVERY_CAP,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY
  })
}

/** Score params covering `topics` (from `allTopics(models)`), ready for `gossipsub({ scoreParams })`. */
export function peerScoreParams (topics: string[], init: ScoringInit = {}): PeerScoreParams {
  const params = topicScoreParams()
  return createPeerScoreParams({
    topics: Object.fromEntries(topics.map(t => [t, params])),
    topicScoreCap: TOPIC_SCORE_CAP,
    appSpecificScore: init.appSpecificScore ?? (() => 0),
    appSpecificWeight: 1,
    IPColocationFactorWhitelist: new Set(init.ipColocationWhitelist ?? []),
    decayInterval: DECAY_INTERVAL_MS
  })
}

export function peerScoreThresholds (): PeerScoreThresholds {
  return createPeerScoreThresholds({
    gossipThreshold: GOSSIP_THRESHOLD,
    publishThreshold: PUBLISH_THRESHOLD,
    graylistThreshold: GRAYLIST_THRESHOLD,
    acceptPXThreshold: ACCEPT_PX_THRESHOLD,
    opportunisticGraftThreshold: OPPORTUNISTIC_GRAFT_THRESHOLD
  })
}

/** authors remembered at once; far more peers than a node is ever connected to */
const MAX_TRACKED_AUTHORS = 4096

/**
 * Authors of messages that contradict the chain or an oracle's records
 * (`ContradictsRecordError`). Gossipsub's own penalty for an invalid message
 * (P4) also falls on every peer that relays it, and a relay without the
 * chain cannot tell; so such messages are ignored and their author is scored
 * here instead, through the application-specific score (P5): as P4 would,
 * INVALID_MESSAGE_WEIGHT × count², the count decaying with P4's half-life.
 */
export class RecordContradictions {
  private readonly counts = new Map<string, { count: number, at: number }>()
  private readonly now: () => number

  constructor (now: () => number = Date.now) {
    this.now = now
  }

  add (peerId: string): void {
    const count = this.count(peerId) + 1
    // re-inserted, so the map stays in order of last offence and the stalest entry goes first
    this.counts.delete(peerId)
    this.counts.set(peerId, { count, at: this.now() })
    if (this.counts.size > MAX_TRACKED_AUTHORS) {
      this.counts.delete(this.counts.keys().next().value as string)
    }
  }

  count (peerId: string): number {
    const c = this.counts.get(peerId)
    if (c == null) {
      return 0
    }
    const count = c.count * CONTRADICTION_DECAY_PER_S ** ((this.now() - c.at) / 1000)
    if (count < 0.01) {
      this.counts.delete(peerId)
      return 0
    }
    return count
  }

  /** The P5 score of `peerId`: 0, or negative once it authored contradictions. */
  score (peerId: string): number {
    const count = this.count(peerId)
    return count === 0 ? 0 : INVALID_MESSAGE_WEIGHT * count * count
  }
}
