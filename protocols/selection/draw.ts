/**
 * The draw itself: miner records, eligibility and weights, the pool
 * snapshot, seeds, `selectMiners` and `verifySelection` (index.ts says what
 * selection guarantees).
 */
import { REPUTATION_MAX } from '../reputation/constants.ts'
import {
  LOAD_FACTOR_MIN,
  MAX_REDUNDANCY,
  REFERENCE_TOKENS_PER_SEC,
  SAMPLING_SEED_DOMAIN,
  SELECTION_DOMAIN,
  SPEED_FACTOR_MAX,
  SPEED_FACTOR_MIN,
  WEIGHT_SCALE
} from './constants.ts'
import { InvalidRedundancyError, NotEnoughMinersError } from './errors.ts'
import { MinerPool } from './pool.ts'
import { deriveSeed, Prng } from './prng.ts'
import type { TaskId } from './prng.ts'

/** What the pool knows about a miner (from its DHT record, heartbeats and the chain). */
export interface MinerRecord {
  id: string
  /** model ids the miner serves */
  models: readonly string[]
  /** level from reputation/levelFor */
  level: number
  /** integer score in [0, REPUTATION_MAX] */
  reputation: number
  /** generation speed: delivered as oracles measured it once known, else the miner's benchmark (protocols/pool/delivery.ts) */
  tokensPerSec: number
  /** time to the first token the miner's benchmark measured, ms (unknown: fails a first-token SLA) */
  firstTokenMs?: number
  /** runs its engine on a GPU (unknown: false) */
  gpu?: boolean
  /** share of its parallel sequences in use, per mille (default 0) */
  loadPermille?: number
  /** passed its last health probe / heartbeat */
  healthy: boolean
  /** currently serving a session */
  reserved: boolean
}

/** What a task needs from a miner (its model and SLA class). */
export interface SelectionFilter {
  model: string
  /** minimum level (SLA class); default 0 */
  minLevel?: number
  /** minimum measured speed (SLA); default 0 */
  minTokensPerSec?: number
  /** maximum time to the first token (SLA); default none */
  maxFirstTokenMs?: number
  /** GPU miners only (SLA); default false */
  gpuOnly?: boolean
  /** skip miners at or above this load (per mille); default none */
  maxLoadPermille?: number
}

/**
 * A miner's integer draw weight: reputation share × speed factor × load
 * factor × WEIGHT_SCALE, at least 1 for any miner with a positive score.
 * Speed factor = √(tokens/s ÷ reference), clamped to [0.5, 2]; load factor
 * from 1 (idle) down to LOAD_FACTOR_MIN (every sequence in use).
 */
export function minerWeight (reputation: number, tokensPerSec: number, loadPermille = 0): number {
  if (!(reputation > 0)) {
    return 0
  }
  const ratio = tokensPerSec > 0 ? Math.sqrt(tokensPerSec / REFERENCE_TOKENS_PER_SEC) : SPEED_FACTOR_MIN
  const speed = ratio < SPEED_FACTOR_MIN ? SPEED_FACTOR_MIN : ratio > SPEED_FACTOR_MAX ? SPEED_FACTOR_MAX : ratio
  const load = loadPermille > 0 ? 1 - (1 - LOAD_FACTOR_MIN) * Math.min(loadPermille, 1000) / 1000 : 1
  const w = Math.floor((Math.min(reputation, REPUTATION_MAX) / REPUTATION_MAX) * speed * load * WEIGHT_SCALE)
  return w < 1 ? 1 : w
}

/** Whether a miner may serve a task at all (reservation is handled by the pool). */
export function isEligible (m: MinerRecord, filter: SelectionFilter): boolean {
  return m.healthy &&
    m.models.includes(filter.model) &&
    m.level >= (filter.minLevel ?? 0) &&
    m.tokensPerSec >= (filter.minTokensPerSec ?? 0) &&
    (filter.gpuOnly !== true || m.gpu === true) &&
    (filter.maxFirstTokenMs == null || (m.firstTokenMs != null && m.firstTokenMs <= filter.maxFirstTokenMs)) &&
    (filter.maxLoadPermille == null || (m.loadPermille ?? 0) < filter.maxLoadPermille)
}

