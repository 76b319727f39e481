/**
 * A bootstrap node's gossip relay. Browser pages and freshly started nodes
 * are first connected to the bootstrap alone, and gossipsub only forwards a
 * topic through peers subscribed to it, so the bootstrap joins every task
 * topic of a model as soon as a peer subscribes to one of that model's
 * topics. It validates what it forwards with the same stateless validators as
 * every other node (a forged message is rejected and its sender penalised),
 * and it follows at most `maxModels` models so peers cannot make it join
 * topics without bound.
 */
import { logger } from '@libp2p/logger'
import { defaultValidators, installGossip } from '../../protocols/gossip/index.ts'
import { parseTopic } from '../../protocols/topics.ts'
import type { GossipSub } from '@libp2p/gossipsub'

const log = logger('cortensor:relay')

/** Models a relay follows at most. */
export const RELAY_MAX_MODELS = 32

export interface GossipRelayInit {
  pubsub: GossipSub
  network: string
  maxModels?: number
  onLine?(line: string): void
}

export interface GossipRelay {
  models(): string[]
  stop(): void
}

interface SubscriptionChange {
  subscriptions: Array<{ topic: string, subscribe: boolean }>
}

export function startGossipRelay (init: GossipRelayInit): GossipRelay {
  const prefix = `/${init.network}`
  const max = init.maxModels ?? RELAY_MAX_MODELS
  const installed = new Map<string, () => void>()

  const follow = (topic: string): void => {
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
      log('not relaying model %s: already following %d models', model, max)
      return
    }
    installed.set(model, installGossip(init.pubsub, { prefix, models: [model], validators: defaultValidators() }))
    init.onLine?.(`relaying gossip for model ${model.length > 20 ? `${model.slice(0, 18)}…` : model}`)
  }

  const onChange = (evt: CustomEvent<SubscriptionChange>): void => {
    for (const s of evt.detail.subscriptions) {
      if (s.subscribe) {
        follow(s.topic)
      }
    }
  }
  init.pubsub.addEventListener('subscription-change', onChange as any)

  return {
    models: () => [...installed.keys()],
    stop: () => {
      init.pubsub.removeEventListener('subscription-change', onChange as any)
      for (const uninstall of installed.values()) {
        uninstall()
      }
      installed.clear()
    }
  }
}
