/**
 * The client SDK: submit a prompt against a funded session and get back the
 * miner's tokens as they are generated and the settled, verified result.
 *
 * ```ts
 * const client = await createTaskClient({ node, chain, sessionId, modelId })
 * const task = await client.submit('Hello', { maxTokens: 32 })
 * for await (const t of task.tokens) process.stdout.write(t.text)
 * const result = await task.result   // output CID, miners, verdicts, tx hash
 * ```
 *
 * The submitter's libp2p key is its chain key: the task announcement is
 * signed by it, and miners stream tokens only to the task's submitter.
 */
import * as dagJson from '@ipld/dag-json'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { bytesToHex, numberToBytes } from 'viem'
import { minerStandings } from '../contracts/actions/registry.ts'
import { getSession } from '../contracts/actions/sessions.ts'
import { settledTaskIds, watchHub } from '../contracts/context.ts'
import { taskParamsDigest } from '../protocols/blocks/index.ts'
import { defaultValidators, installGossip, publishMessage } from '../protocols/gossip/index.ts'
import { MAX_INLINE_PROMPT_BYTES, MinerVerdict, addressToBytes } from '../protocols/messages/index.ts'
import { MinerRegistrations, registeredHeartbeats } from '../protocols/pool/registrations.ts'
import { DEFAULT_RESERVATION_IDLE_MS, PoolView } from '../protocols/pool/view.ts'
import { InvalidPromptError, taskDoc, taskText } from '../protocols/prompt/index.ts'
import { ABANDON_REASONS, ABANDON_REASON_TEXT } from '../protocols/queue/types.ts'
import { emptyingFilter, slaFor } from '../protocols/selection/index.ts'
import { Channel } from './channel.ts'
import { noteDecline } from './declines.ts'
import { InvalidSubmitParamsError, NoEligibleMinerError, TaskFailedError } from './errors.ts'
import { fetchAcceptedOutput } from './result.ts'
import { SubmitBatcher } from './submit-batch.ts'
import { STREAM_OPEN_TIMEOUT_MS, streamTokens } from './token-stream.ts'
import type { ClientNode, Tracked } from './tracked.ts'
import type { MinerOutcome, MinerInfo, ModelInfo, SessionInfo, SubmitParams, TaskClient, TaskHandle, TaskRecord, TaskResult, TaskStatus, TaskUpdate } from './types.ts'
import type { ChainContext, HubLog, HubWatcher } from '../contracts/context.ts'
import type { TaskParams, TaskQueued } from '../protocols/messages/index.ts'
import type { EmbedInput, PromptDoc, TaskInput } from '../protocols/prompt/index.ts'
import type { Sla } from '../protocols/selection/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

export * from './types.ts'
export * from './errors.ts'
export { STREAM_OPEN_TIMEOUT_MS }
export { DEFAULT_SUBMIT_BATCH_MS } from './submit-batch.ts'
export type { SubmitBatcherStats } from './submit-batch.ts'
export type { ClientNode } from './tracked.ts'

const log = logger('cortensor:client')

export interface TaskClientInit {
  node: ClientNode
  /** the session owner's chain context; its key must be the node's libp2p key */
  chain: ChainContext
  sessionId: bigint
  /** model the session pays for (hub model id) */
  modelId: string
  topicPrefix?: string
  heartbeatIntervalMs?: number
  /** default deadline of a task from its submission; default 5 min */
  taskTimeoutMs?: number
  /** how many finished tasks to remember for listing; default 1000 */
  historySize?: number
  /** how long `submit` waits for enough miners free for the session before NoEligibleMinerError; default 10 s */
  eligibleWaitMs?: number
  /**
   * how long a submission waits for others to share its transaction when none of this client's is in
   * flight (while one is, the next ones gather until it is mined); default DEFAULT_SUBMIT_BATCH_MS
   */
  submitBatchMs?: number
}

