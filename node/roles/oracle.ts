/**
 * The oracle role. Every oracle follows every task of its models through the
 * session queue state machine; the current leader (the hub's round-robin
 * over live oracles) acts on the effects: draws the miners from the pool
 * with the chain's seed, reassigns miners that time out, validates the
 * reveals (structure, redundancy by CID, sampled and disputed replay,
 * embedding distance) and settles verdicts in batches. Followers check the
 * leader's selections and take over any effect the leader leaves overdue,
 * which the queue's retries turn into a hand-over when the leader dies.
 */
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex, concatBytes, hexToBytes, numberToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getContractEvents, readContract } from 'viem/actions'
import {
  VERDICT_FAULTY, VERDICT_HONEST, VERDICT_MISSED, cortensorHubAbi, getLeader, getTask, heartbeat as chainHeartbeat,
  assignTasks, reassignMiner, settleBatch, signReplayVerdict, slashReplayFailure
} from '../../contracts/index.ts'
import { InvalidFieldError } from '../../protocols/messages/errors.ts'
import { defaultValidators, installGossip, publishMessage } from '../../protocols/gossip/index.ts'
import { MinerVerdict, TaskQueued, addressToBytes } from '../../protocols/messages/index.ts'
import { DEFAULT_SAMPLE_RATE, EMBEDDING_SIMILARITY_THRESHOLD } from '../../protocols/policy/constants.ts'
import { Verdict as V } from '../../protocols/policy/verdicts.ts'
import { createTask, isTerminal, tick, transition } from '../../protocols/queue/machine.ts'
import { assignedEvent, ackEvent, precommitEvent, revealEvent, taskInitFrom, verdictEvent } from '../../protocols/queue/wire.ts'
import { deriveSeed, poolFromRecords, selectMiners, seedToUnit, selectionSeed, verifySelection } from '../../protocols/selection/index.ts'
import { cosineSimilarity, replayCheck } from '../inference/index.ts'
import { settledTaskIds, watchHub } from './chain.ts'
import { PoolView } from './pool.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from './miner.ts'
import { cidDigest, fetchFromHolders, precommitHash, RecordStore } from './records.ts'
import type { ChainContext, HubLog, HubWatcher } from './chain.ts'
import type { OutputDoc, PromptDoc } from './records.ts'
import type { Embedder, LlamaInferenceEngine } from '../inference/index.ts'
import type { CortensorNode } from '../node.ts'
import type { TaskVerdicts } from '../../contracts/index.ts'
import type { Assignment, Precommit, Reveal, Verdict } from '../../protocols/messages/index.ts'
import type { QueueEffect, QueueEvent, QueueTimeouts, TaskState } from '../../protocols/queue/types.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:oracle')

export interface OracleRoleInit {
  node: CortensorNode
  chain: ChainContext
  /** models whose tasks this oracle validates */
  modelIds: string[]
  /** the model, for the replay check (without one, only structure and redundancy are checked) */
  engine?: LlamaInferenceEngine
  /** for the embedding-distance check between disagreeing outputs */
  embedder?: Embedder
  topicPrefix?: string
  /** miners' heartbeat interval (pool health) */
  heartbeatIntervalMs?: number
  /** on-chain liveness heartbeat; must be well under the hub's heartbeat timeout; default 1 s */
  chainHeartbeatMs?: number
  timeouts?: Partial<QueueTimeouts>
  /** fraction of agreeing outputs replayed anyway; default policy DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  similarityThreshold?: number
  /** gather verdicts this long before one settlement transaction; default 250 ms */
  settleBatchMs?: number
  maxBatch?: number
  onLine?(line: string): void
}

interface OracleRecord {
  queued: Hex
  seed: Hex
  state: TaskState
  precommits: Record<string, { commitment: Hex, signature: Hex }>
  reveals: Record<string, { outputCid: string, salt: Hex }>
  outcomes?: Record<string, MinerVerdict.Outcome>
  tokens?: Record<string, number>
}

interface OracleTask {
  queued: TaskQueued
  record: OracleRecord
  chain: Promise<void>
  /** the submitter's peer (holds the prompt) */
  from?: PeerId
  /** reveals that overtook the last precommit on gossip: applied when the window opens */
  early?: Reveal[]
}

