/**
 * The hub slashes a miner whose output failed the replay check only with the
 * signed failed-replay verdicts of a quorum of oracles. The leader signs its
 * own with its verdict; every other oracle replays each output the leader
 * rejected on replay and, if it fails there too, gossips its signed
 * attestation. Each oracle keeps the signatures that recover to their
 * senders, and the leader slashes once the task is settled and the quorum is
 * in.
 */
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { ContractRuleError, hubTypes, signReplayVerdict, slashReplayFailure } from '../../../contracts/index.ts'
import { publishMessage } from '../../../protocols/gossip/index.ts'
import { MinerVerdict, addressToBytes } from '../../../protocols/messages/index.ts'
import { recoverTypedDataSigner } from '../../../protocols/signer.ts'
import { cidDigest } from '../shared/records.ts'
import { replayOne } from '../shared/validation.ts'
import { ATTEST_ATTEMPTS, SLASH_ATTEMPTS, SLASH_RETRY_MS } from './constants.ts'
import { OutputNotReplayedError } from './errors.ts'
import { retrying } from './retry.ts'
import type { OracleMetrics } from './metrics.ts'
import type { OracleModels } from './models.ts'
import type { OracleTask } from './types.ts'
import type { Verdict } from '../../../protocols/messages/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { ValidationContext } from '../shared/validation.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

export interface ReplayQuorumInit {
  /** where outputs and prompts are fetched from, and the gossip the attestations go on */
  node: ValidationContext['node']
  chain: ChainContext
  /** this oracle's key: it signs failed replays */
  privateKey: Hex
  /** the engine and embedder of each task's model (none: its outputs cannot be replayed here) */
  models: Pick<OracleModels, 'for'>
  /** this oracle's address, lower case */
  address: string
  /** gossip topic prefix */
  prefix: string
  /** the hub's replay quorum (read at start) */
  quorum(): number
  /** a miner's peer, to fetch its output from */
  peerOf(miner: string): PeerId | undefined
  /** the oracle stopped: no more retries */
  signal: AbortSignal
  /** counts replays and slashes */
  metrics: Pick<OracleMetrics, 'replay' | 'slash'>
  /** this oracle's own replay of `miner`'s output failed (while confirming another oracle's verdict or auditing) */
  onReplayFailed?(task: OracleTask, miner: string): void
  say(line: string): void
}

export class ReplayQuorum {
  private readonly init: ReplayQuorumInit
  /** signatures by `${taskId}:${miner}`, then by oracle */
  private readonly attestations = new Map<string, Map<string, Hex>>()
  /** outputs this oracle has replayed for an attestation already */
  /** this oracle's replay of each (task, miner) output, under way or done: a second caller waits for its answer */
  private readonly replayed = new Map<string, Promise<boolean | undefined>>()
  /** slashes sent */
  private readonly slashedFor = new Set<string>()

  constructor (init: ReplayQuorumInit) {
    this.init = init
  }

  /** Keep every failed-replay signature that recovers to the oracle that sent it. */
  async collect (task: OracleTask, m: Verdict): Promise<void> {
    const sender = bytesToHex(m.oracle).toLowerCase()
    for (const v of m.miners) {
      if (v.replaySignature == null || v.outcome !== MinerVerdict.Outcome.REJECTED_REPLAY) {
        continue
      }
      const miner = bytesToHex(v.miner).toLowerCase()
      const reveal = task.record.reveals[miner]
      if (reveal == null) {
        continue
      }
      const outputDigest = cidDigest(CID.parse(reveal.outputCid))
      const signer = await recoverTypedDataSigner({
        domain: this.init.chain.domain,
        types: hubTypes,
        primaryType: 'ReplayVerdict',
        message: { taskId: task.queued.taskId, miner: miner as Address, outputDigest, passed: false }
      }, v.replaySignature).catch(() => undefined)
      if (signer?.toLowerCase() !== sender) {
        this.init.say(`task ${task.queued.taskId}: ignored a replay signature for ${miner} that is not ${sender}'s`)
        continue
      }
      this.attestation(task, miner).set(sender, bytesToHex(v.replaySignature))
    }
  }