export const DEFAULT_MAX_TOKENS = 64
export const DEFAULT_TASK_TIMEOUT_MS = 5 * 60_000
/** how long `submit` waits for the pool view to show enough miners free for the session (a client that just joined, a reservation that just ended) */
export const DEFAULT_ELIGIBLE_WAIT_MS = 10_000
const ELIGIBLE_POLL_MS = 200

const OUTCOMES: Record<string, MinerOutcome> = {
  ACCEPTED: 'accepted',
  REJECTED_STRUCTURAL: 'rejected-structural',
  REJECTED_REPLAY: 'rejected-replay',
  OUTLIER: 'outlier',
  MISSING: 'missing',
  REVEAL_MISMATCH: 'reveal-mismatch',
  UNVERIFIABLE: 'unverifiable'
}

/** The document of a submitted input: a non-empty prompt, chat messages that pass checkMessages, or texts to embed. */
function submittedDoc (input: TaskInput): PromptDoc | EmbedInput {
  if (typeof input === 'string') {
    if (input.length === 0) {
      throw new InvalidSubmitParamsError('prompt', 'must be a non-empty string')
    }
    return taskDoc(input)
  }
  if (input == null || typeof input !== 'object') {
    throw new InvalidSubmitParamsError('prompt', 'must be a non-empty string, { messages } or { embed }')
  }
  try {
    return taskDoc(input)
  } catch (err) {
    if (err instanceof InvalidPromptError) {
      throw new InvalidSubmitParamsError(err.field, err.message.slice(err.field.length + 2))
    }
    throw err
  }
}

function checkParams (p: SubmitParams): void {
  const int = (name: string, v: number | undefined, min: number, max: number): void => {
    if (v != null && (!Number.isInteger(v) || v < min || v > max)) {
      throw new InvalidSubmitParamsError(name, `must be an integer in [${min}, ${max}], got ${v}`)
    }
  }
  int('maxTokens', p.maxTokens, 1, 32_768)
  int('topK', p.topK, 0, 1_000_000)
  int('seed', p.seed, 0, Number.MAX_SAFE_INTEGER)
  if (p.temperature != null && !(p.temperature >= 0 && p.temperature <= 2)) {
    throw new InvalidSubmitParamsError('temperature', `must be in [0, 2], got ${p.temperature}`)
  }
  if (p.topP != null && !(p.topP > 0 && p.topP <= 1)) {
    throw new InvalidSubmitParamsError('topP', `must be in (0, 1], got ${p.topP}`)
  }
  if (p.timeoutMs != null && !(p.timeoutMs > 0)) {
    throw new InvalidSubmitParamsError('timeoutMs', `must be positive, got ${p.timeoutMs}`)
  }
}

/** A session as the hub has it; `availableWei` is the deposit not yet reserved by tasks. */
export async function readSession (chain: Pick<ChainContext, 'wallet' | 'hub'>, sessionId: bigint): Promise<SessionInfo & { availableWei: string }> {
  const s = await getSession(chain.wallet, { hub: chain.hub, sessionId })
  return {
    sessionId: sessionId.toString(),
    owner: s.owner,
    modelId: s.modelId,
    redundancy: s.redundancy,
    pricePerTokenWei: s.pricePerTokenWei.toString(),
    depositWei: (s.availableWei + s.reservedWei).toString(),
    availableWei: s.availableWei.toString(),
    reservedWei: s.reservedWei.toString(),
    spentWei: '0',
    tasks: s.taskCount,
    closed: s.closed
  }
}

export class CortensorTaskClient implements TaskClient {
  readonly init: TaskClientInit
  readonly sessionId: bigint
  readonly pool: PoolView
  /** topic prefix: `/<network>` unless given */
  readonly prefix: string
  /** this client's submissions go out together: one transaction for the tasks submitted while another is mined */
  private readonly submissions: SubmitBatcher
  private readonly tracked = new Map<string, Tracked>()
  private readonly history: TaskRecord[] = []
  private uninstall?: () => void
  private watcher?: HubWatcher
  private discovery?: { stop(): void }
  private closed = false

