/**
 * Light verification of a settled task, for the browser (and any client that
 * cannot run the model): it trusts the chain, not the router. Given the chain
 * RPC, the hub address, the task id, the output CID and the settlement
 * transaction the router named, it reads the transaction and its receipt over
 * JSON-RPC and checks, in order:
 *
 * - `transaction`: the transaction exists, succeeded and was sent to the hub;
 * - `event`: its receipt has a `TasksSettled` log from the hub naming the task
 * (the paid amount is read from it);
 * - `calldata`: the transaction is `settleBatch(packed)` and the packed batch
 * holds the task's miner reports (taskId, then one 160-byte report per
 * assigned miner: meta, outputDigest, salt, r, vs);
 * - `output`: an accepted miner (verdict honest, i.e. paid) committed to the
 * output CID's digest (the CID's multihash digest, as miners and oracles
 * compute it). Accepted miners whose outputs differed but were close
 * enough are listed, not failed: the oracles may accept more than one output;
 * - `signatures`: every report with a verdict carries an EIP-2098 precommit
 * signature that recovers, under the hub's EIP-712 domain and the chain's
 * id, to that report's miner;
 * - `verdicts` (when the router's per-miner outcomes are given): the miners
 * the router calls accepted are the ones the chain paid.
 *
 * Browser-safe: plain fetch for the three JSON-RPC reads (viem's public
 * client would add a third to the page bundle), viem's ABI decoding and
 * signature recovery, multiformats for the CID.
 */
import { compactSignatureToSignature, decodeEventLog, decodeFunctionData, getAddress, isAddress, isHex, recoverTypedDataAddress, serializeSignature } from 'viem'
import { VERDICT_FAULTY, VERDICT_HONEST, VERDICT_MISSED } from '../../contracts/constants.ts'
import { hubDomain, hubTypes } from '../../contracts/typed-data.ts'
import { jsonRpcReader } from './rpc.ts'
import { SETTLEMENT_ABI, TASKS_SETTLED_TOPIC, cidDigest, splitSettleBatch } from './settle-batch.ts'
import type { ChainReader, ChainReceipt, ChainTransaction } from './rpc.ts'
import type { PackedReport } from './settle-batch.ts'
import type { Address, Hex } from 'viem'

export { JsonRpcError, jsonRpcReader } from './rpc.ts'
export type { ChainReader, ChainReceipt, ChainTransaction } from './rpc.ts'
export { MAX_REPORTS_PER_TASK, REPORT_BYTES, SETTLEMENT_ABI, TASKS_SETTLED_TOPIC, cidDigest, decodeReport, splitSettleBatch } from './settle-batch.ts'
export type { PackedReport, PackedTask } from './settle-batch.ts'

export type VerifyCheckName = 'input' | 'transaction' | 'event' | 'calldata' | 'output' | 'signatures' | 'verdicts'

export interface VerifyCheck {
  name: VerifyCheckName
  ok: boolean
  /** what was found, or what did not match */
  detail: string
}

export type ReportVerdict = 'missed' | 'honest' | 'faulty' | 'unknown'

/** One miner's line in the settlement, decoded and checked. */
export interface VerifiedReport {
  miner: Address
  verdict: ReportVerdict
  tokens: number
  onTime: boolean
  outputDigest: Hex
  salt: Hex
  /** who signed the precommit (undefined when the verdict needs no signature or recovery failed) */
  signer?: Address
  /** the precommit signature recovers to the miner (true for a missed verdict, which carries none) */
  signatureValid: boolean
  /** the report's outputDigest is the output CID's digest */
  matchesOutput: boolean
}

export interface VerifyResult {
  /** every check passed */
  ok: boolean
  checks: VerifyCheck[]
  /** one line: what was verified, or the first failure */
  summary: string
  taskId: string
  txHash: string
  outputCid: string
  /** the output CID's multihash digest, as committed on chain */
  outputDigest?: Hex
  chainId?: number
  blockNumber?: number
  /** wei the settlement paid for the task (decimal string) */
  paidWei?: string
  /** the task's miner reports in assignment order */
  reports: VerifiedReport[]
}

export interface VerifyRequest {
  /** chain JSON-RPC URL (ignored when `client` is given) */
  rpc?: string
  /** read the chain through this instead of `rpc` */
  chain?: ChainReader
  hub: string
  taskId: bigint | number | string
  outputCid: string
  /** the settlement transaction */
  txHash: string
  /** the router's per-miner outcomes; compared with the chain's verdicts when given */
  miners?: Array<{ address: string, outcome?: string }>
  /** per JSON-RPC request (default 10 s) */
  timeoutMs?: number
}