export interface PoolSnapshot {
  pool: MinerPool
  /** miner id of each pool index, in the record order the snapshot was built from */
  ids: string[]
}

/**
 * Build a snapshot for one filter from miner records. Records must be in a
 * canonical order every oracle agrees on (e.g. sorted by id); the snapshot
 * keeps that order.
 */
export function poolFromRecords (records: readonly MinerRecord[], filter: SelectionFilter): PoolSnapshot {
  const weights = new Uint32Array(records.length)
  const ids: string[] = new Array(records.length)
  for (let i = 0; i < records.length; i++) {
    const m = records[i]
    ids[i] = m.id
    weights[i] = isEligible(m, filter) ? minerWeight(m.reputation, m.tokensPerSec, m.loadPermille) : 0
  }
  const pool = new MinerPool(weights)
  for (let i = 0; i < records.length; i++) {
    if (records[i].reserved) {
      pool.reserve(i)
    }
  }
  return { pool, ids }
}

/**
 * The sampling seed of a task that samples (temperature > 0) but gave no
 * seed: the first 4 bytes (big-endian, llama.cpp's seed is 32-bit) of
 * sha256(SAMPLING_SEED_DOMAIN ‖ the chain's seed of the task ‖ task id).
 * Every miner and oracle computes the same seed from the announcement, so
 * redundant miners sample the same tokens and their outputs stay comparable
 * by CID; the submitter cannot pick it after seeing the chain's value.
 */
export function samplingSeed (chainValue: Uint8Array, taskId: TaskId): number {
  const d = deriveSeed(SAMPLING_SEED_DOMAIN, chainValue, taskId)
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0
}

/** The seed of a task's selection: sha256(domain ‖ chain value ‖ task id). */
export function selectionSeed (chainValue: Uint8Array, taskId: TaskId): Uint8Array {
  return deriveSeed(SELECTION_DOMAIN, chainValue, taskId)
}

export interface SelectOptions {
  /** leave the chosen miners reserved in the pool (the oracle's assignment step); default false */
  reserve?: boolean
  /** write the result here instead of allocating (length ≥ redundancy) */
  out?: Int32Array
}

/**
 * Draw `redundancy` distinct miners, each with probability proportional to
 * its effective weight among those not drawn yet. Returns pool indices in
 * draw order. Throws NotEnoughMinersError if fewer are selectable.
 */
export function selectMiners (pool: MinerPool, seed: Uint8Array, redundancy: number, options: SelectOptions = {}): Int32Array {
  if (!Number.isInteger(redundancy) || redundancy < 1 || redundancy > MAX_REDUNDANCY) {
    throw new InvalidRedundancyError(redundancy)
  }
  const out = options.out ?? new Int32Array(redundancy)
  const prng = new Prng(seed)
  let k = 0
  try {
    for (; k < redundancy; k++) {
      const total = pool.totalWeight
      if (total <= 0) {
        throw new NotEnoughMinersError(redundancy, k)
      }
      const i = pool.find(prng.nextInt(total))
      out[k] = i
      pool.reserve(i)
    }
  } finally {
    if (options.reserve !== true || k < redundancy) {
      for (let j = 0; j < k; j++) {
        pool.release(out[j])
      }
    }
  }
  return out
}

export interface VerifySelectionResult {
  ok: boolean
  /** the selection the verifier computed (pool indices, draw order) */
  expected: Int32Array
}

/**
 * Recompute a selection and compare it with the claimed one (as a set: the
 * order of an assignment message does not matter). The pool must be the
 * snapshot the leader used, with the claimed miners not yet reserved.
 */
export function verifySelection (pool: MinerPool, seed: Uint8Array, redundancy: number, claimed: ArrayLike<number>): VerifySelectionResult {
  let expected: Int32Array
  try {
    expected = selectMiners(pool, seed, redundancy)
  } catch (err: any) {
    if (err instanceof NotEnoughMinersError) {
      return { ok: false, expected: new Int32Array(0) }
    }
    throw err
  }
  if (claimed.length !== expected.length) {
    return { ok: false, expected }
  }
  const want = Array.from(expected).sort((a, b) => a - b)
  const got = Array.from(claimed).sort((a, b) => a - b)
  return { ok: want.every((v, i) => v === got[i]), expected }
}
