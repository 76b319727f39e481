/** The light client's reading of gossip: the topics it follows and the messages it decodes with the nodes' own codecs. */
import { TOPIC_CODECS, TOPIC_KINDS, buildTopic, parseTopic } from '../../protocols/topics.ts'
import { topicPrefix } from './options.ts'
import type { GossipEvent } from './types.ts'
import type { TopicKind, TopicMessages } from '../../protocols/topics.ts'
import type { Message } from '@libp2p/gossipsub'

/** The topics of `kinds` (default all) on `network`: the shared ones once, the per-model ones for each of `models`. */
export function followedTopics (network: string | undefined, models: string[], kinds: TopicKind[] = [...TOPIC_KINDS]): string[] {
  const prefix = topicPrefix(network)
  return kinds.flatMap(kind => TOPIC_CODECS[kind].modelScoped
    ? models.map(model => buildTopic(kind, model, { prefix }))
    : [buildTopic(kind, undefined, { prefix })])
}

/**
 * A signed message on a followed topic, decoded and checked; undefined for
 * anything else (unsigned, another topic, too large, or malformed for our
 * codecs: the nodes' validators reject these too).
 */
export function decodeGossip (msg: Message, topics: readonly string[], network: string | undefined, receivedAtMs: number): GossipEvent | undefined {
  if (msg.type !== 'signed' || !topics.includes(msg.topic)) {
    return undefined
  }
  try {
    const topic = parseTopic(msg.topic, { prefix: topicPrefix(network) })
    const codec = TOPIC_CODECS[topic.kind] as unknown as { maxBytes: number, decode(b: Uint8Array): unknown, check(m: unknown): void }
    if (msg.data.byteLength > codec.maxBytes) {
      return undefined
    }
    const message = codec.decode(msg.data)
    codec.check(message)
    return {
      topic: msg.topic,
      kind: topic.kind,
      ...(topic.model != null ? { model: topic.model } : {}),
      from: msg.from.toString(),
      message: message as TopicMessages[TopicKind],
      receivedAtMs
    }
  } catch {
    return undefined
  }
}