export interface OracleStats {
  assigned: number
  reassigned: number
  validated: number
  settled: number
  settleTransactions: number
  selectionMismatches: number
  replays: number
  slashed: number
}

const TICK_MS = 100
const SAMPLE_DOMAIN = 'cortensor/replay-sample/v1'

export class OracleRole {
  readonly init: OracleRoleInit
  readonly pool: PoolView
  readonly address: string
  /** topic prefix: `/<network>` unless given, so networks never share topics */
  readonly prefix: string
  readonly stats: OracleStats = { assigned: 0, reassigned: 0, validated: 0, settled: 0, settleTransactions: 0, selectionMismatches: 0, replays: 0, slashed: 0 }
  private readonly tasks = new Map<string, OracleTask>()
  private readonly records: RecordStore<OracleRecord>
  private readonly settleQueue = new Map<string, OracleTask>()
  private uninstall?: () => void
  private watcher?: HubWatcher
  private timer?: ReturnType<typeof setInterval>
  private heartbeatTimer?: ReturnType<typeof setInterval>
  private settleTimer?: ReturnType<typeof setTimeout>
  private settling?: Promise<void>
  private stopped = false
  private replayQuorum = 2

  constructor (init: OracleRoleInit) {
    this.init = init
    this.address = init.node.peerIdentity.address.toLowerCase()
    this.prefix = init.topicPrefix ?? `/${init.node.config.network}`
    this.pool = new PoolView(init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS)
    this.records = new RecordStore(init.node.datastore, '/cortensor/oracle/tasks')
  }

  private say (line: string): void {
    log(line)
    this.init.onLine?.(line)
  }

  get taskCount (): number {
    return this.tasks.size
  }

  taskState (taskId: bigint): TaskState | undefined {
    return this.tasks.get(taskId.toString())?.record.state
  }

