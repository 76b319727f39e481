/**
 * Equivocation: a miner that signs two different outputs for one task. Its
 * precommit signs (task, output digest, salt) without revealing them; a
 * signed reveal that hashes back to the commitment discloses them, and any
 * other signed reveal of the same miner for the task then contradicts a
 * signed precommit, which the hub slashes (`slashEquivocation`, the leader
 * only). Every oracle keeps each miner's signed reveals of a task and, once
 * they prove equivocation, the evidence in the task's record (so whichever
 * oracle leads can send it); the leader sends it at once, and again after an
 * RPC error, like the replay-failure slash (node/roles/oracle/replay-quorum.ts).
 * The equivocating miner is not paid for the task.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex } from 'viem'
import { ContractRuleError, hubTypes, slashEquivocation } from '../../../contracts/index.ts'
import { InvalidSignatureError } from '../../../protocols/gossip/index.ts'
import { recoverTypedDataSigner } from '../../../protocols/signer.ts'
import { cidDigest, precommitHash } from '../shared/records.ts'
import { MAX_SIGNED_REVEALS, SLASH_ATTEMPTS, SLASH_RETRY_MS } from './constants.ts'
import { retrying } from './retry.ts'
import type { OracleMetrics } from './metrics.ts'
import type { EquivocationEvidence, OracleTask } from './types.ts'
import type { HubDomain } from '../../../contracts/typed-data.ts'
import type { GossipContext } from '../../../protocols/gossip/index.ts'
import type { Reveal } from '../../../protocols/messages/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { Address } from 'viem'

export type { EquivocationEvidence } from './types.ts'

/** The reveal's EIP-712 signature, if any, recovers to its author; throws InvalidSignatureError otherwise. */
export async function checkRevealSignature (domain: HubDomain, m: Reveal, ctx: Pick<GossipContext, 'fromAddress'>): Promise<void> {
  if (m.signature == null) {
    return
  }
  let signer: string
  try {
    signer = await recoverTypedDataSigner({
      domain,
      types: hubTypes,
      primaryType: 'Reveal',
      message: { taskId: m.taskId, outputDigest: cidDigest(CID.decode(m.outputCid)), salt: bytesToHex(m.salt) }
    }, m.signature)
  } catch {
    throw new InvalidSignatureError('reveal signature does not recover')
  }
  if (signer.toLowerCase() !== ctx.fromAddress.toLowerCase()) {
    throw new InvalidSignatureError(`reveal signed by ${signer}, sent by ${ctx.fromAddress}`)
  }
}

export interface EquivocationsInit {
  chain: ChainContext
  /** whether this oracle leads now (only the leader may slash) */
  isLeader(): Promise<boolean>
  /** the role stopped: no more retries */
  signal: AbortSignal
  /** the task's record changed */
  persist(task: OracleTask): void
  /** the miner equivocated (its reputation drops) */
  onEquivocation(task: OracleTask, miner: string): void
  metrics: Pick<OracleMetrics, 'slash'>
  say(line: string): void
}

export class Equivocations {
  private readonly init: EquivocationsInit
  /** slashes sent, by `${taskId}:${miner}` */
  private readonly slashedFor = new Set<string>()

  constructor (init: EquivocationsInit) {
    this.init = init
  }

  /**
   * A reveal the gossip validators passed (its signature, if any, is the
   * sender's). Signed reveals are kept; when they prove equivocation the
   * evidence goes in the record and the leader slashes.
   */
  async onReveal (task: OracleTask, m: Reveal): Promise<void> {
    if (m.signature == null) {
      return
    }
    const miner = bytesToHex(m.miner).toLowerCase()
    const kept = ((task.record.signedReveals ??= {})[miner] ??= [])
    const reveal = { outputDigest: cidDigest(CID.decode(m.outputCid)), salt: bytesToHex(m.salt), signature: bytesToHex(m.signature) }
    if (kept.length >= MAX_SIGNED_REVEALS || kept.some(k => k.outputDigest === reveal.outputDigest && k.salt === reveal.salt)) {
      return
    }
    kept.push(reveal)
    const evidence = this.evidence(task, miner)
    if (evidence == null || task.record.equivocations?.[miner] != null) {
      this.init.persist(task)
      return
    }
    (task.record.equivocations ??= {})[miner] = evidence
    this.init.persist(task)
    this.init.onEquivocation(task, miner)
    this.init.say(`task ${task.queued.taskId}: miner ${miner} signed two different outputs (equivocation)`)
    // not on the task's chain of events: the transaction (and its retries) may take seconds
    this.slash(task).catch((err) => { this.init.say(`task ${task.queued.taskId}: ${err?.message ?? err}`) })
  }

  /** The precommit (disclosed by a reveal that hashes back to it) and another signed reveal, if both are in. */
  evidence (task: OracleTask, miner: string): EquivocationEvidence | undefined {
    const pre = task.record.precommits[miner]
    const kept = task.record.signedReveals?.[miner] ?? []
    if (pre == null) {
      return undefined
    }
    const domain = this.init.chain.domain
    const matching = kept.find(k => precommitHash(domain, task.queued.taskId, k.outputDigest, k.salt) === pre.commitment)
    const other = kept.find(k => k !== matching)
    if (matching == null || other == null) {
      return undefined
    }
    return { precommit: { outputDigest: matching.outputDigest, salt: matching.salt, signature: pre.signature }, reveal: other }
  }

  /** Send every slash the task's evidence allows (the leader only); an RPC error is tried again. */
  async slash (task: OracleTask): Promise<void> {
    const evidence = Object.entries(task.record.equivocations ?? {})
    if (evidence.length === 0 || !(await this.init.isLeader())) {
      return
    }
    for (const [miner, e] of evidence) {
      const key = `${task.queued.taskId}:${miner}`
      if (!this.slashedFor.has(key)) {
        this.slashedFor.add(key)
        await this.send(task, miner, e)
      }
    }
  }

  private async send (task: OracleTask, miner: string, e: EquivocationEvidence): Promise<void> {
    const { chain } = this.init
    const taskId = task.queued.taskId
    // a hub rule (already slashed, a bad signature) does not change by retrying; an RPC error may
    const permanent = (err: unknown): boolean => err instanceof ContractRuleError
    try {
      await retrying(async () => chain.serial(async () => slashEquivocation(chain.wallet, { hub: chain.hub, taskId, miner: miner as Address, precommit: e.precommit, reveal: e.reveal })), {
        attempts: SLASH_ATTEMPTS, firstDelayMs: SLASH_RETRY_MS, signal: this.init.signal, permanent
      })
    } catch (err: any) {
      this.init.say(`task ${taskId}: slashing ${miner} for equivocation failed: ${err?.shortMessage ?? err?.message}`)
      if (!permanent(err)) {
        this.slashedFor.delete(`${taskId}:${miner}`)
      }
      return
    }
    this.init.metrics.slash()
    this.init.say(`task ${taskId}: miner ${miner} slashed for equivocation`)
  }
}