  constructor (init: TaskClientInit) {
    this.init = init
    this.sessionId = init.sessionId
    this.pool = new PoolView(init.heartbeatIntervalMs ?? 2000)
    this.prefix = init.topicPrefix ?? `/${init.node.network}`
    this.submissions = new SubmitBatcher({ chain: init.chain, batchMs: init.submitBatchMs })
  }

  /** Submission transactions this client sent and the tasks they carried. */
  get submitStats (): { transactions: number, tasks: number } {
    return { ...this.submissions.stats }
  }

  async start (): Promise<void> {
    const { node, chain } = this.init
    const base = defaultValidators()
    // only miners the hub would assign are listed and drawn (a heartbeat only claims to be one)
    const registrations = new MinerRegistrations({ standing: minerStandings(chain.wallet, chain.hub) })
    this.uninstall = installGossip(node.libp2p.services.pubsub, {
      prefix: this.prefix,
      models: [this.init.modelId],
      validators: { ...base, heartbeat: registeredHeartbeats(base.heartbeat, registrations) },
      handlers: {
        task: () => {},
        assignment: (m) => {
          const t = this.tracked.get(m.taskId.toString())
          if (t != null) {
            for (const b of m.miners) {
              const a = bytesToHex(b).toLowerCase()
              if (!t.record.miners.includes(a)) {
                t.record.miners.push(a)
              }
            }
            this.update(t, 'assigned', `round ${m.round}: ${m.miners.length} miner(s)`)
            if (m.round === 0) {
              const assigned = m.miners.map(b => bytesToHex(b).toLowerCase())
              // a predicted miner the assignment does not name will not serve: stop waiting on it
              if (t.attempt?.early === true && !assigned.includes(t.attempt.miner) && t.streamedTokens === 0) {
                t.attempt.controller.abort(new Error(`${t.attempt.miner} was not assigned`))
              }
              // ask the first assigned miner for tokens now rather than after its ack (one gossip hop
              // later): its stream opens while it starts generating, and it answers at once if it declines
              if (!t.ackers.some(a => assigned.includes(a.miner))) {
                const first = assigned.map(a => this.pool.get(a)).find(e => e != null)
                if (first != null) {
                  t.ackers.push({ miner: first.address.toLowerCase(), peer: first.peerId, early: true })
                  t.newAcker?.()
                }
              }
            }
            // declines that came before the assignment named their miners count now
            const declined = noteDecline(t)
            if (declined != null) {
              this.fail(t, declined)
            }
          }
        },
        decline: (m) => {
          const t = this.tracked.get(m.taskId.toString())
          const declined = t != null ? noteDecline(t, m) : undefined
          if (t != null && declined != null) {
            this.fail(t, declined)
          }
        },
        ack: (m, meta) => {
          const t = this.tracked.get(m.taskId.toString())
          if (t != null && meta.from != null) {
            t.ackers.push({ miner: bytesToHex(m.miner).toLowerCase(), peer: meta.from })
            t.newAcker?.()
          }
        },
        precommit: () => {},
        reveal: (m) => {
          const t = this.tracked.get(m.taskId.toString())
          if (t != null) {
            t.reveals.set(bytesToHex(m.miner).toLowerCase(), CID.decode(m.outputCid).toString())
            if (t.record.status === 'generating' || t.record.status === 'assigned') {
              this.update(t, 'committed')
            }
          }
        },
        verdict: (m, meta) => {
          // what the leader measured miners deliver: this view's speeds follow the oracles'
          this.pool.delivery.addVerdict(m)
          const t = this.tracked.get(m.taskId.toString())
          if (t != null) {
            if (meta.from != null && !(t.judges ??= []).some(p => p.equals(meta.from))) {
              t.judges.push(meta.from)
            }
            for (const v of m.miners) {
              // the leader's verdict comes first; an oracle's later attestation (a quorum signature, or an audit
              // after settlement) does not rewrite what the task settled with
              const miner = bytesToHex(v.miner).toLowerCase()
              if (!t.outcomes.has(miner)) {
                t.outcomes.set(miner, v.outcome)
              }
            }
            this.update(t, 'validated')
            const outcomes = [...t.outcomes.values()]
            if (outcomes.includes(MinerVerdict.Outcome.UNVERIFIABLE) && !outcomes.includes(MinerVerdict.Outcome.ACCEPTED)) {
              // not settled: the task expires on chain and its reservation returns to the session
              this.fail(t, new TaskFailedError('unverifiable', `task ${t.record.taskId}: the miners' outputs differ and the leader oracle has no model to replay them`, t.record.taskId))
            }
          }
        },
        heartbeat: (m, meta) => {
          if (meta.from != null) {
            this.pool.onHeartbeat(m, meta.from)
          }
        }
      }
    })
    // polled four times a second while a task of this client awaits its settlement, every few seconds otherwise
    this.watcher = watchHub(chain, async (l) => { await this.onChainLog(l) }, { busy: () => this.tracked.size > 0, onError: (err) => { log('chain poll: %s', err.message) } })
    // with no live miner of the model in view (a client that just joined), look the pool up on the DHT and dial it
    this.discovery = this.pool.discover({ libp2p: node.libp2p, network: node.network, models: [this.init.modelId] })
  }

