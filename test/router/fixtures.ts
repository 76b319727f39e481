/**
 * A test double of the client SDK's `TaskClient` for the router's tests and
 * benchmark: `ScriptedTaskClient` runs each submitted task from a script
 * (tokens with small delays, a failure before or after the first token, a
 * task that never produces anything, a submit that is refused) and records
 * every submit and cancel. Generation runs whether or not anyone reads the
 * tokens, like a real miner; the result settles after the last token.
 */
import { TaskFailedError } from '../../client/errors.ts'
import { createRouter } from '../../node/roles/router/app.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { promptText } from '../../protocols/prompt/index.ts'
import type {
  MinerInfo, MinerOutcome, ModelInfo, SessionInfo, SubmitParams, TaskClient, TaskHandle, TaskRecord, TaskResult, TaskStatus, TaskUpdate, TokenEvent
} from '../../client/types.ts'
import type { RouterOptions } from '../../node/roles/router/options.ts'
import type { PromptInput } from '../../protocols/prompt/index.ts'
import type { FastifyInstance } from 'fastify'

export const MODEL_ID = 'tiny-test-model'
/** what the scripted session charges per token (wei) */
export const PRICE_PER_TOKEN_WEI = 1000n
export const MINERS = ['0x1111111111111111111111111111111111111111', '0x2222222222222222222222222222222222222222', '0x3333333333333333333333333333333333333333']

export interface Script {
  /** default ['Hello', ',', ' world', '!'] */
  tokens?: string[]
  /** before the first token (ms); default: delayMs */
  firstTokenDelayMs?: number
  /** between tokens (ms); 0 yields without timers; default 2 */
  delayMs?: number
  /** last token → settled result (ms); default 5 */
  settleDelayMs?: number
  /** the task fails before its first token */
  failBeforeFirst?: { code: string, message: string }
  /** the task fails after this many tokens */
  failAfterTokens?: number
  failure?: { code: string, message: string }
  /** no token and no result, ever (until cancelled) */
  hang?: boolean
  /** submit() itself throws this (one of the SDK's or the hub's errors) */
  rejectSubmit?: Error
  finishReason?: TaskResult['finishReason']
  verdicts?: MinerOutcome[]
  /** each token's text is the `performance.now()` of its production and a space (delivery-latency benchmarks) */
  stamp?: boolean
}

export interface SubmitRecord {
  /** the prompt, or the plain transcript of a chat */
  prompt: string
  /** what was submitted: a prompt, or `{ messages }` */
  input: PromptInput
  params: SubmitParams
  taskId: bigint
}

const sleep = async (ms: number): Promise<void> => {
  if (ms <= 0) {
    await Promise.resolve()
    return
  }
  await new Promise(resolve => setTimeout(resolve, ms))
}

class ScriptedHandle implements TaskHandle {
  readonly taskId: bigint
  readonly sessionId: bigint
  readonly result: Promise<TaskResult>
  readonly tokens: AsyncIterable<TokenEvent>
  private readonly frames: TokenEvent[] = []
  private ended = false
  private error?: Error
  private waiters: Array<() => void> = []
  private readonly listeners = new Set<(u: TaskUpdate) => void>()
  private resolveResult!: (r: TaskResult) => void
  private rejectResult!: (err: Error) => void
  private settledFlag = false
  cancelled = false
  private readonly owner: ScriptedTaskClient
  readonly record: TaskRecord
  private readonly script: Script
  readonly params: SubmitParams

  constructor (owner: ScriptedTaskClient, record: TaskRecord, script: Script, params: SubmitParams) {
    this.owner = owner
    this.record = record
    this.script = script
    this.params = params
    this.taskId = BigInt(record.taskId)
    this.sessionId = BigInt(record.sessionId)
    this.result = new Promise<TaskResult>((resolve, reject) => {
      this.resolveResult = resolve
      this.rejectResult = reject
    })
    // callers that never await the result must not see an unhandled rejection
    this.result.catch(() => {})
    const self = this
    this.tokens = {
      [Symbol.asyncIterator]: () => self.read()
    }
    params.signal?.addEventListener('abort', () => { this.cancel() }, { once: true })
  }

