/**
 * Per-kind gossip validators: authorship (a message that names an address
 * must come from that address's peer), freshness, topic/model consistency,
 * and hooks into the caller's view of tasks and leaders. Structural checks
 * already ran (`TopicCodec.check`) when these are called.
 */
import { bytesToHex } from 'viem'
import { taskParamsDigest } from '../blocks/index.ts'
import { InvalidFieldError } from '../messages/errors.ts'
import { bytesToAddress } from '../messages/index.ts'
import { recoverSigner } from '../signer.ts'
import { MAX_CLOCK_SKEW_MS, MAX_HEARTBEAT_AGE_MS } from './constants.ts'
import { ForgedSenderError, InvalidSignatureError, NotLeaderError, StaleMessageError, TopicMismatchError, UnknownTaskError } from './errors.ts'
import type { ParsedTopic, TopicKind, TopicMessages } from '../topics.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address } from 'viem'

export interface GossipContext {
  topic: ParsedTopic
  /** the signing author (strict signing) */
  from: PeerId
  /** the author's EVM address (same secp256k1 key) */
  fromAddress: Address
  /** the peer that forwarded the message to us */
  propagationSource: PeerId
  nowMs: number
}

export type KindValidator<T> = (message: T, ctx: GossipContext) => void | Promise<void>
export type GossipValidators = { [K in TopicKind]: KindValidator<TopicMessages[K]> }

export interface ValidatorsInit {
  maxClockSkewMs?: number
  maxHeartbeatAgeMs?: number
  /** Whether this node knows the task; unknown tasks are ignored. Omit to accept all. */
  isKnownTask?(taskId: bigint): boolean | Promise<boolean>
  /** Whether `oracle` may assign `taskId` now (leader rotation). Omit to accept any oracle. */
  isLeader?(oracle: Address, taskId: bigint): boolean | Promise<boolean>
}

export function assertSender (field: string, claimed: Uint8Array, ctx: GossipContext): void {
  const address = bytesToAddress(claimed)
  if (address.toLowerCase() !== ctx.fromAddress.toLowerCase()) {
    throw new ForgedSenderError(field, address, ctx.fromAddress)
  }
}

/**
 * The precommit's commitment is the EIP-712 hash of (task id, output digest,
 * salt) and its signature is over that hash, so the signer can be checked now
 * and the hash matched against the reveal later.
 */
export async function assertSignedBySender (hash: Uint8Array, signature: Uint8Array, ctx: GossipContext): Promise<void> {
  let signer: string
  try {
    signer = await recoverSigner(hash, signature)
  } catch {
    throw new InvalidSignatureError('signature does not recover')
  }
  if (signer.toLowerCase() !== ctx.fromAddress.toLowerCase()) {
    throw new InvalidSignatureError(`signed by ${signer}, sent by ${ctx.fromAddress}`)
  }
}

async function assertKnownTask (init: ValidatorsInit, taskId: bigint): Promise<void> {
  if (init.isKnownTask != null && !(await init.isKnownTask(taskId))) {
    throw new UnknownTaskError(taskId)
  }
}

/** The standard validators; roles pass hooks for what only they know. */
export function defaultValidators (init: ValidatorsInit = {}): GossipValidators {
  const skew = init.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS
  const maxAge = init.maxHeartbeatAgeMs ?? MAX_HEARTBEAT_AGE_MS
  return {
    task: (m, ctx) => {
      assertSender('submitter', m.submitter, ctx)
      if (m.params?.modelId !== ctx.topic.model) {
        throw new TopicMismatchError(`task for model ${m.params?.modelId} on the ${ctx.topic.model} topic`)
      }
      if (Number(m.deadlineMs) <= ctx.nowMs) {
        throw new StaleMessageError(`task ${m.taskId} deadline passed`)
      }
    },
    assignment: async (m, ctx) => {
      assertSender('leader', m.leader, ctx)
      await assertKnownTask(init, m.taskId)
      if (init.isLeader != null && !(await init.isLeader(ctx.fromAddress, m.taskId))) {
        throw new NotLeaderError(ctx.fromAddress)
      }
    },
    ack: async (m, ctx) => {
      assertSender('miner', m.miner, ctx)
      await assertKnownTask(init, m.taskId)
    },
    decline: async (m, ctx) => {
      assertSender('miner', m.miner, ctx)
      await assertKnownTask(init, m.taskId)
    },
    precommit: async (m, ctx) => {
      assertSender('miner', m.miner, ctx)
      await assertSignedBySender(m.commitment, m.signature, ctx)
      await assertKnownTask(init, m.taskId)
    },
    reveal: async (m, ctx) => {
      assertSender('miner', m.miner, ctx)
      await assertKnownTask(init, m.taskId)
    },
    verdict: async (m, ctx) => {
      assertSender('oracle', m.oracle, ctx)
      await assertKnownTask(init, m.taskId)
    },
    // only the submitter reports: who owns the task's session is checked against the chain where it is known
    // (node/roles/shared/gossip-checks.ts)
    'first-token': async (m, ctx) => {
      assertSender('submitter', m.submitter, ctx)
      await assertKnownTask(init, m.taskId)
    },
    heartbeat: (m, ctx) => {
      assertSender('node', m.node, ctx)
      if (ctx.topic.model == null || !m.models.includes(ctx.topic.model)) {
        throw new TopicMismatchError(`heartbeat on the ${ctx.topic.model} topic does not advertise that model`)
      }
      const ts = Number(m.timestampMs)
      if (ts > ctx.nowMs + skew) {
        throw new InvalidFieldError('timestampMs', 'in the future')
      }
      if (ts < ctx.nowMs - maxAge) {
        throw new StaleMessageError(`heartbeat from ${ts} is older than ${maxAge} ms`)
      }
    }
  }
}

/** Key of the statement a message makes, for semantic de-duplication (null = no de-duplication). */
export function statementKey<K extends TopicKind> (kind: K, m: TopicMessages[K], fromAddress: string): string | null {
  switch (kind) {
    // an announcement is one statement per content: a forged one for the same task id (rejected where the
    // chain is known) must not make the genuine one a duplicate where it is not
    case 'task': { const t = m as TopicMessages['task']; return `task:${t.taskId}:${bytesToHex(t.promptCid)}:${t.params != null ? taskParamsDigest(t.params) : ''}` }
    case 'assignment': { const a = m as TopicMessages['assignment']; return `assignment:${a.taskId}:${a.round}` }
    case 'ack': { const a = m as TopicMessages['ack']; return `ack:${a.taskId}:${fromAddress}:${a.round}` }
    case 'decline': { const d = m as TopicMessages['decline']; return `decline:${d.taskId}:${fromAddress}:${d.round}` }
    case 'precommit': return `precommit:${(m as TopicMessages['precommit']).taskId}:${fromAddress}`
    // two different reveals of one miner are both delivered: together they may prove equivocation
    case 'reveal': { const r = m as TopicMessages['reveal']; return `reveal:${r.taskId}:${fromAddress}:${bytesToHex(r.outputCid)}:${bytesToHex(r.salt)}` }
    case 'verdict': { const v = m as TopicMessages['verdict']; return `verdict:${v.taskId}:${fromAddress}:${v.round}` }
    case 'heartbeat': return `heartbeat:${fromAddress}:${(m as TopicMessages['heartbeat']).seq}`
    // one measurement per miner and task: a second (a different figure) is not delivered
    case 'first-token': { const f = m as TopicMessages['first-token']; return `first-token:${f.taskId}:${fromAddress}:${bytesToHex(f.miner)}` }
    default: return null
  }
}
