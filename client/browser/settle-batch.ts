/**
 * The hub's settlement as the chain records it: the `settleBatch(packed)`
 * calldata (per task: its id, then one 160-byte report per assigned miner:
 * meta, outputDigest, salt, r, vs) and the `TasksSettled` event. Decoding
 * only; what the reports prove is verify.ts's business.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBigInt, getAddress, sliceHex, toEventSelector } from 'viem'
import { VERDICT_FAULTY } from '../../contracts/constants.ts'
import type { Address, Hex } from 'viem'

/** The parts of the hub's ABI verification reads. */
export const SETTLEMENT_ABI = [
  { type: 'function', name: 'settleBatch', stateMutability: 'nonpayable', inputs: [{ name: 'packed', type: 'bytes' }], outputs: [] },
  { type: 'event', name: 'TasksSettled', anonymous: false, inputs: [{ name: 'settled', type: 'uint256[]', indexed: false }] }
] as const

export const TASKS_SETTLED_TOPIC = toEventSelector('TasksSettled(uint256[])')

/** Bytes per miner report in settleBatch calldata: meta, outputDigest, salt, r, vs. */
export const REPORT_BYTES = 160
/** The hub's limit on miners per task (Sessions.MAX_MINERS). */
export const MAX_REPORTS_PER_TASK = 16

/** The digest an output CID is committed under on chain: its multihash digest (protocols/blocks `cidDigest`). */
export function cidDigest (cid: string | CID): Hex {
  const parsed = typeof cid === 'string' ? CID.parse(cid) : cid
  return bytesToHex(parsed.multihash.digest)
}

export interface PackedReport {
  meta: bigint
  miner: Address
  tokens: number
  verdict: number
  onTime: boolean
  outputDigest: Hex
  salt: Hex
  r: Hex
  vs: Hex
}

export interface PackedTask {
  taskId: bigint
  reports: PackedReport[]
}

function word (data: Hex, i: number): Hex {
  return sliceHex(data, i * 32, (i + 1) * 32, { strict: true })
}

/** A meta word as settleBatch packs it: address | tokens << 160 | verdict << 184 | onTime << 192, nothing above. */
function plausibleMeta (meta: bigint): boolean {
  return meta >> 193n === 0n && Number((meta >> 184n) & 0xffn) <= VERDICT_FAULTY
}

export function decodeReport (data: Hex, firstWord: number): PackedReport {
  const meta = hexToBigInt(word(data, firstWord))
  return {
    meta,
    miner: getAddress(`0x${(meta & ((1n << 160n) - 1n)).toString(16).padStart(40, '0')}`),
    tokens: Number((meta >> 160n) & 0xffffffn),
    verdict: Number((meta >> 184n) & 0xffn),
    onTime: ((meta >> 192n) & 1n) === 1n,
    outputDigest: word(data, firstWord + 1),
    salt: word(data, firstWord + 2),
    r: word(data, firstWord + 3),
    vs: word(data, firstWord + 4)
  }
}

/**
 * Split settleBatch's packed calldata into tasks. The batch does not say how
 * many reports each task has (the contract takes it from the session's
 * redundancy), so the task ids of the `TasksSettled` event, in order, guide
 * the split: each task's reports run up to the next task's id (or the end),
 * and every report's meta word must be well formed. Returns undefined when the
 * calldata cannot be split that way.
 */
export function splitSettleBatch (packed: Hex, taskIds: bigint[]): PackedTask[] | undefined {
  const bytes = (packed.length - 2) / 2
  const reportWords = REPORT_BYTES / 32
  if (!Number.isInteger(bytes) || bytes % 32 !== 0) {
    return undefined
  }
  const words = bytes / 32
  const at = (i: number): bigint => hexToBigInt(word(packed, i))
  const walk = (w: number, t: number): PackedTask[] | undefined => {
    if (t === taskIds.length) {
      return w === words ? [] : undefined
    }
    if (w >= words || at(w) !== taskIds[t]) {
      return undefined
    }
    for (let n = 1; n <= MAX_REPORTS_PER_TASK; n++) {
      const next = w + 1 + n * reportWords
      if (next > words) {
        return undefined
      }
      if (!plausibleMeta(at(w + 1 + (n - 1) * reportWords))) {
        return undefined
      }
      if (next === words ? t + 1 !== taskIds.length : at(next) !== taskIds[t + 1]) {
        continue
      }
      const rest = walk(next, t + 1)
      if (rest != null) {
        const reports = Array.from({ length: n }, (_, j) => decodeReport(packed, w + 1 + j * reportWords))
        return [{ taskId: taskIds[t], reports }, ...rest]
      }
    }
    return undefined
  }
  return walk(0, 0)
}