  private async * read (): AsyncGenerator<TokenEvent> {
    let i = 0
    while (true) {
      if (i < this.frames.length) {
        yield this.frames[i++]
        continue
      }
      if (this.error != null) {
        throw this.error
      }
      if (this.ended || this.cancelled) {
        return
      }
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
  }

  private wake (): void {
    const w = this.waiters
    this.waiters = []
    w.forEach(f => { f() })
  }

  onUpdate (listener: (u: TaskUpdate) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  status (status: TaskStatus, detail?: string): void {
    this.record.status = status
    const u: TaskUpdate = { taskId: this.record.taskId, sessionId: this.record.sessionId, status, atMs: Date.now(), detail }
    for (const l of [...this.listeners]) {
      l(u)
    }
  }

  cancel (): void {
    if (this.cancelled) {
      return
    }
    this.cancelled = true
    this.owner.cancels.push(this.taskId)
    this.wake()
    if (!this.settledFlag) {
      this.settledFlag = true
      this.rejectResult(new TaskFailedError('cancelled', 'cancelled by the caller', String(this.taskId)))
    }
  }

  private fail (f: { code: string, message: string }): void {
    const err = new TaskFailedError(f.code, f.message)
    this.error = err
    this.record.error = f.message
    this.status('failed', f.message)
    this.wake()
    if (!this.settledFlag) {
      this.settledFlag = true
      this.rejectResult(err)
    }
  }

  async run (): Promise<void> {
    const s = this.script
    const tokens = s.tokens ?? ['Hello', ',', ' world', '!']
    const delay = s.delayMs ?? 2
    // like the SDK, submit() resolves before the task moves on
    await new Promise(resolve => setImmediate(resolve))
    this.status('queued')
    this.status('assigned')
    if (s.hang === true) {
      return
    }
    await sleep(s.firstTokenDelayMs ?? delay)
    if (this.cancelled) {
      return
    }
    if (s.failBeforeFirst != null) {
      this.fail(s.failBeforeFirst)
      return
    }
    this.status('generating')
    const firstTokenAtMs = Date.now()
    const max = this.params.maxTokens ?? 64
    let produced = 0
    for (let i = 0; i < tokens.length && produced < max; i++) {
      if (i > 0) {
        await sleep(delay)
      }
      if (this.cancelled) {
        return
      }
      if (s.failAfterTokens != null && i >= s.failAfterTokens) {
        this.fail(s.failure ?? { code: 'miner_failed', message: 'the miner stopped answering' })
        return
      }
      const text = s.stamp === true ? `${performance.now().toFixed(3)} ` : tokens[i]
      this.frames.push({ index: i, text, tokenIds: [1000 + i], miner: MINERS[0] })
      produced++
      this.wake()
    }
    this.ended = true
    this.wake()
    await sleep(s.settleDelayMs ?? 5)
    this.settle(firstTokenAtMs, produced, max)
  }

  private settle (firstTokenAtMs: number, produced: number, max: number): void {
    const s = this.script
    if (this.cancelled || this.settledFlag) {
      return
    }
    this.status('committed')
    this.status('validated')
    const verdicts = s.verdicts ?? ['accepted', 'accepted', 'accepted']
    const result: TaskResult = {
      taskId: this.record.taskId,
      sessionId: this.record.sessionId,
      modelId: MODEL_ID,
      text: this.frames.map(f => f.text).join(''),
      completionTokens: produced,
      promptTokens: Math.max(1, Math.ceil(this.record.prompt.length / 4)),
      finishReason: s.finishReason ?? (produced >= max ? 'length' : 'eos'),
      outputCid: `bafkreitest${this.record.taskId}`,
      miners: MINERS.map((address, i) => ({ address, outcome: verdicts[i] ?? 'accepted' })),
      txHash: `0x${this.record.taskId.padStart(64, 'a')}`,
      submitTxHash: `0x${this.record.taskId.padStart(64, 'b')}`,
      submittedAtMs: this.record.submittedAtMs,
      firstTokenAtMs,
      settledAtMs: Date.now()
    }
    this.record.result = result
    this.settledFlag = true
    this.status('settled')
    this.resolveResult(result)
  }
}

export interface ScriptedTaskClientInit {
  sessionId?: bigint
  /** the script of every task unless `next()` queued one */
  script?: Script
  models?: ModelInfo[]
}

export class ScriptedTaskClient implements TaskClient {
  readonly sessionId: bigint
  readonly submits: SubmitRecord[] = []
  readonly cancels: bigint[] = []
  readonly handles: ScriptedHandle[] = []
  script: Script
  modelList: ModelInfo[]
  private readonly queued: Script[] = []
  private readonly records = new Map<string, TaskRecord>()
  private nextTaskId = 1n
  closed = false

  constructor (init: ScriptedTaskClientInit = {}) {
    this.sessionId = init.sessionId ?? 1n
    this.script = init.script ?? {}
    this.modelList = init.models ?? [{ id: MODEL_ID, miners: 3 }]
  }

  /** the script of the next submitted task */
  next (script: Script): this {
    this.queued.push(script)
    return this
  }

  async submit (input: PromptInput, params: SubmitParams = {}): Promise<TaskHandle> {
    const prompt = promptText(input)
    const script = this.queued.shift() ?? this.script
    if (script.rejectSubmit != null) {
      throw script.rejectSubmit
    }
    const taskId = this.nextTaskId++
    const sessionId = params.sessionId ?? this.sessionId
    this.submits.push({ prompt, input, params, taskId })
    const record: TaskRecord = {
      taskId: taskId.toString(),
      sessionId: sessionId.toString(),
      status: 'submitted',
      prompt,
      clientReference: params.clientReference,
      miners: [...MINERS],
      submittedAtMs: Date.now()
    }
    this.records.set(record.taskId, record)
    const handle = new ScriptedHandle(this, record, script, params)
    this.handles.push(handle)
    handle.run().catch(() => {})
    return handle
  }

  models (): ModelInfo[] {
    return this.modelList
  }

  miners (): MinerInfo[] {
    return MINERS.map((address, i) => ({
      address,
      peerId: `16Uiu2HAm${'x'.repeat(40)}${i}`,
      models: [MODEL_ID],
      hardwareClass: i === 0 ? 'gpu' : 'cpu',
      level: 3 - i,
      tokensPerSec: 300 - i * 50,
      load: i * 0.25,
      reservedBySession: i === 0 ? this.sessionId.toString() : null,
      lastSeenMs: Date.now() - i * 1000
    }))
  }

  async session (id: bigint = this.sessionId): Promise<SessionInfo> {
    if (id > 100n) {
      throw new Error(`session ${id} not found`)
    }
    return {
      sessionId: id.toString(),
      owner: '0x4444444444444444444444444444444444444444',
      modelId: MODEL_ID,
      redundancy: 3,
      pricePerTokenWei: PRICE_PER_TOKEN_WEI.toString(),
      depositWei: '1000000000000000000',
      reservedWei: '0',
      spentWei: '0',
      tasks: [...this.records.values()].filter(r => r.sessionId === id.toString()).length,
      closed: false
    }
  }

  tasks (sessionId: bigint = this.sessionId): TaskRecord[] {
    return [...this.records.values()].filter(r => r.sessionId === sessionId.toString())
  }

  task (taskId: bigint): TaskRecord | undefined {
    return this.records.get(taskId.toString())
  }

  /** a task submitted by someone else on the same session (for subscription tests) */
  addForeignTask (sessionId: bigint, status: TaskStatus): TaskRecord {
    const taskId = this.nextTaskId++
    const record: TaskRecord = { taskId: taskId.toString(), sessionId: sessionId.toString(), status, prompt: 'elsewhere', miners: [], submittedAtMs: Date.now() }
    this.records.set(record.taskId, record)
    return record
  }

  async close (): Promise<void> {
    this.closed = true
  }
}

export interface TestRouter {
  app: FastifyInstance
  base: string
  port: number
  client: ScriptedTaskClient
  keys: KeyStore
  /** a valid key for the client's session */
  key: string
  close(): Promise<void>
}

/** A router on 127.0.0.1, port 0, with an in-memory key store holding one key. */
export async function startTestRouter (init: { client?: ScriptedTaskClient, options?: RouterOptions, keyLimits?: { rateLimitPerMinute?: number, maxStreams?: number } } = {}): Promise<TestRouter> {
  const client = init.client ?? new ScriptedTaskClient()
  const keys = KeyStore.memory()
  const { key } = await keys.create({ sessionId: client.sessionId, ...init.keyLimits })
  const app = createRouter({ client, keys, options: init.options })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address != null ? address.port : 0
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    port,
    client,
    keys,
    key,
    close: async () => { await app.close() }
  }
}

export async function waitUntil (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