  async close (): Promise<void> {
    if (this.closed) {
      return
    }
    this.closed = true
    this.submissions.stop(new TaskFailedError('client-closed', 'the client was closed'))
    this.watcher?.stop()
    this.discovery?.stop()
    this.uninstall?.()
    for (const t of this.tracked.values()) {
      t.abort.abort()
      t.reject(new TaskFailedError('client-closed', 'the client was closed', t.record.taskId))
    }
  }

  models (): ModelInfo[] {
    const counts = new Map<string, { miners: number, contextTokens?: number }>()
    for (const e of this.pool.list()) {
      if (this.pool.healthy(e)) {
        for (const m of e.heartbeat.models) {
          const c = counts.get(m) ?? { miners: 0 }
          c.miners++
          const ctx = e.heartbeat.contextTokens
          if (ctx != null && ctx > 0) {
            c.contextTokens = Math.min(c.contextTokens ?? ctx, ctx)
          }
          counts.set(m, c)
        }
      }
    }
    return [...counts.entries()].map(([id, c]) => c.contextTokens != null ? { id, miners: c.miners, contextTokens: c.contextTokens } : { id, miners: c.miners })
  }

  /**
   * Refuse what the pool's miners cannot run before anything is paid: a
   * max_tokens that leaves no room for the prompt in the model's context
   * (every prompt is at least one token). A prompt too long for the context
   * is found by the miners, who tokenize it, and declined (`noteDecline`).
   */
  private checkContext (maxTokens: number): void {
    const contextTokens = this.models().find(m => m.id === this.init.modelId)?.contextTokens
    if (contextTokens != null && maxTokens >= contextTokens) {
      throw new InvalidSubmitParamsError('maxTokens', `must be less than the model's context of ${contextTokens} tokens, which holds the prompt and the output (at most ${contextTokens - 1}, got ${maxTokens})`)
    }
  }

  /**
   * Wait (up to `eligibleWaitMs`) until this client's pool view shows at
   * least `needed` live miners of the model free for the session, as the
   * leader's draw needs; else throw NoEligibleMinerError saying which filter
   * emptied the pool.
   */
  private async awaitEligible (sessionId: bigint, needed: number, slaClass = 1): Promise<void> {
    const deadline = Date.now() + (this.init.eligibleWaitMs ?? DEFAULT_ELIGIBLE_WAIT_MS)
    const sla = slaFor(slaClass)
    for (;;) {
      // a session whose SLA does not fall back, when no live miner meets it: nothing to wait for
      if (sla.policy === 'wait') {
        const live = this.pool.records(sessionId).map(r => ({ ...r, reserved: false }))
        const { filter, left } = emptyingFilter(live, { model: this.init.modelId, ...sla.filter }, needed)
        if (filter != null && filter !== 'model' && filter !== 'healthy' && filter !== 'reserved') {
          throw new NoEligibleMinerError(`session ${sessionId} asks for SLA ${sla.name} (${slaTerms(sla)}) and only ${left} live miner${left === 1 ? '' : 's'} of the model pass its ${filter} filter, ${needed} needed: the task cannot be served (open a session with another SLA class, or wait for such miners to join)`, {
            reason: 'sla-unmet', filter, needed, serving: live.filter(r => r.healthy && r.models.includes(this.init.modelId)).length, available: left, retryAfterMs: DEFAULT_ELIGIBLE_WAIT_MS
          })
        }
      }
      const e = this.pool.eligibility(sessionId, this.init.modelId)
      if (e.available >= needed) {
        return
      }
      if (Date.now() >= deadline || this.closed) {
        throw noEligibleMiner(sessionId, this.init.modelId, needed, e)
      }
      await new Promise(resolve => setTimeout(resolve, ELIGIBLE_POLL_MS))
    }
  }

