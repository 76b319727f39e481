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
import QuickLRU from 'quick-lru'
import { bytesToHex, numberToBytes } from 'viem'
import { minerStandings } from '../contracts/actions/registry.ts'
import { getSession } from '../contracts/actions/sessions.ts'
import { settledTaskIds, watchHub } from '../contracts/context.ts'
import { taskParamsDigest } from '../protocols/blocks/index.ts'
import { defaultValidators, installGossip, publishMessage } from '../protocols/gossip/index.ts'
import { MAX_INLINE_PROMPT_BYTES, addressToBytes } from '../protocols/messages/index.ts'
import { MinerRegistrations, registeredHeartbeats } from '../protocols/pool/registrations.ts'
import { PoolView } from '../protocols/pool/view.ts'
import { taskText } from '../protocols/prompt/index.ts'
import { ABANDON_REASONS, ABANDON_REASON_TEXT } from '../protocols/queue/types.ts'
import { Channel } from './channel.ts'
import { TaskFailedError } from './errors.ts'
import { reportFirstToken } from './first-token.ts'
import { taskGossipHandlers } from './gossip.ts'
import { DEFAULT_MAX_TOKENS, checkParams, submittedDoc } from './params.ts'
import { awaitEligible, checkContext, poolMiners, poolModels } from './pool.ts'
import { fetchAcceptedOutput, settledResult } from './result.ts'
import { readSession } from './session.ts'
import { SubmitBatcher } from './submit-batch.ts'
import { STREAM_OPEN_TIMEOUT_MS, streamTokens } from './token-stream.ts'
import type { ClientNode, Tracked } from './tracked.ts'
import type { MinerInfo, ModelInfo, SessionInfo, SubmitParams, TaskClient, TaskHandle, TaskRecord, TaskResult, TaskStatus, TaskUpdate } from './types.ts'
import type { ChainContext, HubLog, HubWatcher } from '../contracts/context.ts'
import type { TaskParams, TaskQueued } from '../protocols/messages/index.ts'
import type { TaskInput } from '../protocols/prompt/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Hex } from 'viem'

export * from './types.ts'
export * from './errors.ts'
export { STREAM_OPEN_TIMEOUT_MS }
export { DEFAULT_SUBMIT_BATCH_MS } from './submit-batch.ts'
export type { SubmitBatcherStats } from './submit-batch.ts'
export type { ClientNode } from './tracked.ts'
export { DEFAULT_MAX_TOKENS } from './params.ts'
export { DEFAULT_ELIGIBLE_WAIT_MS } from './pool.ts'
export { readSession } from './session.ts'

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

export const DEFAULT_TASK_TIMEOUT_MS = 5 * 60_000

export class CortensorTaskClient implements TaskClient {
  readonly init: TaskClientInit
  readonly sessionId: bigint
  readonly pool: PoolView
  /** topic prefix: `/<network>` unless given */
  readonly prefix: string
  /** this client's submissions go out together: one transaction for the tasks submitted while another is mined */
  private readonly submissions: SubmitBatcher
  private readonly tracked = new Map<string, Tracked>()
  /** finished tasks, oldest first (listing takes the newest `historySize`) */
  private readonly history: QuickLRU<string, TaskRecord>
  private readonly historySize: number
  /** aborted by close(): every wait of the client ends with it */
  private readonly shutdown = new AbortController()
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
    this.historySize = init.historySize ?? 1000
    this.history = new QuickLRU({ maxSize: Math.max(1, this.historySize) })
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
      handlers: taskGossipHandlers({
        tracked: this.tracked,
        pool: this.pool,
        update: (t, status, detail) => { this.update(t, status, detail) },
        fail: (t, err) => { this.fail(t, err) }
      })
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
    this.shutdown.abort(new TaskFailedError('client-closed', 'the client was closed'))
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
    return poolModels(this.pool)
  }

  miners (): MinerInfo[] {
    return poolMiners(this.pool)
  }

  async session (id: bigint = this.sessionId): Promise<SessionInfo> {
    return readSession(this.init.chain, id)
  }

  tasks (sessionId?: bigint): TaskRecord[] {
    const all = [...this.finished(), ...[...this.tracked.values()].map(t => t.record)]
    const unique = new Map(all.map(r => [r.taskId, r]))
    return [...unique.values()].filter(r => sessionId == null || r.sessionId === sessionId.toString())
  }

  task (taskId: bigint): TaskRecord | undefined {
    const id = taskId.toString()
    return this.tracked.get(id)?.record ?? this.finished().find(r => r.taskId === id)
  }

  /** The newest `historySize` finished tasks, oldest first. */
  private finished (): TaskRecord[] {
    const all = [...this.history.entriesAscending()].map(([, r]) => r)
    return all.slice(Math.max(0, all.length - this.historySize))
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
    checkContext(this.pool, this.init.modelId, maxTokens)
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
      const waitSignal = params.signal != null ? AbortSignal.any([this.shutdown.signal, params.signal]) : this.shutdown.signal
      await awaitEligible(this.pool, { sessionId, modelId: this.init.modelId, needed: session.redundancy, slaClass: session.slaClass, waitMs: this.init.eligibleWaitMs, signal: waitSignal })
    }
    // a caller that gave up while the task waited for miners or its prompt was stored pays for nothing
    const gaveUp = (): boolean => params.signal?.aborted === true
    if (gaveUp()) {
      throw new TaskFailedError('cancelled', 'cancelled by the caller before it was submitted')
    }
    // throws ContractRuleError (InsufficientDeposit, SessionIsClosed, …) before anything reaches the mesh
    // submissions made while another of this client's is being mined share one transaction; each task has its own id and seed
    const submitted = await this.submissions.submit(sessionId, { promptDigest: bytesToHex(promptCid.multihash.digest), maxTokens, paramsDigest })
    const taskId = submitted.taskId
    const abort = new AbortController()
    const { promise: result, resolve: resolveResult, reject: rejectResult } = Promise.withResolvers<TaskResult>()
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
    if (gaveUp()) { // it aborted while the transaction was mined
      this.cancel(t)
    } else {
      params.signal?.addEventListener('abort', () => { this.cancel(t) }, { once: true })
    }

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
    // how soon each miner's first token came is reported to the oracles (client/first-token.ts)
    void streamTokens(this.init.node, t, (miner) => { this.update(t, 'generating', `streaming from ${miner}`) }, (miner, ms) => { reportFirstToken(node.libp2p.services.pubsub, this.prefix, chain.address, t, miner, ms) })
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
    this.history.set(t.record.taskId, t.record)
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
    const output = await fetchAcceptedOutput(this.init.node, this.pool, t, undefined, t.abort.signal)
    if (output == null) {
      this.fail(t, new TaskFailedError('no-accepted-output', `task ${t.record.taskId} settled without an accepted output`, t.record.taskId))
      return
    }
    const { miner: acceptedMiner, doc } = output
    // the accepted output's count (the miners agreed on it byte for byte), else the stream's
    if (Number.isInteger(doc.promptTokens) && (doc.promptTokens ?? 0) > 0) {
      t.promptTokens = doc.promptTokens
    }
    const res: TaskResult = settledResult(t, output, txHash)
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

export async function createTaskClient (init: TaskClientInit): Promise<CortensorTaskClient> {
  const client = new CortensorTaskClient(init)
  await client.start()
  return client
}