  /** The failed-replay signatures gathered for `miner`'s output of `task`, by oracle. */
  attestation (task: OracleTask, miner: string): Map<string, Hex> {
    const key = `${task.queued.taskId}:${miner}`
    let sigs = this.attestations.get(key)
    if (sigs == null) {
      sigs = new Map()
      this.attestations.set(key, sigs)
    }
    return sigs
  }

  /** Sign this oracle's failed-replay verdict on `miner`'s output (kept with the others). */
  async sign (task: OracleTask, miner: string): Promise<Hex | undefined> {
    const reveal = task.record.reveals[miner]
    if (reveal == null) {
      return undefined
    }
    const outputDigest = cidDigest(CID.parse(reveal.outputCid))
    const sig = await signReplayVerdict(privateKeyToAccount(this.init.privateKey), this.init.chain.domain, { taskId: task.queued.taskId, miner: miner as Address, outputDigest, passed: false })
    this.attestation(task, miner).set(this.init.address, sig)
    return sig
  }

  /**
   * The hub slashes a failed replay only with `replayQuorum` oracles'
   * signatures: replay each output the leader rejected on replay, and if it
   * fails here too, gossip this oracle's signed attestation.
   */
  async attest (task: OracleTask, m: Verdict): Promise<void> {
    const rejected = m.miners.filter(v => v.outcome === MinerVerdict.Outcome.REJECTED_REPLAY).map(v => bytesToHex(v.miner).toLowerCase())
    await this.confirm(task, rejected, m.round)
  }

  /**
   * Replay the outputs of `miners` here (each distinct output once, retried
   * while it cannot be reached yet) and gossip a signed attestation for each
   * one that fails; an output this oracle replays or replayed already is not
   * replayed again, that replay's answer counts. Returns the miners whose
   * outputs failed here.
   */
  async confirm (task: OracleTask, miners: string[], round: number): Promise<string[]> {
    const { node } = this.init
    const { engine, embedder } = this.init.models.for(task.queued.params?.modelId)
    const entries: Verdict['miners'] = []
    const failed: string[] = []
    const byOutput = new Map<string, boolean | undefined>()
    for (const miner of miners) {
      const key = `${task.queued.taskId}:${miner}`
      const earlier = this.replayed.get(key)
      if (earlier != null || this.attestation(task, miner).has(this.init.address)) {
        // replayed here already (or under way, e.g. for the quorum while the audit asks): its answer counts, attested once
        if ((earlier != null ? await earlier : false) === false) {
          failed.push(miner)
        }
        continue
      }
      const cid = task.record.reveals[miner]?.outputCid
      let passed: boolean | undefined
      if (cid != null && byOutput.has(cid)) {
        passed = byOutput.get(cid)
        this.replayed.set(key, Promise.resolve(passed))
      } else {
        const replay = async (): Promise<boolean | undefined> => replayOne({
          node,
          engine,
          embedder,
          peerOf: this.init.peerOf,
          onReplay: () => { this.init.metrics.replay() },
          say: (line) => { this.init.say(line) }
        }, { queued: task.queued, reveals: task.record.reveals, promptHolder: task.from }, miner)
        // an output not reachable yet (or a reveal not seen yet) may be soon: the quorum waits on this attestation
        const run = retrying(async () => {
          const result = await replay()
          if (result === undefined) {
            throw new OutputNotReplayedError(miner)
          }
          return result
        }, {
          attempts: engine != null ? ATTEST_ATTEMPTS : 1,
          firstDelayMs: SLASH_RETRY_MS,
          signal: this.init.signal,
          permanent: (err) => !(err instanceof OutputNotReplayedError)
        }).catch((err) => {
          if (err instanceof OutputNotReplayedError || err?.name === 'AbortError') {
            return undefined
          }
          throw err
        })
        this.replayed.set(key, run.catch(() => undefined))
        passed = await run
        if (cid != null) {
          byOutput.set(cid, passed)
        }
      }
      if (passed !== false) {
        this.init.say(`task ${task.queued.taskId}: the output of ${miner} ${passed === true ? 'replays here' : 'could not be replayed here'}; no attestation`)
        continue
      }
      failed.push(miner)
      this.init.onReplayFailed?.(task, miner)
      const sig = await this.sign(task, miner)
      if (sig != null) {
        entries.push({ miner: addressToBytes(miner as Hex), outcome: MinerVerdict.Outcome.REJECTED_REPLAY, similarityPpm: 0, replaySignature: new Uint8Array(hexToBytes(sig)) })
      }
    }
    if (entries.length > 0) {
      await publishMessage(node.libp2p.services.pubsub, 'verdict', { taskId: task.queued.taskId, oracle: addressToBytes(this.init.address as Hex), miners: entries, round, signature: new Uint8Array(0) }, { prefix: this.init.prefix })
      this.init.say(`task ${task.queued.taskId}: attested ${entries.length} failed replay(s) for the quorum`)
    }
    return failed
  }