const VERDICT_NAMES: Record<number, ReportVerdict> = { [VERDICT_MISSED]: 'missed', [VERDICT_HONEST]: 'honest', [VERDICT_FAULTY]: 'faulty' }

function short (hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex
}

function same (a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

async function recoverPrecommit (domain: ReturnType<typeof hubDomain>, taskId: bigint, r: PackedReport): Promise<Address | undefined> {
  try {
    const signature = serializeSignature(compactSignatureToSignature({ r: r.r, yParityAndS: r.vs }))
    return await recoverTypedDataAddress({ domain, types: hubTypes, primaryType: 'Precommit', message: { taskId, outputDigest: r.outputDigest, salt: r.salt }, signature })
  } catch {
    return undefined
  }
}

function parseTaskId (value: bigint | number | string): bigint | undefined {
  try {
    const id = BigInt(value)
    return id > 0n ? id : undefined
  } catch {
    return undefined
  }
}

function finish (result: VerifyResult): VerifyResult {
  const failed = result.checks.find(c => !c.ok)
  result.ok = failed == null && result.checks.length > 0
  result.summary = failed != null
    ? `not verified: ${failed.detail}`
    : `verified on chain${result.blockNumber != null ? ` (block ${result.blockNumber})` : ''}: ${result.checks.map(c => c.detail).join('; ')}`
  return result
}

/** Check a settled task against the chain: see the module comment for the checks. Never throws; failures are in the result. */
export async function verifySettlement (req: VerifyRequest): Promise<VerifyResult> {
  const result: VerifyResult = { ok: false, checks: [], summary: '', taskId: String(req.taskId), txHash: req.txHash, outputCid: req.outputCid, reports: [] }
  const fail = (name: VerifyCheckName, detail: string): VerifyResult => {
    result.checks.push({ name, ok: false, detail })
    return finish(result)
  }
  const pass = (name: VerifyCheckName, detail: string): void => { result.checks.push({ name, ok: true, detail }) }

  // the inputs themselves
  const taskId = parseTaskId(req.taskId)
  if (taskId == null) {
    return fail('input', `task id ${String(req.taskId)} is not a positive integer`)
  }
  if (!isAddress(req.hub, { strict: false })) {
    return fail('input', `hub ${req.hub} is not an address`)
  }
  const hub = getAddress(req.hub)
  if (!isHex(req.txHash) || req.txHash.length !== 66) {
    return fail('input', `settlement transaction ${req.txHash} is not a 32-byte hash`)
  }
  const txHash = req.txHash
  let outputDigest: Hex
  try {
    outputDigest = cidDigest(req.outputCid)
  } catch (err: any) {
    return fail('input', `output ${req.outputCid} is not a CID (${String(err.message)})`)
  }
  result.outputDigest = outputDigest
  if (req.chain == null && (req.rpc == null || req.rpc === '')) {
    return fail('input', 'no chain RPC URL')
  }
  const chain = req.chain ?? jsonRpcReader(req.rpc ?? '', { timeoutMs: req.timeoutMs })

  // transaction and receipt
  let tx: ChainTransaction | undefined
  let receipt: ChainReceipt | undefined
  let chainId: number
  try {
    chainId = await chain.chainId()
    result.chainId = chainId
    ;[tx, receipt] = await Promise.all([chain.transaction(txHash), chain.receipt(txHash)])
  } catch (err: any) {
    return fail('transaction', `could not read the chain (${String(err.message)})`)
  }
  if (tx == null || receipt == null) {
    return fail('transaction', `settlement transaction ${short(txHash)} is not ${tx == null ? 'on' : 'mined on'} chain ${chainId}`)
  }
  result.blockNumber = Number(receipt.blockNumber)
  if (receipt.status !== 'success') {
    return fail('transaction', `transaction ${short(txHash)} reverted`)
  }
  if (tx.to == null || !same(tx.to, hub)) {
    return fail('transaction', `transaction ${short(txHash)} was sent to ${tx.to ?? 'no contract'}, not the hub ${hub}`)
  }
  pass('transaction', `transaction ${short(txHash)} to the hub succeeded in block ${result.blockNumber}`)

  // the TasksSettled event from the hub
  const settled: bigint[] = []
  for (const log of receipt.logs) {
    if (!same(log.address, hub) || log.topics[0] !== TASKS_SETTLED_TOPIC) {
      continue
    }
    try {
      const ev = decodeEventLog({ abi: SETTLEMENT_ABI, eventName: 'TasksSettled', data: log.data, topics: log.topics as [Hex, ...Hex[]] })
      settled.push(...ev.args.settled)
    } catch {
      // a malformed log does not name anything
    }
  }
  if (settled.length === 0) {
    return fail('event', `transaction ${short(txHash)} has no TasksSettled event from the hub`)
  }
  const taskIds = settled.map(w => w >> 128n)
  const entry = settled.find(w => w >> 128n === taskId)
  if (entry == null) {
    return fail('event', `the TasksSettled event names task${taskIds.length === 1 ? '' : 's'} ${taskIds.map(id => `#${id}`).join(', ')}, not #${taskId}`)
  }
  result.paidWei = (entry & ((1n << 128n) - 1n)).toString()
  pass('event', `TasksSettled names task #${taskId} (paid ${result.paidWei} wei)`)

  // the task's miner reports in the calldata
  let packed: Hex
  try {
    const call = decodeFunctionData({ abi: SETTLEMENT_ABI, data: tx.input })
    packed = call.args[0]
  } catch {
    return fail('calldata', `transaction ${short(txHash)} is not a settleBatch call`)
  }
  const tasks = splitSettleBatch(packed, taskIds)
  const task = tasks?.find(t => t.taskId === taskId)
  if (task == null) {
    return fail('calldata', `the settleBatch calldata does not hold reports for task #${taskId} in the packed layout`)
  }
  const domain = hubDomain(chainId, hub)
  for (const r of task.reports) {
    const needsSignature = r.verdict !== VERDICT_MISSED
    const signer = needsSignature ? await recoverPrecommit(domain, taskId, r) : undefined
    result.reports.push({
      miner: r.miner,
      verdict: VERDICT_NAMES[r.verdict] ?? 'unknown',
      tokens: r.tokens,
      onTime: r.onTime,
      outputDigest: r.outputDigest,
      salt: r.salt,
      ...(signer != null ? { signer } : {}),
      signatureValid: !needsSignature || (signer != null && same(signer, r.miner)),
      matchesOutput: same(r.outputDigest, outputDigest)
    })
  }
  const accepted = result.reports.filter(r => r.verdict === 'honest')
  pass('calldata', `settleBatch holds ${task.reports.length} miner report${task.reports.length === 1 ? '' : 's'} for the task, ${accepted.length} accepted`)

  // the output CID is what an accepted miner committed to
  const committed = accepted.filter(r => r.matchesOutput)
  if (accepted.length === 0) {
    return fail('output', `no miner's output was accepted for task #${taskId}`)
  }
  if (committed.length === 0) {
    return fail('output', `output CID digest ${short(outputDigest)} is not what the accepted miners committed (${[...new Set(accepted.map(r => short(r.outputDigest)))].join(', ')})`)
  }
  const others = accepted.length - committed.length
  pass('output', `output CID committed by ${committed.length} of ${accepted.length} accepted miner${accepted.length === 1 ? '' : 's'}${others > 0 ? ` (${others} accepted a close, different output)` : ''}`)

  // precommit signatures
  const bad = result.reports.filter(r => !r.signatureValid)
  if (bad.length > 0) {
    return fail('signatures', bad.map(r => `precommit of ${short(r.miner)} ${r.signer != null ? `recovers to ${short(r.signer)}` : 'does not recover'}`).join('; '))
  }
  const signed = result.reports.filter(r => r.verdict !== 'missed').length
  pass('signatures', `${signed} precommit signature${signed === 1 ? '' : 's'} recover to the miners (EIP-712, chain ${chainId})`)

  // the router's story against the chain's
  if (req.miners != null) {
    const routerAccepted = new Set(req.miners.filter(m => m.outcome === 'accepted').map(m => m.address.toLowerCase()))
    const chainAccepted = new Set(accepted.map(r => r.miner.toLowerCase()))
    const differ = [...routerAccepted].filter(a => !chainAccepted.has(a)).length + [...chainAccepted].filter(a => !routerAccepted.has(a)).length
    if (differ > 0) {
      return fail('verdicts', `the router calls ${[...routerAccepted].map(short).join(', ') || 'no miner'} accepted, the chain paid ${[...chainAccepted].map(short).join(', ') || 'no miner'}`)
    }
    pass('verdicts', 'the router\'s verdicts match the chain\'s')
  }
  return finish(result)
}
