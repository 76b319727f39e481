/**
 * The leader's verdict on a committed task: it runs the validation ladder
 * (node/roles/shared/validation.ts) on the reveals, signs each failed replay (the
 * first signature of the hub's replay quorum), gossips the verdict with what
 * it measured each miner deliver and, once the queue takes it, scores the
 * miners in its pool.
 */
import { hexToBytes } from 'viem'
import { publishMessage } from '../../../protocols/gossip/index.ts'
import { MinerVerdict, addressToBytes } from '../../../protocols/messages/index.ts'
import { verdictEvent } from '../../../protocols/queue/wire.ts'
import { outcomeVerdict, validateOutputs } from '../shared/validation.ts'
import type { OracleMetrics } from './metrics.ts'
import type { OracleModels } from './models.ts'
import type { ReplayQuorum } from './replay-quorum.ts'
import type { OracleTask } from './types.ts'
import type { Verdict } from '../../../protocols/messages/index.ts'
import type { QueueEvent } from '../../../protocols/queue/types.ts'
import type { PoolView } from '../shared/pool.ts'
import type { ValidationContext } from '../shared/validation.ts'
import type { Hex } from 'viem'

/** Outcomes whose output is real work: their delivery is measured (a rejected output's tokens prove nothing). */
const MEASURED_OUTCOMES = new Set([MinerVerdict.Outcome.ACCEPTED, MinerVerdict.Outcome.OUTLIER, MinerVerdict.Outcome.UNVERIFIABLE])
const MAX_UINT32 = 0xffff_ffff

/** What a verdict says a miner delivered on the task. */
export interface Delivered {
  tokens: number
  ms: number
  /** the submitter's report of the miner's first token, when one came before the verdict */
  firstTokenMs?: number
}

/**
 * What this oracle saw each miner deliver on the task: output tokens, and
 * the ms from the task's announcement here (a replacement: its assignment)
 * to the miner's precommit here. A miner cannot have started before the
 * announcement, so a fast claim does not shorten it. With it, the first
 * token as the task's submitter reported it.
 */
export function deliveries (record: Pick<OracleTask['record'], 'announcedAtMs' | 'assignedAtMs' | 'precommitAtMs' | 'firstTokenMs'>, outcomes: Record<string, MinerVerdict.Outcome>, tokens: Record<string, number>): Record<string, Delivered> {
  const out: Record<string, Delivered> = {}
  for (const [miner, outcome] of Object.entries(outcomes)) {
    const from = record.assignedAtMs?.[miner] ?? record.announcedAtMs
    const to = record.precommitAtMs?.[miner]
    const n = tokens[miner] ?? 0
    if (MEASURED_OUTCOMES.has(outcome) && from != null && to != null && n > 0) {
      const first = record.firstTokenMs?.[miner]
      out[miner] = { tokens: Math.min(n, MAX_UINT32), ms: Math.min(MAX_UINT32, Math.max(1, Math.round(to - from))), ...(first != null ? { firstTokenMs: first } : {}) }
    }
  }
  return out
}

/** The gossiped verdict: each miner's outcome, its similarity in parts per million, its measured delivery and, for a failed replay, this oracle's signature. */
export function verdictMessage (taskId: bigint, oracle: string, round: number, outcomes: Record<string, MinerVerdict.Outcome>, similarity: Record<string, number>, replaySigs: Record<string, Hex | undefined>, delivered: Record<string, Delivered> = {}): Verdict {
  return {
    taskId,
    oracle: addressToBytes(oracle as Hex),
    miners: Object.entries(outcomes).map(([miner, outcome]) => {
      const sig = replaySigs[miner]
      const d = delivered[miner]
      return {
        miner: addressToBytes(miner as Hex),
        outcome,
        similarityPpm: Math.round(Math.max(0, similarity[miner] ?? 0) * 1e6),
        ...(sig != null ? { replaySignature: new Uint8Array(hexToBytes(sig)) } : {}),
        ...(d != null ? { deliveredTokens: d.tokens, deliveredMs: d.ms } : {}),
        ...(d?.firstTokenMs != null ? { firstTokenMs: d.firstTokenMs } : {})
      }
    }),
    round,
    signature: new Uint8Array(0)
  }
}

export interface LeaderVerdictInit extends Pick<ValidationContext, 'node' | 'similarityThreshold' | 'say'> {
  /** the engine and embedder of each task's model */
  models: Pick<OracleModels, 'for'>
  /** this oracle's address, lower case */
  address: string
  /** gossip topic prefix */
  prefix: string
  pool: PoolView
  /** signs failed replays */
  replay: Pick<ReplayQuorum, 'sign'>
  isLeader(): Promise<boolean>
  /** apply a queue event to the task; false if the queue refused it */
  apply(task: OracleTask, event: QueueEvent): boolean
  metrics: Pick<OracleMetrics, 'replay' | 'task'>
}

export class LeaderVerdict {
  private readonly init: LeaderVerdictInit

  constructor (init: LeaderVerdictInit) {
    this.init = init
  }

  /** Validate a committed task's reveals and gossip the verdict (the leader only). */
  async validate (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'committed' || !(await this.init.isLeader())) {
      return
    }
    const { node, similarityThreshold } = this.init
    const q = task.queued
    const { engine, embedder } = this.init.models.for(q.params?.modelId)
    const { outcomes, similarity, tokens, replayed } = await validateOutputs({
      node,
      engine,
      embedder,
      similarityThreshold,
      peerOf: (miner) => this.init.pool.get(miner)?.peerId,
      onReplay: () => { this.init.metrics.replay() },
      say: (line) => { this.init.say(line) }
    }, { queued: q, state: s, reveals: task.record.reveals, promptHolder: task.from })
    // the leader's own failed-replay signatures travel with its verdict (the first of the hub's replay quorum)
    const replaySigs: Record<string, Hex | undefined> = {}
    for (const [miner, outcome] of Object.entries(outcomes)) {
      if (outcome === MinerVerdict.Outcome.REJECTED_REPLAY) {
        replaySigs[miner] = await this.init.replay.sign(task, miner)
      }
    }
    const msg = verdictMessage(q.taskId, this.init.address, s.round, outcomes, similarity, replaySigs, deliveries(task.record, outcomes, tokens))
    task.record.tokens = tokens
    task.record.replayed = replayed
    await publishMessage(node.libp2p.services.pubsub, 'verdict', msg, { prefix: this.init.prefix })
    if (this.init.apply(task, verdictEvent(msg))) {
      task.record.outcomes = outcomes
      this.init.metrics.task('validated')
      for (const [miner, outcome] of Object.entries(outcomes)) {
        this.init.pool.applyVerdict(miner, outcomeVerdict(outcome))
      }
      this.init.pool.delivery.addVerdict(msg)
      this.init.say(`task ${q.taskId}: verdict ${Object.entries(outcomes).map(([m, o]) => `${m.slice(0, 10)}… ${o}`).join(', ')}`)
    }
  }
}
