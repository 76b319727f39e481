/**
 * The audit of settled tasks. A task whose miners agreed byte for byte is
 * settled without a replay; once it is settled, the hash of the block that
 * settled it decides (protocols/sampling `isAuditDue`, the simulator's own
 * function) whether its accepted output is replayed anyway. That block comes
 * after every miner of the task committed, so no miner can know beforehand
 * which outputs will be checked, and the leader cannot pick the value: every
 * oracle draws the same decision from the same `TasksSettled` log and
 * replays on its own. A failed audit is signed and gossiped like a failed
 * replay at validation (ReplayQuorum), so the hub slashes the miner once a
 * quorum of oracles signed; the payment made at settlement stays.
 */
import { CID } from 'multiformats/cid'
import { hexToBytes } from 'viem'
import { MinerVerdict } from '../../../protocols/messages/index.ts'
import { DEFAULT_ESCALATE_ON_DISAGREEMENT, DEFAULT_SAMPLE_RATE, Submission, Verdict as V, auditTargets, needsReplay } from '../../../protocols/policy/index.ts'
import { isAuditDue } from '../../../protocols/sampling/index.ts'
import type { OracleMetrics } from './metrics.ts'
import type { ReplayQuorum } from './replay-quorum.ts'
import type { OracleTask } from './types.ts'
import type { Hex } from 'viem'

export interface AuditorInit {
  /** fraction of agreeing tasks audited; @default DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  /** whether validation replays disagreeing outputs (then those tasks need no audit); @default DEFAULT_ESCALATE_ON_DISAGREEMENT */
  escalateOnDisagreement?: boolean
  /** whether this oracle can replay a task of the model (has its engine) */
  canReplay(modelId: string | undefined): boolean
  replay: Pick<ReplayQuorum, 'confirm' | 'slash'>
  isLeader(): Promise<boolean>
  persist(task: OracleTask): Promise<void>
  metrics: Pick<OracleMetrics, 'audit' | 'auditFailure'>
  say(line: string): void
}

/** Outcomes of miners whose outputs validation judged (the outputs it compared). */
const JUDGED: ReadonlySet<MinerVerdict.Outcome> = new Set([MinerVerdict.Outcome.ACCEPTED, MinerVerdict.Outcome.OUTLIER, MinerVerdict.Outcome.REJECTED_REPLAY])

/**
 * Whether validation replayed the task's outputs, from its verdict and
 * reveals: the policy's own rule (they were not all identical), so a
 * follower that only saw the verdict draws the same conclusion as the leader.
 */
export function replayedAtValidation (task: Pick<OracleTask, 'record'>, escalate = DEFAULT_ESCALATE_ON_DISAGREEMENT): boolean {
  const judged = Object.entries(task.record.outcomes ?? {}).filter(([m, o]) => JUDGED.has(o) && task.record.reveals[m] != null)
  const cids = judged.map(([m]) => task.record.reveals[m].outputCid)
  const ids = cids.map(c => cids.indexOf(c))
  return needsReplay({ n: ids.length, status: new Uint8Array(ids.length).fill(Submission.OK), output: ids, escalateOnDisagreement: escalate })
}

export class Auditor {
  private readonly init: AuditorInit

  constructor (init: AuditorInit) {
    this.init = init
  }

  /** The task was settled in block `blockHash`: draw, and replay its accepted output if the draw says so. */
  async onSettled (task: OracleTask, blockHash: Hex): Promise<void> {
    const { record } = task
    const taskId = task.queued.taskId
    if (record.audit != null || record.outcomes == null) {
      return
    }
    const replayed = record.replayed ?? replayedAtValidation(task, this.init.escalateOnDisagreement)
    const due = isAuditDue(hexToBytes(blockHash), taskId, this.init.sampleRate ?? DEFAULT_SAMPLE_RATE, replayed)
    record.audit = { block: blockHash, due }
    await this.init.persist(task)
    if (!due) {
      return
    }
    if (!this.init.canReplay(task.queued.params?.modelId)) {
      this.init.say(`task ${taskId}: sampled for audit; this oracle has no engine for its model ${task.queued.params?.modelId}, the others audit it`)
      return
    }
    // the accepted miners, each distinct output once (the policy's audit targets), with the miners that share it
    const accepted = Object.entries(record.outcomes).filter(([m, o]) => o === MinerVerdict.Outcome.ACCEPTED && record.reveals[m] != null).map(([m]) => m)
    const cids = accepted.map(m => CID.parse(record.reveals[m].outputCid).toString())
    const output = cids.map(c => cids.indexOf(c))
    const targets = auditTargets(accepted.length, output, new Uint8Array(accepted.length).fill(V.PASS))
    this.init.metrics.audit()
    const failed: string[] = []
    for (const t of targets) {
      const sharing = accepted.filter((_, i) => output[i] === output[t])
      failed.push(...await this.init.replay.confirm(task, sharing, record.state.round))
    }
    record.audit = { block: blockHash, due, failed }
    await this.init.persist(task)
    if (failed.length === 0) {
      this.init.say(`task ${taskId}: audited after settlement: the accepted output replays`)
      return
    }
    this.init.metrics.auditFailure(failed.length)
    this.init.say(`task ${taskId}: audited after settlement: the output of ${failed.join(', ')} fails replay`)
    if (await this.init.isLeader()) {
      await this.init.replay.slash(task)
    }
  }
}
