/**
 * Validation policy: which checks run for a task, how the redundant miners'
 * results are aggregated into per-miner verdicts, and what each verdict pays
 * or slashes. Pure and browser-safe; the oracle and the simulator call the
 * same functions.
 *
 * The ladder for one task (cheapest first):
 * 1. structural: each reveal must match its signed precommit (else
 * COMMIT_MISMATCH) and arrive in time (else TIMEOUT);
 * 2. redundancy: byte-identical outputs (the same CID) agree, and a
 * unanimous task is accepted without replay;
 * 3. replay: when the valid outputs are not all identical (and escalation
 * is on), every distinct output is replayed once (an output from another
 * model can sit in the honest embedding cluster; replay still rejects it);
 * failing outputs get REPLAY_FAIL;
 * 4. embedding clusters among the outputs that pass replay (honest
 * hardware drift or sampling makes different but equivalent texts): the
 * cluster with most passing miners gives the accepted answer; every output
 * that passed replay is honest work and gets PASS.
 * Without replay, a disagreeing task accepts a strict majority cluster, if
 * any, and the others are OUTLIERs.
 * 5. audit, after settlement: a task validation did not replay is replayed
 * anyway when a draw from its settlement block samples it
 * (protocols/sampling `isAuditDue`), so a unanimous fake is caught with the
 * sampling rate's probability and nobody knows which tasks until they are
 * settled (`auditVerdicts`).
 */
import { sha256 } from '@noble/hashes/sha2.js'
import {
  DEFAULT_ESCALATE_ON_DISAGREEMENT,
  DEFAULT_PENALTY_REWARDS,
  DEFAULT_REDUNDANCY,
  DEFAULT_SAMPLE_RATE,
  EMBEDDING_SIMILARITY_THRESHOLD,
  TASK_REWARD_UNITS
} from './constants.ts'
import { isProvableFraud, Verdict } from './verdicts.ts'

export * from './constants.ts'
export * from './verdicts.ts'

export interface NetworkParams {
  sampleRate: number
  redundancy: number
  /** slash for provable fraud, in task rewards */
  penalty: number
  /** payment of a passed result */
  reward: number
  escalateOnDisagreement: boolean
}

export const DEFAULT_NETWORK_PARAMS: Readonly<NetworkParams> = Object.freeze({
  sampleRate: DEFAULT_SAMPLE_RATE,
  redundancy: DEFAULT_REDUNDANCY,
  penalty: DEFAULT_PENALTY_REWARDS,
  reward: TASK_REWARD_UNITS,
  escalateOnDisagreement: DEFAULT_ESCALATE_ON_DISAGREEMENT
})

/** Structural status of one miner's submission. */
export const Submission = {
  OK: 0,
  COMMIT_MISMATCH: 1,
  TIMEOUT: 2
} as const

export interface AggregateInput {
  /** number of assigned miners */
  n: number
  /** Submission code per miner */
  status: ArrayLike<number>
  /** identity of each miner's output (equal ids = byte-identical outputs, e.g. the same CID); ignored unless status is OK */
  output: ArrayLike<number>
  /**
   * embedding cluster per miner (outputs in one cluster are "the same
   * answer"); with replay, consulted only among the outputs that pass it
   */
  cluster: ArrayLike<number>
  escalateOnDisagreement: boolean
  /**
   * Run the replay check on miner i's output; called at most once per
   * distinct output, with the first miner that submitted it.
   */
  replay(i: number): boolean
}

export interface AggregateResult {
  /** accepted output id, or -1 when no result was accepted */
  accepted: number
  /** index of a miner whose output is the accepted one, or -1 */
  acceptedMiner: number
  /** whether the replay stage ran */
  replayed: boolean
  /** how many replay checks ran (one per distinct output) */
  replays: number
}

const MAX_N = 64
const clusterIds = new Int32Array(MAX_N)
const clusterCount = new Int32Array(MAX_N)
const clusterFirst = new Int32Array(MAX_N)
const minerCluster = new Int32Array(MAX_N)
const minerReplay = new Int8Array(MAX_N)

function checkN (n: number): void {
  if (n > MAX_N) {
    throw new RangeError(`at most ${MAX_N} miners per task`)
  }
}

