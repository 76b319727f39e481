/**
 * A bootstrap node's gossip relay. Browser pages and freshly started nodes
 * are first connected to the bootstrap alone, and gossipsub only forwards a
 * topic through peers subscribed to it, so the bootstrap joins every task
 * topic of a model as soon as a peer subscribes to one of that model's
 * topics. It validates what it forwards with the same stateless validators as
 * every other node (a forged message is rejected and its sender penalised).
 *
 * Its slots are bounded and given back: it follows at most `maxModels`
 * models, a model only while some peer still subscribes to it (a sweep every
 * `sweepIntervalMs` drops models whose last subscriber left or disconnected),
 * and a peer that is the only subscriber of `maxModelsPerPeer` models brings
 * no more: one peer cannot take every slot, and none holds one after leaving.
 */
import { logger } from '@libp2p/logger'
import { repeatingTask } from '@libp2p/utils'
import { defaultValidators, installGossip } from '../../../protocols/gossip/index.ts'
import { TOPIC_CODECS, TOPIC_KINDS, buildTopic, parseTopic } from '../../../protocols/topics.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

const log = logger('cortensor:relay')

/** Models a relay follows at most. */
export const RELAY_MAX_MODELS = 32
/** Models one peer may bring alone (a miner serves one or two; a page follows one). */
export const RELAY_MAX_MODELS_PER_PEER = 4
/** How often models nobody subscribes to any more are dropped. */
export const RELAY_SWEEP_INTERVAL_MS = 10_000

/** What the relay takes from the node. */
export interface GossipRelayComponents {
  pubsub: GossipSub
}

export interface GossipRelayInit extends GossipRelayComponents {
  network: string
  maxModels?: number
  maxModelsPerPeer?: number
  sweepIntervalMs?: number
  onLine?(line: string): void
}

export interface GossipRelay {
  models(): string[]
  /** drop the models no peer subscribes to now (the sweep does this on its own) */
  sweep(): void
  stop(): void
}

interface SubscriptionChange {
  peerId: PeerId
  subscriptions: Array<{ topic: string, subscribe: boolean }>
}

const MODEL_KINDS = TOPIC_KINDS.filter(k => TOPIC_CODECS[k].modelScoped)

/** The relay as a service: `gossipRelay(init)(components)` starts it on the node's gossip. */
export function gossipRelay (init: Omit<GossipRelayInit, 'pubsub'>): (components: GossipRelayComponents) => GossipRelay {
  return (components) => startGossipRelay({ ...init, pubsub: components.pubsub })
}

export function startGossipRelay (init: GossipRelayInit): GossipRelay {
  const prefix = `/${init.network}`
  const max = init.maxModels ?? RELAY_MAX_MODELS
  const perPeer = init.maxModelsPerPeer ?? RELAY_MAX_MODELS_PER_PEER
  const installed = new Map<string, () => void>()
  let shared: (() => void) | undefined
  const short = (model: string): string => model.length > 20 ? `${model.slice(0, 18)}…` : model

  /** the remote peers subscribed to any of the model's own topics */
  const subscribers = (model: string): Set<string> => {
    const peers = new Set<string>()
    for (const kind of MODEL_KINDS) {
      for (const p of init.pubsub.getSubscribers(buildTopic(kind, model, { prefix }))) {
        peers.add(p.toString())
      }
    }
    return peers
  }

  /** models only `peer` subscribes to */
  const broughtBy = (peer: string): number => {
    let n = 0
    for (const model of installed.keys()) {
      const s = subscribers(model)
      if (s.size === 1 && s.has(peer)) {
        n++
      }
    }
    return n
  }

  const follow = (topic: string, peer: PeerId): void => {
    let model: string | undefined
    try {
      model = parseTopic(topic, { prefix }).model
    } catch {
      return // not one of this network's task topics
    }
    if (model == null || installed.has(model)) {
      return
    }
    if (installed.size >= max) {
      sweep()
    }
    if (installed.size >= max) {
      log('not relaying model %s: already following %d models', model, max)
      return
    }
    if (broughtBy(peer.toString()) >= perPeer) {
      log('not relaying model %s for %p: it alone subscribes to %d models already', model, peer, perPeer)
      return
    }
    // the topics all models share once; each model's own topics while someone wants them
    shared ??= installGossip(init.pubsub, { prefix, models: [], validators: defaultValidators() })
    installed.set(model, installGossip(init.pubsub, { prefix, models: [model], validators: defaultValidators(), sharedTopics: false }))
    init.onLine?.(`relaying gossip for model ${short(model)}`)
  }

  const sweep = (): void => {
    for (const [model, uninstall] of installed) {
      if (subscribers(model).size === 0) {
        uninstall()
        installed.delete(model)
        init.onLine?.(`no longer relaying model ${short(model)}: no peer subscribes to it`)
      }
    }
  }

  const onChange = (evt: CustomEvent<SubscriptionChange>): void => {
    let left = false
    for (const s of evt.detail.subscriptions) {
      if (s.subscribe) {
        follow(s.topic, evt.detail.peerId)
      } else {
        left = true
      }
    }
    if (left) {
      sweep()
    }
  }
  init.pubsub.addEventListener('subscription-change', onChange as any)
  const sweeps = repeatingTask(sweep, init.sweepIntervalMs ?? RELAY_SWEEP_INTERVAL_MS)
  sweeps.start()

  return {
    models: () => [...installed.keys()],
    sweep,
    stop: () => {
      sweeps.stop()
      init.pubsub.removeEventListener('subscription-change', onChange as any)
      for (const uninstall of installed.values()) {
        uninstall()
      }
      installed.clear()
      shared?.()
      shared = undefined
    }
  }
}