  miners (): MinerInfo[] {
    return this.pool.list().filter(e => this.pool.healthy(e)).map(e => ({
      address: e.address,
      peerId: e.peerId.toString(),
      models: [...e.heartbeat.models],
      hardwareClass: e.heartbeat.hardwareClass,
      level: e.heartbeat.level,
      tokensPerSec: e.heartbeat.tokensPerSecondMilli / 1000,
      load: e.heartbeat.loadPermille / 1000,
      reservedBySession: e.heartbeat.reservedBySession === 0n ? null : e.heartbeat.reservedBySession.toString(),
      lastSeenMs: e.lastSeenMs
    }))
  }

  async session (id: bigint = this.sessionId): Promise<SessionInfo> {
    return readSession(this.init.chain, id)
  }

  tasks (sessionId?: bigint): TaskRecord[] {
    const all = [...this.history, ...[...this.tracked.values()].map(t => t.record)]
    const unique = new Map(all.map(r => [r.taskId, r]))
    return [...unique.values()].filter(r => sessionId == null || r.sessionId === sessionId.toString())
  }

  task (taskId: bigint): TaskRecord | undefined {
    return this.tracked.get(taskId.toString())?.record ?? this.history.find(r => r.taskId === taskId.toString())
  }

  async submit (input: TaskInput, params: SubmitParams = {}): Promise<TaskHandle> {
    if (this.closed) {
      throw new TaskFailedError('client-closed', 'the client was closed')
    }
    const promptDoc = submittedDoc(input)
    const prompt = taskText(input)
    checkParams(params)
    const { node, chain } = this.init
    const sessionId = params.sessionId ?? this.sessionId
    const maxTokens = params.maxTokens ?? DEFAULT_MAX_TOKENS
    this.checkContext(maxTokens)
    const taskParams: TaskParams = {
      modelId: this.init.modelId,
      maxTokens,
      temperature: params.temperature ?? 0,
      topP: params.topP ?? 0,
      topK: params.topK ?? 0,
      seed: BigInt(params.seed ?? 0),
      stop: params.stop ?? []
    }
    const submittedAtMs = Date.now()
    const promptCid = await node.store.putJson(promptDoc)
    // a small prompt also rides in the announcement, so miners start without fetching it
    const promptBlock = dagJson.encode(promptDoc)
    const paramsDigest = taskParamsDigest(taskParams)
    const session = await getSession(chain.wallet, { hub: chain.hub, sessionId })
    // a task no miner can take would sit queued until it expires: refuse it before it is paid for (the
    // chain's own refusals come first: a session that cannot pay or is closed gets the hub's error below)
    const costWei = BigInt(maxTokens) * session.pricePerTokenWei * BigInt(session.redundancy)
    if (!session.closed && session.availableWei >= costWei) {
      await this.awaitEligible(sessionId, session.redundancy, session.slaClass)
    }
    // throws ContractRuleError (InsufficientDeposit, SessionIsClosed, …) before anything reaches the mesh
    // submissions made while another of this client's is being mined share one transaction; each task has its own id and seed
    const submitted = await this.submissions.submit(sessionId, { promptDigest: bytesToHex(promptCid.multihash.digest), maxTokens, paramsDigest })
    const taskId = submitted.taskId
    const abort = new AbortController()
    let resolveResult!: (r: TaskResult) => void
    let rejectResult!: (err: Error) => void
    const result = new Promise<TaskResult>((resolve, reject) => { resolveResult = resolve; rejectResult = reject })
    result.catch(() => {})
    const t: Tracked = {
      record: { taskId: taskId.toString(), sessionId: sessionId.toString(), status: 'submitted', prompt, ...('messages' in promptDoc ? { messages: promptDoc.messages } : {}), clientReference: params.clientReference, miners: [], submittedAtMs },
      ackers: [],
      reveals: new Map(),
      outcomes: new Map(),
      tokens: new Channel(),
      listeners: new Set(),
      resolve: resolveResult,
      reject: rejectResult,
      abort,
      streamedText: '',
      streamedTokens: 0
    }
    this.tracked.set(taskId.toString(), t)
    this.watcher?.wake()
    const timeoutMs = params.timeoutMs ?? this.init.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS
    const timer = setTimeout(() => { this.fail(t, new TaskFailedError('timeout', `task ${taskId} was not settled within ${timeoutMs} ms`, taskId.toString())) }, timeoutMs)
    void result.finally(() => { clearTimeout(timer) }).catch(() => {})
    params.signal?.addEventListener('abort', () => { this.cancel(t) }, { once: true })

    const chainSeed = Uint8Array.from(numberToBytes(submitted.seed, { size: 32 }))
    const queued: TaskQueued = {
      sessionId,
      taskId,
      promptCid: promptCid.bytes,
      ...(promptBlock.byteLength <= MAX_INLINE_PROMPT_BYTES ? { promptBlock: Uint8Array.from(promptBlock) } : {}),
      params: taskParams,
      submitter: addressToBytes(chain.address),
      deadlineMs: BigInt(submittedAtMs + timeoutMs),
      redundancy: session.redundancy,
      seed: chainSeed
    }
    t.queued = queued
    await publishMessage(node.libp2p.services.pubsub, 'task', queued, { prefix: this.prefix, model: this.init.modelId })
    this.update(t, 'queued', `tx ${submitted.hash}${submitted.batchSize > 1 ? ` (${submitted.batchSize} tasks)` : ''}`)
    // the selection is reproducible from the chain's seed and the pool, so the client draws it too and
    // opens the token stream to the first miner it expects while the leader assigns: the miner holds
    // the request until it takes the assignment (or answers at once that it was not assigned)
    const predicted = this.predictFirstMiner(taskId, chainSeed, sessionId, session.redundancy, session.slaClass)
    if (predicted != null) {
      t.ackers.push({ ...predicted, early: true })
    }
    void streamTokens(this.init.node, t, (miner) => { this.update(t, 'generating', `streaming from ${miner}`) })
    const handle: TaskHandle = {
      taskId,
      sessionId,
      tokens: t.tokens,
      result: result.then(r => ({ ...r, submitTxHash: submitted.hash })),
      onUpdate: (listener) => {
        t.listeners.add(listener)
        return () => { t.listeners.delete(listener) }
      },
      cancel: () => { this.cancel(t) },
      get promptTokens () { return t.promptTokens }
    }
    handle.result.catch(() => {})
    return handle
  }