/** The first miner of each distinct output among `include`d miners, in miner order. */
function distinctOutputs (n: number, output: ArrayLike<number>, include: (i: number) => boolean): number[] {
  const firsts: number[] = []
  for (let i = 0; i < n; i++) {
    if (!include(i)) {
      continue
    }
    let seen = false
    for (const f of firsts) {
      if (output[f] === output[i]) {
        seen = true
        break
      }
    }
    if (!seen) {
      firsts.push(i)
    }
  }
  return firsts
}

/**
 * Whether validation replays this task: its structurally valid outputs are
 * not all byte-identical and escalation is on. Honest miners of a
 * deterministic task agree byte for byte on the same hardware, so a
 * difference means a cheat or hardware drift, and replay tells them apart.
 */
export function needsReplay (input: Pick<AggregateInput, 'n' | 'status' | 'output' | 'escalateOnDisagreement'>): boolean {
  return input.escalateOnDisagreement && replayTargets(input).length > 1
}

/** The miners whose outputs validation replays when it does: the first miner of each distinct valid output. */
export function replayTargets (input: Pick<AggregateInput, 'n' | 'status' | 'output'>): number[] {
  checkN(input.n)
  return distinctOutputs(input.n, input.output, i => input.status[i] === Submission.OK)
}

/**
 * Aggregate one task's submissions into per-miner verdicts (written to
 * `verdicts`, length ≥ n). Allocation-free on the unanimous path, so the
 * simulator can call it for every task of a day at 10^6 nodes.
 */
export function aggregateVerdicts (input: AggregateInput, verdicts: Uint8Array): AggregateResult {
  const { n, status, cluster, output } = input
  checkN(n)
  let k = 0 // distinct embedding clusters among valid submissions
  let valid = 0
  let firstValid = -1
  let unanimous = true
  for (let i = 0; i < n; i++) {
    const s = status[i]
    minerCluster[i] = -1
    if (s === Submission.COMMIT_MISMATCH) {
      verdicts[i] = Verdict.COMMIT_MISMATCH
      continue
    }
    if (s === Submission.TIMEOUT) {
      verdicts[i] = Verdict.TIMEOUT
      continue
    }
    valid++
    if (firstValid === -1) {
      firstValid = i
    } else if (output[i] !== output[firstValid]) {
      unanimous = false
    }
    const c = cluster[i]
    let j = 0
    while (j < k && clusterIds[j] !== c) {
      j++
    }
    if (j === k) {
      clusterIds[k] = c
      clusterCount[k] = 0
      clusterFirst[k] = -1
      k++
    }
    minerCluster[i] = j
  }
  if (valid === 0) {
    return { accepted: -1, acceptedMiner: -1, replayed: false, replays: 0 }
  }
  const replayed = !unanimous && input.escalateOnDisagreement
  let replays = 0
  for (let i = 0; i < n; i++) {
    const j = minerCluster[i]
    if (j === -1) {
      continue
    }
    let pass = 1
    if (replayed) {
      // identical outputs share one replay
      let prev = -1
      for (let h = 0; h < i; h++) {
        if (minerCluster[h] !== -1 && output[h] === output[i]) {
          prev = h
          break
        }
      }
      if (prev === -1) {
        pass = input.replay(i) ? 1 : 0
        replays++
      } else {
        pass = minerReplay[prev]
      }
    }
    minerReplay[i] = pass
    if (pass === 1) {
      clusterCount[j]++
      if (clusterFirst[j] === -1) {
        clusterFirst[j] = i
      }
    }
  }
  let best = -1
  for (let j = 0; j < k; j++) {
    if (clusterCount[j] === 0) {
      continue
    }
    if (replayed ? (best === -1 || clusterCount[j] > clusterCount[best]) : clusterCount[j] * 2 > valid) {
      best = j
    }
  }
  for (let i = 0; i < n; i++) {
    const j = minerCluster[i]
    if (j === -1) {
      continue
    }
    // an output that passed replay is honest work whichever answer is delivered (hardware drift and sampling
    // make honest outputs differ); without replay, disagreeing with the majority is all that is known
    verdicts[i] = minerReplay[i] === 0 ? Verdict.REPLAY_FAIL : (replayed || j === best) ? Verdict.PASS : Verdict.OUTLIER
  }
  if (best === -1) {
    return { accepted: -1, acceptedMiner: -1, replayed, replays }
  }
  const m = clusterFirst[best]
  return { accepted: output[m], acceptedMiner: m, replayed, replays }
}

