/** Batch settlement and fraud proofs (leader only). */
import { concatHex, numberToHex } from 'viem'
import { VERDICT_HONEST } from '../constants.ts'
import { toCompact } from '../typed-data.ts'
import { sendHub } from './send.ts'
import type { HubTarget, HubWalletClient, HubWriteResult } from './send.ts'
import type { Address, Hex } from 'viem'

const ZERO32 = `0x${'0'.repeat(64)}` as Hex

export interface MinerVerdict {
  miner: Address
  /** VERDICT_MISSED (no signature needed), VERDICT_HONEST (paid) or VERDICT_FAULTY */
  verdict: number
  /** tokens paid for (honest only), at most the task's maxTokens */
  tokens?: number
  /** precommit and reveal arrived inside their windows */
  onTime?: boolean
  outputDigest?: Hex
  salt?: Hex
  /** the miner's 65-byte EIP-712 precommit signature (signPrecommit) */
  precommitSignature?: Hex
}

export interface TaskVerdicts {
  taskId: bigint
  /** in the order of the task's assignment */
  miners: MinerVerdict[]
}

/** meta word of a MinerReport: address | tokens << 160 | verdict << 184 | onTime << 192. */
export function packMeta (v: MinerVerdict): bigint {
  return BigInt(v.miner) | (BigInt(v.tokens ?? 0) << 160n) | (BigInt(v.verdict) << 184n) | ((v.onTime === true ? 1n : 0n) << 192n)
}

export function toReport (v: MinerVerdict): { meta: bigint, outputDigest: Hex, salt: Hex, r: Hex, vs: Hex } {
  const sig = v.precommitSignature != null ? toCompact(v.precommitSignature) : { r: ZERO32, vs: ZERO32 }
  return { meta: packMeta(v), outputDigest: v.outputDigest ?? ZERO32, salt: v.salt ?? ZERO32, ...sig }
}

/** The calldata layout settleBatch reads: per task, taskId then 160 bytes per miner (meta, digest, salt, r, vs). */
export function packBatch (tasks: TaskVerdicts[]): Hex {
  const words: Hex[] = []
  for (const t of tasks) {
    words.push(numberToHex(t.taskId, { size: 32 }))
    for (const v of t.miners) {
      const r = toReport(v)
      words.push(numberToHex(r.meta, { size: 32 }), r.outputDigest, r.salt, r.r, r.vs)
    }
  }
  return concatHex(words)
}

export interface SettleBatchParameters extends HubTarget { tasks: TaskVerdicts[] }
export interface SettleBatchReturnType extends HubWriteResult {
  settled: Array<{ taskId: bigint, paidWei: bigint, outputDigest: Hex }>
}

export async function settleBatch (client: HubWalletClient, p: SettleBatchParameters): Promise<SettleBatchReturnType> {
  const res = await sendHub(client, p.hub, 'settleBatch', [packBatch(p.tasks)])
  // the event carries taskId << 128 | paid per task; the output (first honest miner's) is in our own calldata
  const outputs = new Map(p.tasks.map(t => [t.taskId, t.miners.find(m => m.verdict === VERDICT_HONEST)?.outputDigest ?? ZERO32]))
  const settled = res.logs.flatMap(l => l.eventName === 'TasksSettled' ? l.args.settled : []).map(w => {
    const taskId = w >> 128n
    return { taskId, paidWei: w & ((1n << 128n) - 1n), outputDigest: outputs.get(taskId) ?? ZERO32 }
  })
  return { ...res, settled }
}

export interface SignedOutput { outputDigest: Hex, salt: Hex, signature: Hex }

function signedOutput (o: SignedOutput): { outputDigest: Hex, salt: Hex, r: Hex, vs: Hex } {
  return { outputDigest: o.outputDigest, salt: o.salt, ...toCompact(o.signature) }
}

export interface SlashEquivocationParameters extends HubTarget {
  taskId: bigint
  miner: Address
  precommit: SignedOutput
  reveal: SignedOutput
}
export async function slashEquivocation (client: HubWalletClient, p: SlashEquivocationParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'slashEquivocation', [p.taskId, p.miner, signedOutput(p.precommit), signedOutput(p.reveal)])
}

export interface SlashReplayFailureParameters extends HubTarget {
  taskId: bigint
  miner: Address
  precommit: SignedOutput
  /** signReplayVerdict(…, passed: false) by distinct oracles; sorted here by signer */
  oracleSignatures: Array<{ oracle: Address, signature: Hex }>
}
export async function slashReplayFailure (client: HubWalletClient, p: SlashReplayFailureParameters): Promise<HubWriteResult> {
  const sigs = [...p.oracleSignatures]
    .sort((a, b) => (BigInt(a.oracle) < BigInt(b.oracle) ? -1 : 1))
    .map(s => toCompact(s.signature))
  return sendHub(client, p.hub, 'slashReplayFailure', [p.taskId, p.miner, signedOutput(p.precommit), sigs])
}
