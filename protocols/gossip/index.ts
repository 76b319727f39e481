/**
 * The one gossip validation wrapper. For every message on a task topic:
 * signed? → topic parses → size limit → decode with limits → structural
 * checks → per-kind validator → not a duplicate statement → Accept. Typed
 * errors become Reject (the sender's peer score drops through P4) or Ignore,
 * per `GOSSIP_ERROR_ACTIONS`; a message that contradicts the chain or an
 * oracle's records is ignored and its author scored down (`onContradiction`).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { logger } from '@libp2p/logger'
import { peerIdToAddress } from '../identity.ts'
import { decodeWithLimit } from '../messages/index.ts'
import { TOPIC_CODECS, allTopics, buildTopic, parseTopic } from '../topics.ts'
import { DEDUPE_CACHE_SIZE } from './constants.ts'
import { ContradictsRecordError, DuplicateMessageError, GOSSIP_ERROR_ACTIONS, UnsignedMessageError } from './errors.ts'
import { topicScoreParams } from './scoring.ts'
import { statementKey } from './validators.ts'
import type { TopicHandlers, TopicKind, TopicMessages, TopicOptions } from '../topics.ts'
import type { GossipContext, GossipValidators } from './validators.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

export * from './errors.ts'
export * from './validators.ts'
export * from './scoring.ts'
export * from './constants.ts'
export * from './dedupe.ts'

const log = logger('cortensor:gossip')

export interface GossipValidatorInit extends TopicOptions {
  validators: GossipValidators
  /** clock, for freshness checks (default Date.now) */
  now?(): number
  dedupeCacheSize?: number
  /** the signed author of a message that contradicts the chain or this node's records (see RecordContradictions) */
  onContradiction?(author: PeerId, error: Error): void
  /** called for every verdict other than Accept (metrics, tests) */
  onVerdict?(result: TopicValidatorResult, error: Error, ctx: { topic: string, propagationSource: PeerId }): void
}

export interface ValidatedMessage<K extends TopicKind = TopicKind> {
  kind: K
  message: TopicMessages[K]
  ctx: GossipContext
}

/** Bounded insertion-ordered set. */
class RecentSet {
  private readonly keys = new Set<string>()
  private readonly max: number

  constructor (max: number) {
    this.max = max
  }

  has (key: string): boolean { return this.keys.has(key) }

  add (key: string): void {
    this.keys.add(key)
    if (this.keys.size > this.max) {
      const oldest = this.keys.values().next().value
      if (oldest != null) {
        this.keys.delete(oldest)
      }
    }
  }
}

export function resultFor (err: unknown): TopicValidatorResult {
  const name = (err as Error | undefined)?.name
  const action = name != null ? GOSSIP_ERROR_ACTIONS[name] : undefined
  if (action === 'reject') {
    return TopicValidatorResult.Reject
  }
  if (action == null) {
    log.error('unexpected validation error %s', (err as Error | undefined)?.message ?? err)
  }
  return TopicValidatorResult.Ignore
}

export interface GossipValidator {
  /** decode and validate, throwing typed errors */
  validate(propagationSource: PeerId, msg: Message): Promise<ValidatedMessage>
  /** the gossipsub topic validator */
  topicValidator(propagationSource: PeerId, msg: Message): Promise<TopicValidatorResult>
}