  private cancel (t: Tracked): void {
    t.abort.abort()
    t.tokens.fail(new TaskFailedError('cancelled', 'cancelled by the caller', t.record.taskId))
    this.fail(t, new TaskFailedError('cancelled', 'cancelled by the caller', t.record.taskId))
  }

  private update (t: Tracked, status: TaskStatus, detail?: string): void {
    t.record.status = status
    const u: TaskUpdate = { taskId: t.record.taskId, sessionId: t.record.sessionId, status, atMs: Date.now(), detail }
    for (const l of t.listeners) {
      try {
        l(u)
      } catch {}
    }
  }

  private fail (t: Tracked, err: TaskFailedError): void {
    if (!this.tracked.has(t.record.taskId)) {
      return
    }
    t.record.error = err.message
    this.update(t, err.code === 'expired' ? 'expired' : 'failed', err.message)
    t.tokens.fail(err)
    t.abort.abort()
    t.reject(err)
    this.retire(t)
  }

  private retire (t: Tracked): void {
    this.tracked.delete(t.record.taskId)
    this.history.push(t.record)
    if (this.history.length > (this.init.historySize ?? 1000)) {
      this.history.shift()
    }
  }

  /**
   * The first miner of the task's round-0 draw as this client's pool view
   * makes it (the leader draws from its own view, which a client that just
   * joined, or missed heartbeats or verdicts, may not match): a guess, never
   * trusted, only used to open the token stream sooner.
   */
  private predictFirstMiner (taskId: bigint, chainSeed: Uint8Array, sessionId: bigint, redundancy: number, slaClass?: number): { miner: string, peer: PeerId } | undefined {
    const [first] = this.pool.draw({ sessionId, taskId, model: this.init.modelId, chainSeed, count: redundancy, slaClass })
    const entry = first != null ? this.pool.get(first) : undefined
    return entry == null ? undefined : { miner: first, peer: entry.peerId }
  }