  async start (): Promise<void> {
    const { node, chain } = this.init
    this.replayQuorum = Number(await readContract(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, functionName: 'replayQuorum' }))
    for await (const { value } of this.records.all()) {
      const queued = TaskQueued.decode(hexToBytes(value.queued))
      this.tasks.set(queued.taskId.toString(), { queued, record: value, chain: Promise.resolve() })
      if (!isTerminal(value.state)) {
        this.say(`task ${queued.taskId}: resumed after restart (${value.state.phase})`)
      }
    }
    // the leader's authority is the hub's: its assignTasks call fails for anyone else
    const base = defaultValidators()
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: this.init.modelIds,
      validators: {
        ...base,
        task: async (m, ctx) => {
          await base.task(m, ctx)
          await this.checkOnChain(m)
        },
        precommit: async (m, ctx) => {
          await base.precommit(m, ctx)
          this.checkNotCopied(m)
        }
      },
      handlers: {
        task: (m, meta) => { this.onTaskQueued(m, meta.from) },
        assignment: (m) => { this.onEvent(m.taskId, async (t) => { this.onAssignment(t, m) }) },
        ack: (m) => { this.onEvent(m.taskId, async (t) => { this.apply(t, ackEvent(m)) }) },
        precommit: (m) => { this.onEvent(m.taskId, async (t) => { this.onPrecommit(t, m) }) },
        reveal: (m) => { this.onEvent(m.taskId, async (t) => { this.onReveal(t, m) }) },
        verdict: (m) => { this.onEvent(m.taskId, async (t) => { this.onVerdict(t, m) }) },
        heartbeat: (m, meta) => {
          if (meta.from != null) {
            this.pool.onHeartbeat(m, meta.from)
          }
        }
      }
    })
    this.watcher = watchHub(chain, async (l) => { await this.onChainLog(l) }, { onError: (err) => { log('chain poll: %s', err.message) } })
    this.timer = setInterval(() => { this.onTick() }, TICK_MS)
    const beat = async (): Promise<void> => {
      if (!this.stopped) {
        await chain.serial(async () => chainHeartbeat(chain.wallet, { hub: chain.hub })).catch((err) => { log('chain heartbeat: %s', err.message) })
      }
    }
    this.heartbeatTimer = setInterval(() => { void beat() }, this.init.chainHeartbeatMs ?? 1000)
    await beat()
  }

  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    clearInterval(this.timer)
    clearInterval(this.heartbeatTimer)
    clearTimeout(this.settleTimer)
    this.watcher?.stop()
    this.uninstall?.()
    await Promise.allSettled([...this.tasks.values()].map(async t => t.chain))
    await this.settling
  }

  // ------------------------------------------------------------ checks on gossip

  private async checkOnChain (m: TaskQueued): Promise<void> {
    const { chain } = this.init
    let t
    try {
      t = await getTask(chain.wallet, { hub: chain.hub, taskId: m.taskId })
    } catch {
      throw new InvalidFieldError('taskId', `task ${m.taskId} is not on chain`)
    }
    if (t.sessionId !== m.sessionId) {
      throw new InvalidFieldError('sessionId', `task ${m.taskId} belongs to session ${t.sessionId} on chain`)
    }
    if (m.promptCid.length > 0 && t.maxTokens !== (m.params?.maxTokens ?? 0)) {
      throw new InvalidFieldError('params.maxTokens', `chain says ${t.maxTokens}`)
    }
  }

  /** Two miners cannot commit to the same hash: salts are random, so the second one copied the first. */
  private checkNotCopied (m: Precommit): void {
    const task = this.tasks.get(m.taskId.toString())
    if (task == null) {
      return
    }
    const commitment = bytesToHex(m.commitment)
    const miner = bytesToHex(m.miner).toLowerCase()
    for (const [other, p] of Object.entries(task.record.precommits)) {
      if (other !== miner && p.commitment === commitment) {
        throw new InvalidFieldError('commitment', `already committed by ${other}: a copied commitment`)
      }
    }
  }

  // ------------------------------------------------------------ bookkeeping

  private onTaskQueued (m: TaskQueued, from?: PeerId): void {
    const id = m.taskId.toString()
    if (this.tasks.has(id)) {
      return
    }
    log('task %s: announced', m.taskId)
    const { state, effects } = createTask(taskInitFrom(m, { timeouts: this.init.timeouts }), Date.now())
    const task: OracleTask = { queued: m, from, record: { queued: bytesToHex(TaskQueued.encode(m)), seed: '0x', state, precommits: {}, reveals: {} }, chain: Promise.resolve() }
    this.tasks.set(id, task)
    this.enqueue(task, async () => {
      task.record.seed = await this.chainSeed(m.taskId)
      await this.persist(task)
      this.onEffects(task, effects)
    })
  }

  private onEvent (taskId: bigint, fn: (t: OracleTask) => Promise<void>): void {
    const task = this.tasks.get(taskId.toString())
    if (task != null) {
      this.enqueue(task, fn)
    }
  }

  private enqueue (task: OracleTask, fn: (t: OracleTask) => Promise<void>): void {
    task.chain = task.chain.then(async () => { await fn(task) }).catch((err) => { this.say(`task ${task.queued.taskId}: ${err?.message ?? err}`) })
  }

  private apply (task: OracleTask, event: QueueEvent): boolean {
    try {
      const res = transition(task.record.state, event, Date.now())
      task.record.state = res.state
      this.enqueue(task, async () => { await this.persist(task) })
      this.onEffects(task, res.effects)
      return true
    } catch (err: any) {
      log('task %s: %s ignored: %s', task.queued.taskId, event.type, err?.message)
      return false
    }
  }

  private async persist (task: OracleTask): Promise<void> {
    if (!this.stopped) {
      await this.records.put(task.queued.taskId.toString(), task.record)
    }
  }

  private onTick (): void {
    const now = Date.now()
    for (const task of this.tasks.values()) {
      if (isTerminal(task.record.state) || task.record.seed === '0x') {
        continue
      }
      const res = tick(task.record.state, now)
      if (res.state !== task.record.state) {
        task.record.state = res.state
        this.enqueue(task, async () => { await this.persist(task) })
        this.onEffects(task, res.effects)
      }
    }
  }

  private onEffects (task: OracleTask, effects: QueueEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'select-miners':
        case 'assignment-overdue':
          this.enqueue(task, async () => { await this.assign(task) })
          break
        case 'reassign':
          this.enqueue(task, async () => { await this.reassign(task, e.round) })
          break
        case 'penalise':
          this.pool.applyVerdict(e.miner, V.TIMEOUT)
          this.say(`task ${task.queued.taskId}: miner ${e.miner} ${e.reason}`)
          break
        case 'slash':
          this.pool.applyVerdict(e.miner, V.COMMIT_MISMATCH)
          this.say(`task ${task.queued.taskId}: miner ${e.miner} revealed something other than it committed to`)
          break
        case 'validate':
          this.enqueue(task, async () => { await this.validate(task) })
          break
        case 'reveal-window-open': {
          const early = task.early ?? []
          task.early = undefined
          for (const r of early) {
            this.enqueue(task, async () => { this.onReveal(task, r) })
          }
          break
        }
        case 'settle':
          this.queueSettlement(task)
          break
        case 'expired':
          this.say(`task ${task.queued.taskId}: expired (${e.reason})`)
          break
        default:
          break
      }
    }
  }

  // ------------------------------------------------------------ leadership

  private async leader (): Promise<Address> {
    return getLeader(this.init.chain.wallet, { hub: this.init.chain.hub })
  }

  async isLeader (): Promise<boolean> {
    try {
      return (await this.leader()).toLowerCase() === this.address
    } catch {
      return false
    }
  }

  private async chainSeed (taskId: bigint): Promise<Hex> {
    const { chain } = this.init
    const logs = await getContractEvents(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', args: { taskId }, fromBlock: 0n, strict: true })
    if (logs.length === 0) {
      throw new Error(`task ${taskId}: no TaskSubmitted event on chain`)
    }
    return bytesToHex(numberToBytes(logs[0].args.seed, { size: 32 }))
  }

  /** The task's miners in assignment order, as the hub knows them (assignment then replacements). */
  private async chainMiners (taskId: bigint): Promise<Address[]> {
    const { chain } = this.init
    const assigned = await getContractEvents(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, eventName: 'TaskAssigned', args: { taskId }, fromBlock: 0n, strict: true })
    if (assigned.length === 0) {
      return []
    }
    const miners = [...assigned[assigned.length - 1].args.miners]
    const replaced = await getContractEvents(chain.wallet, { address: chain.hub, abi: cortensorHubAbi, eventName: 'MinerReassigned', args: { taskId }, fromBlock: 0n, strict: true })
    for (const r of replaced) {
      miners[Number(r.args.index)] = r.args.replacement
    }
    return miners
  }

  private roundSeed (task: OracleTask, round: number): Uint8Array {
    const chainValue = round === 0 ? hexToBytes(task.record.seed) : concatBytes([hexToBytes(task.record.seed), numberToBytes(round, { size: 4 })])
    return selectionSeed(chainValue, task.queued.taskId)
  }

  /** Draw `count` miners for a round, excluding every miner the task already had. */
  private draw (task: OracleTask, count: number, round: number): string[] {
    const model = task.queued.params?.modelId ?? ''
    const snapshot = poolFromRecords(this.pool.records(task.queued.sessionId), { model })
    for (const slot of task.record.state.slots) {
      const i = snapshot.ids.indexOf(slot.miner)
      if (i >= 0 && snapshot.pool.effectiveWeight(i) > 0) {
        snapshot.pool.reserve(i)
      }
    }
    const picks = selectMiners(snapshot.pool, this.roundSeed(task, round), count)
    return Array.from(picks, i => snapshot.ids[i])
  }

  private async assign (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'queued' || !(await this.isLeader())) {
      return
    }
    let miners: string[]
    try {
      miners = this.draw(task, s.redundancy, 0)
    } catch (err: any) {
      this.say(`task ${task.queued.taskId}: cannot assign yet: ${err.message}`)
      return
    }
    const { chain } = this.init
    const msg: Assignment = {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: miners.map(m => addressToBytes(m as Hex)),
      selectionSeed: Uint8Array.from(this.roundSeed(task, 0)),
      leader: addressToBytes(this.address as Hex),
      round: 0,
      signature: new Uint8Array(0)
    }
    // the hub's record first: miners are paid only for assignments the chain knows
    log('task %s: assigning on chain', task.queued.taskId)
    await chain.serial(async () => assignTasks(chain.wallet, { hub: chain.hub, assignments: [{ taskId: task.queued.taskId, miners: miners as Address[] }] }))
    await publishMessage(this.init.node.libp2p.services.pubsub, 'assignment', msg, { prefix: this.prefix })
    this.apply(task, assignedEvent(msg))
    this.stats.assigned++
    this.say(`task ${task.queued.taskId}: assigned to ${miners.join(', ')}`)
  }

  private async reassign (task: OracleTask, round: number): Promise<void> {
    const s = task.record.state
    if (s.vacancies === 0 || !(await this.isLeader())) {
      return
    }
    const gone = s.slots.filter(x => x.status === 'reassigned').map(x => x.miner)
    const current = await this.chainMiners(task.queued.taskId)
    const index = current.findIndex(m => gone.includes(m.toLowerCase()))
    if (index < 0) {
      return
    }
    let replacement: string
    try {
      [replacement] = this.draw(task, 1, round)
    } catch (err: any) {
      this.say(`task ${task.queued.taskId}: no replacement for ${current[index]}: ${err.message}`)
      return
    }
    const { chain } = this.init
    const send = async (): Promise<unknown> => chain.serial(async () => reassignMiner(chain.wallet, { hub: chain.hub, taskId: task.queued.taskId, current, index, replacement: replacement as Address }))
    try {
      await send()
    } catch (err: any) {
      if (err?.rule !== 'DeadlineNotPassed') {
        throw err
      }
      // the hub's precommit window is measured in block seconds: wait it out once
      const deadlineS = Number(err.args?.[1] ?? 0)
      await new Promise(resolve => setTimeout(resolve, Math.max(0, deadlineS * 1000 - Date.now()) + 1100))
      await send()
    }
    const msg: Assignment = {
      taskId: task.queued.taskId,
      sessionId: task.queued.sessionId,
      miners: [addressToBytes(replacement as Hex)],
      selectionSeed: Uint8Array.from(this.roundSeed(task, round)),
      leader: addressToBytes(this.address as Hex),
      round,
      signature: new Uint8Array(0)
    }
    await publishMessage(this.init.node.libp2p.services.pubsub, 'assignment', msg, { prefix: this.prefix })
    this.apply(task, assignedEvent(msg))
    this.stats.reassigned++
    this.say(`task ${task.queued.taskId}: ${current[index]} replaced by ${replacement} (round ${round})`)
  }

  private onAssignment (task: OracleTask, m: Assignment): void {
    if (m.round === 0 && task.record.state.phase === 'queued') {
      // followers recompute the draw from the same seed and pool
      try {
        const model = task.queued.params?.modelId ?? ''
        const snapshot = poolFromRecords(this.pool.records(task.queued.sessionId), { model })
        const claimed = m.miners.map(b => snapshot.ids.indexOf(bytesToHex(b).toLowerCase()))
        const ok = !claimed.includes(-1) && verifySelection(snapshot.pool, this.roundSeed(task, 0), task.record.state.redundancy, claimed).ok
        if (!ok) {
          this.stats.selectionMismatches++
          this.say(`task ${m.taskId}: the leader's selection differs from this oracle's view of the pool`)
        }
      } catch (err: any) {
        log('selection check: %s', err.message)
      }
    }
    this.apply(task, assignedEvent(m))
  }

  private onPrecommit (task: OracleTask, m: Precommit): void {
    const miner = bytesToHex(m.miner).toLowerCase()
    if (this.apply(task, precommitEvent(m))) {
      task.record.precommits[miner] = { commitment: bytesToHex(m.commitment), signature: bytesToHex(m.signature) }
    }
  }

  private onReveal (task: OracleTask, m: Reveal): void {
    const phase = task.record.state.phase
    if (phase === 'queued' || phase === 'assigned' || phase === 'acked') {
      (task.early ??= []).push(m)
      return
    }
    const miner = bytesToHex(m.miner).toLowerCase()
    const p = task.record.precommits[miner]
    let matches = false
    let outputCid: CID | undefined
    try {
      outputCid = CID.decode(m.outputCid)
      matches = p != null && precommitHash(this.init.chain.domain, m.taskId, cidDigest(outputCid), bytesToHex(m.salt)) === p.commitment
    } catch {}
    if (this.apply(task, revealEvent(m, matches)) && outputCid != null) {
      task.record.reveals[miner] = { outputCid: outputCid.toString(), salt: bytesToHex(m.salt) }
    }
  }

  private onVerdict (task: OracleTask, m: Verdict): void {
    const outcomes: Record<string, MinerVerdict.Outcome> = {}
    for (const v of m.miners) {
      outcomes[bytesToHex(v.miner).toLowerCase()] = v.outcome
    }
    if (this.apply(task, verdictEvent(m))) {
      task.record.outcomes = outcomes
    }
  }

  // ------------------------------------------------------------ validation

  private async validate (task: OracleTask): Promise<void> {
    const s = task.record.state
    if (s.phase !== 'committed' || !(await this.isLeader())) {
      return
    }
    const { node, engine, embedder } = this.init
    const q = task.queued
    const outcomes: Record<string, MinerVerdict.Outcome> = {}
    const similarity: Record<string, number> = {}
    const docs = new Map<string, { doc: OutputDoc, miners: string[] }>()
    for (const slot of s.slots) {
      if (slot.status === 'faulty') {
        outcomes[slot.miner] = MinerVerdict.Outcome.REVEAL_MISMATCH
      } else if (slot.status === 'missed' || slot.status === 'reassigned') {
        outcomes[slot.miner] = MinerVerdict.Outcome.MISSING
      }
    }
    for (const slot of s.slots.filter(x => x.status === 'revealed')) {
      const cid = slot.outputCid ?? task.record.reveals[slot.miner]?.outputCid
      try {
        if (cid == null) {
          throw new Error('no output')
        }
        const entry = docs.get(cid)
        if (entry != null) {
          entry.miners.push(slot.miner)
          continue
        }
        await fetchFromHolders(node.libp2p, node.store, node.config.network, [this.pool.get(slot.miner)?.peerId], CID.parse(cid))
        const doc = await node.store.getJson<OutputDoc>(CID.parse(cid), { signal: AbortSignal.timeout(15_000) })
        checkOutputDoc(doc, q)
        docs.set(cid, { doc, miners: [slot.miner] })
      } catch (err: any) {
        outcomes[slot.miner] = MinerVerdict.Outcome.REJECTED_STRUCTURAL
        this.say(`task ${q.taskId}: output of ${slot.miner} rejected: ${err.message}`)
      }
    }
    const groups = [...docs.entries()].sort((a, b) => b[1].miners.length - a[1].miners.length || (a[0] < b[0] ? -1 : 1))
    let prompt: string | undefined
    const replay = async (doc: OutputDoc): Promise<boolean> => {
      if (engine == null) {
        return true
      }
      await fetchFromHolders(node.libp2p, node.store, node.config.network, [task.from], CID.decode(q.promptCid))
      prompt ??= (await node.store.getJson<PromptDoc>(CID.decode(q.promptCid), { signal: AbortSignal.timeout(15_000) })).prompt
      this.stats.replays++
      const p = q.params
      const verdict = await replayCheck(engine, {
        prompt,
        params: { maxTokens: p?.maxTokens, temperature: p?.temperature, topK: p?.topK !== 0 ? p?.topK : undefined, topP: p?.topP !== 0 ? p?.topP : undefined, stop: p?.stop.length !== 0 ? p?.stop : undefined },
        output: doc.tokens,
        finishReason: doc.finishReason
      })
      return verdict.valid
    }
    const sampleRate = this.init.sampleRate ?? DEFAULT_SAMPLE_RATE
    const sampled = seedToUnit(deriveSeed(SAMPLE_DOMAIN, hexToBytes(task.record.seed), q.taskId)) < sampleRate
    let reference: OutputDoc | undefined
    for (let i = 0; i < groups.length; i++) {
      const [, { doc, miners }] = groups[i]
      // the largest group is replayed on a sample; every disagreeing output is replayed
      const mustReplay = i > 0 || sampled || groups.length > 1
      const passed = mustReplay ? await replay(doc) : true
      if (!passed) {
        for (const m of miners) {
          outcomes[m] = MinerVerdict.Outcome.REJECTED_REPLAY
        }
        continue
      }
      if (reference == null) {
        reference = doc
        for (const m of miners) {
          outcomes[m] = MinerVerdict.Outcome.ACCEPTED
        }
        continue
      }
      const sim = embedder != null ? cosineSimilarity(await embedder.embed(reference.text), await embedder.embed(doc.text)) : 0
      const outlier = sim < (this.init.similarityThreshold ?? EMBEDDING_SIMILARITY_THRESHOLD)
      for (const m of miners) {
        similarity[m] = sim
        outcomes[m] = outlier ? MinerVerdict.Outcome.OUTLIER : MinerVerdict.Outcome.ACCEPTED
      }
    }
    const msg: Verdict = {
      taskId: q.taskId,
      oracle: addressToBytes(this.address as Hex),
      miners: Object.entries(outcomes).map(([miner, outcome]) => ({ miner: addressToBytes(miner as Hex), outcome, similarityPpm: Math.round(Math.max(0, similarity[miner] ?? 0) * 1e6) })),
      round: s.round,
      signature: new Uint8Array(0)
    }
    const tokens: Record<string, number> = {}
    for (const [, { doc, miners }] of docs) {
      for (const m of miners) {
        tokens[m] = doc.tokens.length
      }
    }
    task.record.tokens = tokens
    await publishMessage(this.init.node.libp2p.services.pubsub, 'verdict', msg, { prefix: this.prefix })
    if (this.apply(task, verdictEvent(msg))) {
      task.record.outcomes = outcomes
      this.stats.validated++
      for (const [miner, outcome] of Object.entries(outcomes)) {
        const code = outcome === MinerVerdict.Outcome.ACCEPTED ? V.PASS : outcome === MinerVerdict.Outcome.OUTLIER ? V.OUTLIER : outcome === MinerVerdict.Outcome.REJECTED_REPLAY || outcome === MinerVerdict.Outcome.REJECTED_STRUCTURAL ? V.REPLAY_FAIL : outcome === MinerVerdict.Outcome.REVEAL_MISMATCH ? V.COMMIT_MISMATCH : V.TIMEOUT
        this.pool.applyVerdict(miner, code)
      }
      this.say(`task ${q.taskId}: verdict ${Object.entries(outcomes).map(([m, o]) => `${m.slice(0, 10)}… ${o}`).join(', ')}`)
    }
  }

  // ------------------------------------------------------------ settlement

  private queueSettlement (task: OracleTask): void {
    this.settleQueue.set(task.queued.taskId.toString(), task)
    if (this.settleQueue.size >= (this.init.maxBatch ?? 50)) {
      this.flushSoon(0)
    } else {
      this.flushSoon(this.init.settleBatchMs ?? 250)
    }
  }

  private flushSoon (ms: number): void {
    if (this.settleTimer != null && ms > 0) {
      return
    }
    clearTimeout(this.settleTimer)
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined
      const prev = this.settling ?? Promise.resolve()
      this.settling = prev.then(async () => { await this.flush() }).catch((err) => { this.say(`settlement failed: ${err?.message ?? err}`) })
    }, ms)
  }

  private async flush (): Promise<void> {
    if (this.settleQueue.size === 0 || this.stopped || !(await this.isLeader())) {
      this.settleQueue.clear()
      return
    }
    const { chain } = this.init
    const batch = [...this.settleQueue.values()].slice(0, this.init.maxBatch ?? 50)
    for (const t of batch) {
      this.settleQueue.delete(t.queued.taskId.toString())
    }
    const entries: TaskVerdicts[] = []
    const included: OracleTask[] = []
    for (const task of batch) {
      const s = task.record.state
      if (s.phase !== 'validated') {
        continue
      }
      const onChain = await getTask(chain.wallet, { hub: chain.hub, taskId: task.queued.taskId })
      if (onChain.status === 'settled') {
        continue
      }
      const miners = await this.chainMiners(task.queued.taskId)
      entries.push({ taskId: task.queued.taskId, miners: miners.map(m => this.minerVerdict(task, m)) })
      included.push(task)
    }
    if (entries.length === 0) {
      return
    }
    const res = await chain.serial(async () => settleBatch(chain.wallet, { hub: chain.hub, tasks: entries }))
    this.stats.settleTransactions++
    this.say(`settled ${entries.length} task(s) in ${res.hash} (${res.gasUsed} gas)`)
    for (const task of included) {
      this.enqueue(task, async () => {
        this.apply(task, { type: 'settled', txHash: res.hash })
        this.stats.settled++
        await this.slashReplayFailures(task)
      })
    }
  }

  private minerVerdict (task: OracleTask, miner: Address): TaskVerdicts['miners'][number] {
    const m = miner.toLowerCase()
    const outcome = task.record.outcomes?.[m]
    const reveal = task.record.reveals[m]
    const pre = task.record.precommits[m]
    if (outcome == null || reveal == null || pre == null || outcome === MinerVerdict.Outcome.MISSING || outcome === MinerVerdict.Outcome.REVEAL_MISMATCH) {
      return { miner, verdict: VERDICT_MISSED }
    }
    const honest = outcome === MinerVerdict.Outcome.ACCEPTED
    return {
      miner,
      verdict: honest ? VERDICT_HONEST : VERDICT_FAULTY,
      tokens: honest ? Math.min(task.record.tokens?.[m] ?? 0, task.queued.params?.maxTokens ?? 0) : 0,
      onTime: true,
      outputDigest: cidDigest(CID.parse(reveal.outputCid)),
      salt: reveal.salt,
      precommitSignature: pre.signature
    }
  }

  /** Replay failures are provable: with enough oracle signatures (the hub's quorum) the miner's stake is slashed. */
  private async slashReplayFailures (task: OracleTask): Promise<void> {
    const { chain, node } = this.init
    for (const [miner, outcome] of Object.entries(task.record.outcomes ?? {})) {
      if (outcome !== MinerVerdict.Outcome.REJECTED_REPLAY || this.replayQuorum > 1) {
        continue
      }
      const reveal = task.record.reveals[miner]
      const pre = task.record.precommits[miner]
      if (reveal == null || pre == null) {
        continue
      }
      const outputDigest = cidDigest(CID.parse(reveal.outputCid))
      const sig = await signReplayVerdict(privateKeyToAccount(node.peerIdentity.privateKey), chain.domain, { taskId: task.queued.taskId, miner: miner as Address, outputDigest, passed: false })
      await chain.serial(async () => slashReplayFailure(chain.wallet, {
        hub: chain.hub,
        taskId: task.queued.taskId,
        miner: miner as Address,
        precommit: { outputDigest, salt: reveal.salt, signature: pre.signature },
        oracleSignatures: [{ oracle: this.address as Address, signature: sig }]
      }))
      this.stats.slashed++
      this.say(`task ${task.queued.taskId}: miner ${miner} slashed for a failed replay`)
    }
  }

  private async onChainLog (l: HubLog): Promise<void> {
    if (l.eventName !== 'TasksSettled') {
      return
    }
    for (const id of settledTaskIds(l.args.settled)) {
      const task = this.tasks.get(id.toString())
      if (task == null || isTerminal(task.record.state)) {
        continue
      }
      this.enqueue(task, async () => {
        if (isTerminal(task.record.state)) {
          return
        }
        if (!this.apply(task, { type: 'settled', txHash: l.transactionHash })) {
          // settled by another oracle before this one saw the verdict
          task.record.state = { ...task.record.state, phase: 'settled', txHash: l.transactionHash, phaseDeadlineMs: null }
          await this.persist(task)
        }
      })
    }
  }
}

function checkOutputDoc (doc: OutputDoc, q: TaskQueued): void {
  if (doc == null || typeof doc !== 'object') {
    throw new Error('output is not a document')
  }
  if (doc.taskId !== q.taskId.toString()) {
    throw new Error(`output names task ${doc.taskId}`)
  }
  if (doc.modelId !== q.params?.modelId) {
    throw new Error(`output names model ${doc.modelId}`)
  }
  if (!Array.isArray(doc.tokens) || !doc.tokens.every(t => Number.isInteger(t) && t >= 0)) {
    throw new Error('output tokens are not token ids')
  }
  if (doc.tokens.length > (q.params?.maxTokens ?? 0)) {
    throw new Error(`${doc.tokens.length} tokens, max ${q.params?.maxTokens}`)
  }
  if (!['length', 'eos', 'stop'].includes(doc.finishReason) || typeof doc.text !== 'string') {
    throw new Error('bad finish reason or text')
  }
}

