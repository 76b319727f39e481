/**
 * Discrete-event Monte-Carlo simulation of task arrivals, miner selection,
 * commit-reveal, validation and settlement. Per-node state lives in typed
 * arrays; every selection, sampling, validation, settlement and reputation
 * decision is made by the network's own functions from protocols/.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { aggregateVerdicts, auditVerdicts, commitmentDigest, revealMatches, settle, Submission, Verdict } from '../protocols/policy/index.ts'
import { nextReputation, REPUTATION_INITIAL } from '../protocols/reputation/index.ts'
import { isAuditDue } from '../protocols/sampling/index.ts'
import { MinerPool, minerWeight, NotEnoughMinersError, Prng, selectionSeed, selectMiners } from '../protocols/selection/index.ts'
import {
  BLOCK_TIME_S, COST_CHEAP, COST_EMBEDDING, COST_INFERENCE, COST_REPLAY, COST_WRONG_MODEL,
  MAX_TOKENS_PER_SEC, MIN_TOKENS_PER_SEC, STRATEGIES, TASK_DURATION_S
} from './constants.ts'
import { STRATEGY_INDEX, summarise } from './results.ts'
import { strategyMix } from './scenario.ts'
import type { ProgressFn, RunResult } from './results.ts'
import type { Scenario } from './scenario.ts'
import type { VerdictCode } from '../protocols/policy/index.ts'

export type { BehaviourStats, ProgressFn, RunResult } from './results.ts'

const B = STRATEGY_INDEX
const HONEST_CLUSTER = 0
const LAZY_CLUSTER = 1_000
const WRONG_CLUSTER = 2_000
const GROUP_CLUSTER = 3_000

export function runSimulation (s: Scenario, onProgress?: ProgressFn): RunResult {
  const N = s.nodes
  const root = new Prng(sha256(new TextEncoder().encode(`cortensor/sim/${s.seed}`)))
  const behaviour = new Uint8Array(N)
  const group = new Int32Array(N).fill(-1)
  const tps = new Float32Array(N)
  const reputation = new Int32Array(N)
  const stake = new Float64Array(N)
  const firstCaughtS = new Float64Array(N).fill(-1)

  // assign behaviours
  const mix = strategyMix(s)
  let colluderCount = 0
  for (let i = 0; i < N; i++) {
    let u = root.nextFloat()
    let b = B.honest
    for (const [name, f] of mix) {
      if (u < f) {
        b = B[name]
        break
      }
      u -= f
    }
    behaviour[i] = b
    tps[i] = MIN_TOKENS_PER_SEC + root.nextFloat() * (MAX_TOKENS_PER_SEC - MIN_TOKENS_PER_SEC)
    reputation[i] = REPUTATION_INITIAL
    stake[i] = b === B.sybil ? s.sybilStake : s.stake
    if (b === B.colluding) {
      group[i] = s.collusionGroupSize > 0 ? Math.floor(colluderCount / s.collusionGroupSize) : 0
      colluderCount++
    } else if (b === B.sybil) {
      group[i] = 0x7fff_0000 // one operator behind all sybil identities
    }
  }
  const weights = new Uint32Array(N)
  for (let i = 0; i < N; i++) {
    weights[i] = minerWeight(reputation[i], tps[i])
  }
  const pool = new MinerPool(weights)

  const stats = STRATEGIES.map(strategy => ({
    strategy, nodes: 0, assigned: 0, cheatActs: 0, caughtActs: 0, flagged: 0, timeouts: 0, passes: 0, paid: 0, slashed: 0, cost: 0, ejectedNodes: 0
  }))
  for (let i = 0; i < N; i++) {
    stats[behaviour[i]].nodes++
  }

  const horizonS = s.days * 86_400
  const expectedTasks = Math.round(N * s.tasksPerNodePerDay * s.days)
  const meanGapS = expectedTasks > 0 ? horizonS / expectedTasks : Infinity
  const n = s.redundancy
  // FIFO of reservations to release (constant task duration keeps it ordered)
  const cap = 1 << Math.ceil(Math.log2(Math.max(1024, Math.ceil((TASK_DURATION_S / meanGapS) * n * 2 + 4 * n))))
  let relIdx: Int32Array = new Int32Array(cap)
  let relAt: Float64Array = new Float64Array(cap)
  let head = 0
  let tail = 0

  const chosen = new Int32Array(n)
  const status = new Uint8Array(n)
  const cluster = new Int32Array(n)
  const output = new Int32Array(n)
  const verdicts = new Uint8Array(n)
  const outBytes = new Uint8Array(4)
  const salt = new Uint8Array(8)
  // the replay check's truth: only the honest model's own output passes
  const replay = (i: number): boolean => output[i] === HONEST_CLUSTER
  const aggregateInput = { n, status, cluster, output, escalateOnDisagreement: s.escalateOnDisagreement, replay }
  const auditInput = { n, output, replay }
  // verdicts as settled (what is paid), before a post-settlement audit may turn a PASS into REPLAY_FAIL
  const settledVerdicts = new Uint8Array(n)

  let blockCache = -1
  let blockValue = new Uint8Array(32)
  const blockHash = (block: number): Uint8Array => {
    if (block !== blockCache) {
      blockCache = block
      const b = new Uint8Array(12)
      new DataView(b.buffer).setUint32(0, s.seed)
      new DataView(b.buffer).setFloat64(4, block)
      blockValue = sha256(b)
    }
    return blockValue
  }
  const churnPerHour = Math.round(N * s.churnPerDay / 24)
  let nextChurnS = 3600

  let tasks = 0
  let noResult = 0
  let badAccepted = 0
  let replayedTasks = 0
  let replays = 0
  let extra = 0
  let t = 0
  const progressEvery = Math.max(1, Math.floor(expectedTasks / 200))

  while (true) {
    t += -Math.log(1 - root.nextFloat()) * meanGapS
    if (!(t < horizonS)) {
      break
    }
    while (head !== tail && relAt[head] <= t) {
      pool.release(relIdx[head])
      head = (head + 1) & (relIdx.length - 1)
    }
    if (churnPerHour > 0) {
      while (t >= nextChurnS) {
        // identities leave; fresh ones (same operator behaviour) join with initial reputation and a new stake
        for (let c = 0; c < churnPerHour; c++) {
          const i = root.nextInt(N)
          reputation[i] = REPUTATION_INITIAL
          stake[i] = behaviour[i] === B.sybil ? s.sybilStake : s.stake
          pool.setWeight(i, minerWeight(reputation[i], tps[i]))
        }
        nextChurnS += 3600
      }
    }
    const taskId = tasks + 1
    const seed = selectionSeed(blockHash(Math.floor(t / BLOCK_TIME_S)), taskId)
    try {
      selectMiners(pool, seed, n, { reserve: true, out: chosen })
    } catch (err) {
      if (err instanceof NotEnoughMinersError) {
        noResult++
        tasks++
        continue
      }
      throw err
    }
    tasks++

    // what each miner does
    let sameGroup = group[chosen[0]] >= 0
    for (let k = 1; k < n && sameGroup; k++) {
      sameGroup = group[chosen[k]] === group[chosen[0]]
    }
    let firstWorker = -1
    for (let k = 0; k < n; k++) {
      const i = chosen[k]
      const b = behaviour[i]
      const st = stats[b]
      st.assigned++
      status[k] = Submission.OK
      switch (b) {
        case B.lazy:
          if (root.nextFloat() < s.lazyProbability) {
            cluster[k] = LAZY_CLUSTER + k
            st.cost += COST_CHEAP
            st.cheatActs++
          } else {
            cluster[k] = HONEST_CLUSTER
            st.cost += COST_INFERENCE
          }
          break
        case B['wrong-model']:
          // another model's text: its own output; its embedding may still sit in the honest cluster
          cluster[k] = root.nextFloat() < s.wrongModelSimilar ? HONEST_CLUSTER : WRONG_CLUSTER + k
          output[k] = WRONG_CLUSTER + k
          st.cost += COST_WRONG_MODEL
          st.cheatActs++
          break
        case B.colluding:
        case B.sybil:
          if (sameGroup) {
            cluster[k] = GROUP_CLUSTER + (group[i] & 0xffff)
            st.cost += COST_CHEAP
            st.cheatActs++
          } else {
            cluster[k] = HONEST_CLUSTER
            st.cost += COST_INFERENCE
          }
          break
        case B.copier:
          cluster[k] = -2 // filled after the others reveal
          st.cheatActs++
          break
        default:
          cluster[k] = HONEST_CLUSTER
          st.cost += COST_INFERENCE
      }
      if (b !== B['wrong-model']) {
        output[k] = cluster[k]
      }
      if (b !== B.copier && firstWorker === -1) {
        firstWorker = k
      }
    }
    for (let k = 0; k < n; k++) {
      if (cluster[k] !== -2) {
        continue
      }
      if (firstWorker === -1) {
        status[k] = Submission.TIMEOUT // nothing to copy before the deadline
        continue
      }
      const copied = output[firstWorker]
      if (s.commitReveal) {
        // the precommit had to be signed before any reveal: the copier could only commit to a guess
        salt.fill(0)
        writeU32(salt, 0, root.nextU32())
        writeU32(outBytes, 0, root.nextU32())
        const precommit = commitmentDigest(taskId, outBytes, salt)
        writeU32(outBytes, 0, copied)
        status[k] = revealMatches(precommit, taskId, outBytes, salt) ? Submission.OK : Submission.COMMIT_MISMATCH
      }
      cluster[k] = cluster[firstWorker]
      output[k] = copied
    }

    const res = aggregateVerdicts(aggregateInput, verdicts)
    settledVerdicts.set(verdicts)
    // the audit draw uses the block that settles the task: fixed after every miner committed
    const audited = isAuditDue(blockHash(Math.floor((t + TASK_DURATION_S) / BLOCK_TIME_S) + 1), taskId, s.sampleRate, res.replayed)
    let taskReplays = res.replays
    if (audited) {
      taskReplays += auditVerdicts(auditInput, verdicts).replays
    }
    if (res.replayed || audited) {
      replayedTasks++
      replays += taskReplays
    }
    if (res.accepted === -1) {
      noResult++
    } else if (res.accepted !== HONEST_CLUSTER) {
      badAccepted++
    }
    extra += (n - 1) + taskReplays * COST_REPLAY + (n > 1 ? n * COST_EMBEDDING : 0)

    for (let k = 0; k < n; k++) {
      const i = chosen[k]
      const st = stats[behaviour[i]]
      const v = verdicts[k] as VerdictCode
      // paid as settled; slashed for provable fraud found by validation or by the audit
      const { paid } = settle(settledVerdicts[k], s)
      const { slashed } = settle(v, s, stake[i])
      st.paid += paid
      st.slashed += slashed
      stake[i] -= slashed
      if (v === Verdict.PASS) {
        st.passes++
      } else if (v === Verdict.OUTLIER) {
        st.flagged++
      } else if (v === Verdict.TIMEOUT) {
        st.timeouts++
      } else if (v === Verdict.REPLAY_FAIL || v === Verdict.COMMIT_MISMATCH) {
        st.caughtActs++
        if (firstCaughtS[i] < 0) {
          firstCaughtS[i] = t
        }
      }
      reputation[i] = nextReputation(reputation[i], v)
      if (stake[i] <= 0 && slashed > 0) {
        st.ejectedNodes++ // stake exhausted: the registry removes the identity
      }
      pool.setWeight(i, stake[i] <= 0 ? 0 : minerWeight(reputation[i], tps[i]))
      // reservation until the task's duration is over
      if (((tail + 1) & (relIdx.length - 1)) === head) {
        ({ relIdx, relAt, head, tail } = grow(relIdx, relAt, head, tail))
      }
      relIdx[tail] = i
      relAt[tail] = t + TASK_DURATION_S
      tail = (tail + 1) & (relIdx.length - 1)
    }
    if (onProgress !== undefined && tasks % progressEvery === 0) {
      onProgress(Math.min(t, horizonS), horizonS)
    }
  }
  onProgress?.(horizonS, horizonS)

  const useful = tasks - noResult
  const { behaviours, timeline } = summarise(stats, behaviour, firstCaughtS, horizonS, s.days)
  return {
    scenario: s,
    tasks,
    noResult,
    badAccepted,
    badAcceptedRate: tasks === 0 ? 0 : badAccepted / tasks,
    replayedTasks,
    replays,
    verificationCost: useful === 0 ? 0 : extra / useful,
    behaviours,
    timeline
  }
}

function writeU32 (b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = (v >>> 16) & 0xff
  b[o + 2] = (v >>> 8) & 0xff
  b[o + 3] = v & 0xff
}

function grow (idx: Int32Array, at: Float64Array, head: number, tail: number): { relIdx: Int32Array, relAt: Float64Array, head: number, tail: number } {
  const len = idx.length
  const relIdx = new Int32Array(len * 2)
  const relAt = new Float64Array(len * 2)
  let m = 0
  for (let p = head; p !== tail; p = (p + 1) & (len - 1)) {
    relIdx[m] = idx[p]
    relAt[m] = at[p]
    m++
  }
  return { relIdx, relAt, head: 0, tail: m }
}