  private async onChainLog (l: HubLog): Promise<void> {
    if (l.eventName === 'TaskAbandoned') {
      // the leader gave the task up (before its TaskExpired, in the same transaction): say why
      const t = this.tracked.get(l.args.taskId.toString())
      if (t != null) {
        const reason = ABANDON_REASONS[l.args.reason] ?? 'deadline'
        this.fail(t, new TaskFailedError('abandoned', `task ${l.args.taskId} was given up by the network: ${ABANDON_REASON_TEXT[reason]} (${reason}); its deposit was returned to the session`, t.record.taskId, { reason }))
      }
      return
    }
    if (l.eventName === 'TaskExpired') {
      const t = this.tracked.get(l.args.taskId.toString())
      if (t != null) {
        this.fail(t, new TaskFailedError('expired', `task ${l.args.taskId} expired on chain`, t.record.taskId))
      }
      return
    }
    if (l.eventName !== 'TasksSettled') {
      return
    }
    for (const id of settledTaskIds(l.args.settled)) {
      const t = this.tracked.get(id.toString())
      if (t != null) {
        await this.settle(t, l.transactionHash).catch((err) => {
          this.fail(t, new TaskFailedError('result-unavailable', `task ${id} settled but its output could not be fetched: ${err.message}`, t.record.taskId))
        })
      }
    }
  }

  private async settle (t: Tracked, txHash: Hex): Promise<void> {
    const output = await fetchAcceptedOutput(this.init.node, this.pool, t)
    if (output == null) {
      this.fail(t, new TaskFailedError('no-accepted-output', `task ${t.record.taskId} settled without an accepted output`, t.record.taskId))
      return
    }
    const { miner: acceptedMiner, outputCid, doc } = output
    // the accepted output's count (the miners agreed on it byte for byte), else the stream's
    if (Number.isInteger(doc.promptTokens) && (doc.promptTokens ?? 0) > 0) {
      t.promptTokens = doc.promptTokens
    }
    const miners = [...new Set([...t.record.miners, ...t.outcomes.keys()])].map(address => ({ address, outcome: OUTCOMES[t.outcomes.get(address) ?? 'MISSING'] ?? 'missing' }))
    const res: TaskResult = {
      taskId: t.record.taskId,
      sessionId: t.record.sessionId,
      modelId: doc.modelId,
      text: doc.text,
      completionTokens: doc.tokens.length,
      promptTokens: t.promptTokens ?? 0,
      finishReason: doc.finishReason,
      ...(typeof doc.chatTemplate === 'string' ? { chatTemplate: doc.chatTemplate } : {}),
      ...(Array.isArray(doc.embeddings) ? { embeddings: doc.embeddings } : {}),
      outputCid,
      miners,
      txHash,
      submitTxHash: '',
      submittedAtMs: t.record.submittedAtMs,
      settledAtMs: Date.now()
    }
    t.record.result = res
    // the settled output completes the token stream when it fell short (the stream could not be
    // opened in time, or every miner streaming it went away): the iterator always yields the whole
    // accepted text
    t.abort.abort()
    if (doc.text.startsWith(t.streamedText) && doc.text.length > t.streamedText.length) {
      const streamedTokens = t.streamedTokens
      t.tokens.push({ index: streamedTokens, text: doc.text.slice(t.streamedText.length), tokenIds: doc.tokens.slice(streamedTokens), miner: acceptedMiner })
    }
    this.update(t, 'settled', `tx ${txHash}`)
    t.tokens.end()
    t.resolve(res)
    this.retire(t)
  }
}