  /** Replay failures are provable: with enough oracle signatures (the hub's quorum) the miner's stake is slashed. */
  async slash (task: OracleTask): Promise<void> {
    const { chain } = this.init
    const prefix = `${task.queued.taskId}:`
    // this oracle's own judgements (validation, or a confirming replay), and failures a quorum of others signed
    const candidates = new Set(Object.entries(task.record.outcomes ?? {}).filter(([, o]) => o === MinerVerdict.Outcome.REJECTED_REPLAY).map(([m]) => m))
    for (const [key, sigs] of this.attestations) {
      if (key.startsWith(prefix) && (sigs.has(this.init.address) || sigs.size >= this.init.quorum())) {
        candidates.add(key.slice(prefix.length))
      }
    }
    for (const miner of candidates) {
      const key = `${task.queued.taskId}:${miner}`
      if (this.slashedFor.has(key)) {
        continue
      }
      const reveal = task.record.reveals[miner]
      const pre = task.record.precommits[miner]
      if (reveal == null || pre == null) {
        continue
      }
      const outputDigest = cidDigest(CID.parse(reveal.outputCid))
      const sigs = this.attestation(task, miner)
      if (!sigs.has(this.init.address) && task.record.outcomes?.[miner] === MinerVerdict.Outcome.REJECTED_REPLAY) {
        await this.sign(task, miner)
      }
      if (sigs.size < this.init.quorum()) {
        // the other oracles' attestations arrive on gossip; each one retries this
        this.init.say(`task ${task.queued.taskId}: ${sigs.size} of ${this.init.quorum()} replay signatures for ${miner}; waiting for more`)
        continue
      }
      this.slashedFor.add(key)
      const send = async (): Promise<unknown> => chain.serial(async () => slashReplayFailure(chain.wallet, {
        hub: chain.hub,
        taskId: task.queued.taskId,
        miner: miner as Address,
        precommit: { outputDigest, salt: reveal.salt, signature: pre.signature },
        oracleSignatures: [...sigs].slice(0, Math.max(this.init.quorum(), 1)).map(([oracle, signature]) => ({ oracle: oracle as Address, signature }))
      }))
      await this.sendSlash(task, miner, send, Math.min(sigs.size, Math.max(this.init.quorum(), 1)))
    }
  }

  /** The slash transaction, tried again on an RPC error; a later attestation tries again after the last attempt. */
  private async sendSlash (task: OracleTask, miner: string, send: () => Promise<unknown>, signatures: number): Promise<void> {
    const key = `${task.queued.taskId}:${miner}`
    // a hub rule (already slashed, a bad signature) does not change by retrying; an RPC error may
    const permanent = (err: unknown): boolean => err instanceof ContractRuleError
    try {
      await retrying(send, { attempts: SLASH_ATTEMPTS, firstDelayMs: SLASH_RETRY_MS, signal: this.init.signal, permanent })
    } catch (err: any) {
      this.init.say(`task ${task.queued.taskId}: slashing ${miner} failed: ${err.shortMessage ?? err.message}`)
      if (!permanent(err)) {
        this.slashedFor.delete(key)
      }
      return
    }
    this.init.metrics.slash()
    this.init.say(`task ${task.queued.taskId}: miner ${miner} slashed for a failed replay (${signatures} oracle signature(s))`)
  }
}
