/**
 * Versioned gossip topics `/cortensor/1/<kind>[/<model>]`, built and parsed
 * here only, and the typed map topic kind → message type → codec → handler,
 * so a missing codec, validator or handler is a compile error.
 */
import {
  Ack, Assignment, Decline, FirstTokenReport, Heartbeat, MAX_GOSSIP_MESSAGE_BYTES, MAX_MODEL_ID_BYTES, Precommit, Reveal, TaskQueued, Verdict,
  checkAck, checkAssignment, checkDecline, checkFirstTokenReport, checkHeartbeat, checkPrecommit, checkReveal, checkTaskQueued, checkVerdict, decoders
} from './messages/index.ts'

/** Root of every topic; tests and private networks pass their own prefix. */
export const TOPIC_PREFIX = '/cortensor'
/** Wire version of the gossip messages; bump on an incompatible .proto change. */
export const TOPIC_VERSION = 1

export const TOPIC_KINDS = ['task', 'assignment', 'ack', 'decline', 'precommit', 'reveal', 'verdict', 'heartbeat', 'first-token'] as const
export type TopicKind = typeof TOPIC_KINDS[number]
/**
 * Kinds for the oracles that a miner publishes on without joining (decision
 * 0023): others' reveals and the submitters' first-token reports
 */
export const KINDS_MINERS_DO_NOT_JOIN: readonly TopicKind[] = ['reveal', 'first-token']

/** Payload type of each topic kind. */
export interface TopicMessages {
  task: TaskQueued
  assignment: Assignment
  ack: Ack
  decline: Decline
  precommit: Precommit
  reveal: Reveal
  verdict: Verdict
  heartbeat: Heartbeat
  /** a submitter's measurement of a miner's first token on its task */
  'first-token': FirstTokenReport
}

export interface TopicCodec<T> {
  /** per-model topics (miners subscribe only to the models they serve) */
  modelScoped: boolean
  maxBytes: number
  encode(message: T): Uint8Array
  decode(bytes: Uint8Array): T
  /** structural checks; throws InvalidFieldError */
  check(message: T): void
}

export type TopicCodecs = { [K in TopicKind]: TopicCodec<TopicMessages[K]> }

export const TOPIC_CODECS: TopicCodecs = {
  task: { modelScoped: true, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => TaskQueued.encode(m), decode: decoders.taskQueued, check: checkTaskQueued },
  assignment: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Assignment.encode(m), decode: decoders.assignment, check: m => { checkAssignment(m) } },
  ack: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Ack.encode(m), decode: decoders.ack, check: checkAck },
  decline: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Decline.encode(m), decode: decoders.decline, check: checkDecline },
  precommit: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Precommit.encode(m), decode: decoders.precommit, check: checkPrecommit },
  reveal: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Reveal.encode(m), decode: decoders.reveal, check: checkReveal },
  verdict: { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Verdict.encode(m), decode: decoders.verdict, check: checkVerdict },
  heartbeat: { modelScoped: true, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => Heartbeat.encode(m), decode: decoders.heartbeat, check: checkHeartbeat },
  'first-token': { modelScoped: false, maxBytes: MAX_GOSSIP_MESSAGE_BYTES, encode: m => FirstTokenReport.encode(m), decode: decoders.firstToken, check: checkFirstTokenReport }
}

/** One handler per topic kind; `Partial` is deliberately not used by callers that must handle everything. */
export type TopicHandlers<Meta> = { [K in TopicKind]: (message: TopicMessages[K], meta: Meta) => void | Promise<void> }

export interface ParsedTopic {
  prefix: string
  version: number
  kind: TopicKind
  model?: string
}

export interface TopicOptions {
  prefix?: string
}

/** Model ids as they may appear in a topic: no slashes or spaces. */
const MODEL_RE = /^[A-Za-z0-9._:+-]+$/

export class InvalidTopicError extends Error {
  static name = 'InvalidTopicError'

  constructor (topic: string, reason: string) {
    super(`invalid topic ${JSON.stringify(topic)}: ${reason}`)
    this.name = 'InvalidTopicError'
  }
}

function checkModel (topic: string, model: string): void {
  if (model.length === 0 || model.length > MAX_MODEL_ID_BYTES || !MODEL_RE.test(model)) {
    throw new InvalidTopicError(topic, `bad model id ${JSON.stringify(model)}`)
  }
}

export function isTopicKind (value: string): value is TopicKind {
  return (TOPIC_KINDS as readonly string[]).includes(value)
}

/** `/cortensor/1/task/<model>`, `/cortensor/1/ack`, … */
export function buildTopic (kind: TopicKind, model?: string, options: TopicOptions = {}): string {
  const base = `${options.prefix ?? TOPIC_PREFIX}/${TOPIC_VERSION}/${kind}`
  if (TOPIC_CODECS[kind].modelScoped) {
    if (model == null) {
      throw new InvalidTopicError(base, `${kind} topics need a model`)
    }
    checkModel(base, model)
    return `${base}/${model}`
  }
  if (model != null) {
    throw new InvalidTopicError(base, `${kind} topics are not per model`)
  }
  return base
}

export function parseTopic (topic: string, options: TopicOptions = {}): ParsedTopic {
  const prefix = options.prefix ?? TOPIC_PREFIX
  if (!topic.startsWith(prefix + '/')) {
    throw new InvalidTopicError(topic, `not under ${prefix}`)
  }
  const parts = topic.slice(prefix.length + 1).split('/')
  const [version, kind, model, ...rest] = parts
  if (version !== String(TOPIC_VERSION)) {
    throw new InvalidTopicError(topic, `unsupported version ${version}`)
  }
  if (kind == null || !isTopicKind(kind)) {
    throw new InvalidTopicError(topic, `unknown kind ${kind}`)
  }
  if (rest.length > 0) {
    throw new InvalidTopicError(topic, 'too many segments')
  }
  if (TOPIC_CODECS[kind].modelScoped) {
    if (model == null) {
      throw new InvalidTopicError(topic, `${kind} topics need a model`)
    }
    checkModel(topic, model)
    return { prefix, version: TOPIC_VERSION, kind, model }
  }
  if (model != null) {
    throw new InvalidTopicError(topic, `${kind} topics are not per model`)
  }
  return { prefix, version: TOPIC_VERSION, kind }
}

/** Every topic a node serving `models` listens on. */
export function allTopics (models: string[], options: TopicOptions = {}): string[] {
  const topics: string[] = []
  for (const kind of TOPIC_KINDS) {
    if (TOPIC_CODECS[kind].modelScoped) {
      for (const model of models) {
        topics.push(buildTopic(kind, model, options))
      }
    } else {
      topics.push(buildTopic(kind, undefined, options))
    }
  }
  return topics
}