/** An SLA's terms in words. */
function slaTerms (sla: Sla): string {
  const f = sla.filter
  const terms = [
    f.gpuOnly === true ? 'GPU only' : '',
    f.minLevel != null ? `level ≥ ${f.minLevel}` : '',
    f.minTokensPerSec != null ? `≥ ${f.minTokensPerSec} tokens/s delivered` : '',
    f.maxFirstTokenMs != null ? `first token ≤ ${f.maxFirstTokenMs} ms` : ''
  ].filter(t => t !== '')
  return terms.length > 0 ? terms.join(', ') : 'no requirement'
}

/** The error for a task the pool cannot serve now, saying why and when to retry. */
function noEligibleMiner (sessionId: bigint, modelId: string, needed: number, e: ReturnType<PoolView['eligibility']>): NoEligibleMinerError {
  const model = modelId.length > 18 ? `${modelId.slice(0, 18)}…` : modelId
  if (e.serving === 0) {
    return new NoEligibleMinerError(`no live miner of model ${model} is in view: nobody can take the task (start a miner of the model, or check the bootstrap address)`, {
      reason: 'no-miner-for-model', needed, serving: 0, available: 0, retryAfterMs: DEFAULT_ELIGIBLE_WAIT_MS
    })
  }
  if (e.serving < needed) {
    return new NoEligibleMinerError(`session ${sessionId} needs ${needed} miners of model ${model} per task (its redundancy) and only ${e.serving} serve${e.serving === 1 ? 's' : ''} it: nobody can take the task until more miners join`, {
      reason: 'too-few-miners', needed, serving: e.serving, available: e.available, retryAfterMs: DEFAULT_ELIGIBLE_WAIT_MS
    })
  }
  const now = Date.now()
  const holders = e.reservedBy.map(r => `session ${r.sessionId} (${r.miners} miner${r.miners === 1 ? '' : 's'}${r.untilMs != null ? `, until ${new Date(r.untilMs).toISOString()} at the latest` : ''})`)
  const ends = e.reservedBy.map(r => r.untilMs ?? Infinity).map(u => Math.max(1000, Math.min(u - now, DEFAULT_RESERVATION_IDLE_MS)))
  const retryAfterMs = ends.length > 0 ? Math.min(...ends) : DEFAULT_ELIGIBLE_WAIT_MS
  const rest = e.serving - e.available
  const why = `${rest} ${rest === 1 ? 'is' : 'are'} reserved by ${holders.join(', ')}; a reservation ends with its session's reserve period or task budget, or once the session has sent no task for ${DEFAULT_RESERVATION_IDLE_MS / 1000} s`
  return new NoEligibleMinerError(`session ${sessionId} needs ${needed} miner${needed === 1 ? '' : 's'} of model ${model}: ${e.serving} serve${e.serving === 1 ? 's' : ''} it, ${e.available} free for this session; ${why}. Retry in about ${Math.ceil(retryAfterMs / 1000)} s`, {
    reason: 'miners-reserved', needed, serving: e.serving, available: e.available, retryAfterMs
  })
}

export async function createTaskClient (init: TaskClientInit): Promise<CortensorTaskClient> {
  const client = new CortensorTaskClient(init)
  await client.start()
  return client
}