export function createGossipValidator (init: GossipValidatorInit): GossipValidator {
  const seen = new RecentSet(init.dedupeCacheSize ?? DEDUPE_CACHE_SIZE)
  const now = init.now ?? Date.now

  async function validate (propagationSource: PeerId, msg: Message): Promise<ValidatedMessage> {
    if (msg.type !== 'signed') {
      throw new UnsignedMessageError()
    }
    const topic = parseTopic(msg.topic, init)
    const codec = TOPIC_CODECS[topic.kind] as unknown as { maxBytes: number, decode(b: Uint8Array): unknown, check(m: unknown): void }
    const message = decodeWithLimit(msg.data, codec.maxBytes, b => codec.decode(b))
    codec.check(message)
    const fromAddress = peerIdToAddress(msg.from)
    const ctx: GossipContext = { topic, from: msg.from, fromAddress, propagationSource, nowMs: now() }
    const validator = init.validators[topic.kind] as (m: unknown, c: GossipContext) => void | Promise<void>
    await validator(message, ctx)
    const key = statementKey(topic.kind, message as TopicMessages[TopicKind], fromAddress.toLowerCase())
    if (key != null) {
      if (seen.has(key)) {
        throw new DuplicateMessageError(key)
      }
      seen.add(key)
    }
    return { kind: topic.kind, message, ctx } as ValidatedMessage
  }

  return {
    validate,
    async topicValidator (propagationSource, msg) {
      try {
        await validate(propagationSource, msg)
        return TopicValidatorResult.Accept
      } catch (err: any) {
        const result = resultFor(err)
        if (err instanceof ContradictsRecordError && msg.type === 'signed') {
          // ignored, so no relay loses score for it; its author does
          init.onContradiction?.(msg.from, err)
        }
        log('%s message on %s from %p: %s', result, msg.topic, propagationSource, err?.message)
        init.onVerdict?.(result, err, { topic: msg.topic, propagationSource })
        return result
      }
    }
  }
}

export interface MessageMeta {
  topic: string
  from?: PeerId
}

export interface InstallGossipInit extends GossipValidatorInit {
  /** models this node serves (per-model topics) */
  models: string[]
  /** handlers for accepted messages, one per kind */
  handlers?: TopicHandlers<MessageMeta>
  /** subscribe to the topics (default true) */
  subscribe?: boolean
  /** also the topics every model shares (assignment, ack, …); false: only the models' own topics (default true) */
  sharedTopics?: boolean
  /**
   * the kinds of message this node listens to (default every kind): it can
   * still publish the others, to the peers that listen to them
   */
  kinds?: readonly TopicKind[]
}

/**
 * Install the validator on every task topic of `models`, subscribe, and
 * dispatch accepted messages to typed handlers. Returns an uninstall function.
 */
export function installGossip (pubsub: GossipSub, init: InstallGossipInit): () => void {
  const validator = createGossipValidator(init)
  const topics = allTopics(init.models, init).filter(t => {
    const parsed = parseTopic(t, init)
    return (init.sharedTopics !== false || parsed.model != null) && (init.kinds == null || init.kinds.includes(parsed.kind))
  })
  const fn = validator.topicValidator.bind(validator)
  // score every topic installed here, model topics included (their names are only known now)
  const scored = (pubsub as unknown as { score?: { params?: { topics: Record<string, unknown> } } }).score?.params?.topics
  for (const topic of topics) {
    if (scored != null && scored[topic] == null) {
      scored[topic] = topicScoreParams()
    }
    pubsub.topicValidators.set(topic, fn)
    if (init.subscribe !== false) {
      pubsub.subscribe(topic)
    }
  }
  const topicSet = new Set(topics)
  const onMessage = (evt: CustomEvent<Message>): void => {
    const msg = evt.detail
    if (!topicSet.has(msg.topic) || init.handlers == null) {
      return
    }
    // already validated by gossipsub; decode again to hand over a typed message
    const { kind } = parseTopic(msg.topic, init)
    const message = TOPIC_CODECS[kind].decode(msg.data)
    const handler = init.handlers[kind] as (m: unknown, meta: MessageMeta) => void | Promise<void>
    Promise.resolve(handler(message, { topic: msg.topic, from: msg.type === 'signed' ? msg.from : undefined }))
      .catch(err => { log.error('handler for %s failed: %s', kind, err?.message ?? err) })
  }
  pubsub.addEventListener('message', onMessage)
  return () => {
    pubsub.removeEventListener('message', onMessage)
    for (const topic of topics) {
      if (pubsub.topicValidators.get(topic) === fn) {
        pubsub.topicValidators.delete(topic)
      }
      if (init.subscribe !== false) {
        pubsub.unsubscribe(topic)
      }
    }
  }
}

/** Encode and publish a typed message on its topic. */
export async function publishMessage<K extends TopicKind> (pubsub: GossipSub, kind: K, message: TopicMessages[K], options: TopicOptions & { model?: string } = {}): Promise<number> {
  const topic = buildTopic(kind, options.model, options)
  const codec = TOPIC_CODECS[kind] as unknown as { encode(m: TopicMessages[K]): Uint8Array }
  const { recipients } = await pubsub.publish(topic, codec.encode(message))
  return recipients.length
}