/** The miners whose outputs an audit replays: the first miner of each distinct output with a PASS verdict. */
export function auditTargets (n: number, output: ArrayLike<number>, verdicts: ArrayLike<number>): number[] {
  checkN(n)
  return distinctOutputs(n, output, i => verdicts[i] === Verdict.PASS)
}

export interface AuditResult {
  /** replay checks run (one per distinct accepted output) */
  replays: number
  /** miners whose PASS became REPLAY_FAIL */
  failed: number
}

/**
 * The audit of a settled task that validation did not replay (its outputs
 * agreed) and that the post-settlement draw sampled (protocols/sampling
 * `isAuditDue`): each distinct accepted output is replayed once, and a
 * failure turns its miners' PASS into REPLAY_FAIL (slashed; the payment made
 * at settlement stays). Catches a unanimous fake, which agreement alone
 * cannot.
 */
export function auditVerdicts (input: { n: number, output: ArrayLike<number>, replay(i: number): boolean }, verdicts: Uint8Array): AuditResult {
  const targets = auditTargets(input.n, input.output, verdicts)
  let failed = 0
  for (const t of targets) {
    if (input.replay(t)) {
      continue
    }
    for (let i = 0; i < input.n; i++) {
      if (verdicts[i] === Verdict.PASS && input.output[i] === input.output[t]) {
        verdicts[i] = Verdict.REPLAY_FAIL
        failed++
      }
    }
  }
  return { replays: targets.length, failed }
}

export interface Settlement {
  paid: number
  slashed: number
}

/** What one verdict pays and slashes; the slash is capped by the miner's remaining stake. */
export function settle (verdict: number, params: Pick<NetworkParams, 'reward' | 'penalty'>, stake: number = Infinity): Settlement {
  if (verdict === Verdict.PASS) {
    return { paid: params.reward, slashed: 0 }
  }
  if (isProvableFraud(verdict)) {
    return { paid: 0, slashed: Math.max(0, Math.min(params.penalty * params.reward, stake)) }
  }
  return { paid: 0, slashed: 0 }
}

/**
 * Group outputs by embedding: each vector joins the first earlier cluster
 * whose representative has cosine similarity ≥ threshold, else starts a new
 * one. Returns a cluster id per vector (ids are the representative's index).
 */
export function clusterByEmbedding (vectors: readonly Float32Array[], threshold: number = EMBEDDING_SIMILARITY_THRESHOLD): Int32Array {
  const ids = new Int32Array(vectors.length)
  const reps: number[] = []
  for (let i = 0; i < vectors.length; i++) {
    let found = -1
    for (const r of reps) {
      if (cosine(vectors[i], vectors[r]) >= threshold) {
        found = r
        break
      }
    }
    if (found === -1) {
      reps.push(i)
      found = i
    }
    ids[i] = found
  }
  return ids
}

/** Cosine similarity in [-1, 1]; 0 when either vector is all zeros. Shared by the oracle and the simulator. */
export function cosine (a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`embedding lengths differ: ${a.length} vs ${b.length}`)
  }
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/**
 * The digest a miner signs in its precommit: sha256(taskId ‖ output ‖ salt)
 * with the task id as 8 bytes big-endian.
 */
export function commitmentDigest (taskId: number, output: Uint8Array, salt: Uint8Array): Uint8Array {
  const buf = new Uint8Array(8 + output.length + salt.length)
  const hi = Math.floor(taskId / 0x1_0000_0000)
  const lo = taskId >>> 0
  buf[0] = hi >>> 24; buf[1] = (hi >>> 16) & 0xff; buf[2] = (hi >>> 8) & 0xff; buf[3] = hi & 0xff
  buf[4] = lo >>> 24; buf[5] = (lo >>> 16) & 0xff; buf[6] = (lo >>> 8) & 0xff; buf[7] = lo & 0xff
  buf.set(output, 8)
  buf.set(salt, 8 + output.length)
  return sha256(buf)
}

/** The structural check of a reveal: does (output, salt) hash to the signed precommit? */
export function revealMatches (precommit: Uint8Array, taskId: number, output: Uint8Array, salt: Uint8Array): boolean {
  const d = commitmentDigest(taskId, output, salt)
  if (d.length !== precommit.length) {
    return false
  }
  let diff = 0
  for (let i = 0; i < d.length; i++) {
    diff |= d[i] ^ precommit[i]
  }
  return diff === 0
}
