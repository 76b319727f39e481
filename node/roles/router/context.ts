/**
 * What every route of one router shares: the client, the key store, limits,
 * metrics, the update hub, and the steps common to all ways of submitting a
 * task (who is asking, which session, which model, submit, cancel on
 * disconnect).
 */
import QuickLRU from 'quick-lru'
import { TaskFailedError } from '../../../client/errors.ts'
import { ModelNames } from '../../inference/model-names.ts'
import { ApiError } from './errors.ts'
import { RateLimiter, StreamSlots, rateLimited } from './limits.ts'
import { RouterMetrics } from './metrics.ts'
import { TaskUpdateHub } from './updates.ts'
import { UsageLedger, estimatePromptTokens, settledSpendWei } from './usage.ts'
import type { KeyStore } from './keys.ts'
import type { ResolvedRouterOptions, RouterOptions } from './options.ts'
import type { KeyLimits } from './usage.ts'
import type { TaskRequest } from './validate.ts'
import type { SessionInfo, TaskClient, TaskHandle, TaskInput, TaskResult } from '../../../client/types.ts'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** Who a request is from, once authenticated. */
export interface Principal {
  /** bucket for rate and stream limits: `key:<id>`, or `ip:<address>` for keyless access */
  id: string
  /** null: keyless access (`requireKey: false`) */
  keyId: string | null
  /** the session this caller's tasks are charged to */
  sessionId: bigint
  rateLimitPerMinute: number
  maxStreams: number
  /** the key's spend and token limits (usage.ts); none for keyless access */
  limits?: KeyLimits
}

const SESSION_CACHE_MS = 30_000
/** sessions whose records are kept; the least recently read are forgotten first (a router serves a few sessions, callers may name many) */
const MAX_CACHED_SESSIONS = 10_000

/** A task slot taken for one request (`RouterContext.admit`). */
export interface Admission {
  /** submit the request's task; from here the slot follows the task until it ends */
  submit(principal: Principal, signal: AbortSignal): Promise<TaskHandle>
  /** give the slot back when the request ends without submitting (does nothing after `submit`) */
  release(): void
}

export class RouterContext {
  readonly client: TaskClient
  readonly keys: KeyStore
  readonly options: ResolvedRouterOptions
  readonly metrics: RouterMetrics
  readonly limiter = new RateLimiter()
  readonly slots: StreamSlots
  readonly hub: TaskUpdateHub
  /** tokens and spend per API key, and their limits' holds */
  readonly usage: UsageLedger
  /** human names of model ids (`cortensor model add`) */
  readonly names: ModelNames
  readonly startedAtMs = Date.now()
  /** tasks submitted (or being submitted) through this router that have not ended */
  tasksInFlight = 0
  /** of those, the ones no miner generates yet */
  tasksPending = 0
  /** sessions this router submitted to (for the tasks gauge and the dashboard) */
  readonly sessions = new Set<bigint>()
  private readonly principals = new WeakMap<FastifyRequest, Principal>()
  private readonly sessionInfo = new QuickLRU<string, { atMs: number, info?: SessionInfo }>({ maxSize: MAX_CACHED_SESSIONS })
  private readonly sessionReads = new Map<string, Promise<SessionInfo | undefined>>()

  constructor (client: TaskClient, keys: KeyStore, options: ResolvedRouterOptions, registry: RouterOptions['registry'], names: ModelNames = new ModelNames()) {
    this.client = client
    this.keys = keys
    this.names = names
    this.options = options
    this.slots = new StreamSlots(options.maxStreams)
    this.hub = new TaskUpdateHub(client, options.sessionPollIntervalMs)
    this.usage = UsageLedger.forKeys(keys)
    this.sessions.add(client.sessionId)
    this.metrics = new RouterMetrics(registry, client, () => this.sessions, () => this.slots.inFlight)
  }

  close (): void {
    this.hub.close()
  }

  /** Check the bearer key (or the `api_key` query parameter where allowed) and take one request from its bucket. */
  async authenticate (req: FastifyRequest, reply: FastifyReply, allowQueryKey: boolean): Promise<Principal> {
    const key = bearerKey(req, allowQueryKey)
    let principal: Principal
    if (key == null) {
      if (this.options.requireKey) {
        throw new ApiError(401, 'missing_api_key', 'no API key: send it as "Authorization: Bearer <key>" (create one with `cortensor router key create`)')
      }
      principal = this.anonymous(req)
    } else {
      const record = await this.keys.verify(key)
      if (record == null) {
        throw new ApiError(401, 'invalid_api_key', 'the API key is not valid (unknown or revoked)')
      }
      principal = {
        id: `key:${record.id}`,
        keyId: record.id,
        sessionId: record.sessionId == null ? this.client.sessionId : BigInt(record.sessionId),
        rateLimitPerMinute: record.rateLimitPerMinute ?? this.options.rateLimitPerMinute,
        maxStreams: record.maxStreams ?? this.options.maxStreamsPerKey,
        limits: { spendLimitWei: record.spendLimitWei, tokenLimit: record.tokenLimit }
      }
    }
    this.take(principal, reply)
    this.principals.set(req, principal)
    return principal
  }

  private anonymous (req: FastifyRequest): Principal {
    return {
      id: `ip:${req.ip}`,
      keyId: null,
      sessionId: this.client.sessionId,
      rateLimitPerMinute: this.options.rateLimitPerMinute,
      maxStreams: this.options.maxStreamsPerKey
    }
  }

  /** Take one request from the caller's bucket or throw a 429 with Retry-After. */
  take (principal: Principal, reply?: FastifyReply): void {
    const r = this.limiter.take(principal.id, principal.rateLimitPerMinute)
    if (!r.ok) {
      throw rateLimited(r.retryAfterSec, principal.rateLimitPerMinute)
    }
    if (reply != null && Number.isFinite(principal.rateLimitPerMinute) && principal.rateLimitPerMinute > 0) {
      reply.header('x-ratelimit-limit-requests', String(principal.rateLimitPerMinute))
      reply.header('x-ratelimit-remaining-requests', String(r.remaining))
    }
  }

  /** Rate limit of the public routes, per client address. */
  takePublic (req: FastifyRequest): void {
    const r = this.limiter.take(`public:${req.ip}`, this.options.publicRateLimitPerMinute)
    if (!r.ok) {
      throw rateLimited(r.retryAfterSec, this.options.publicRateLimitPerMinute)
    }
  }

  principal (req: FastifyRequest): Principal {
    const p = this.principals.get(req)
    if (p == null) {
      // only reachable if a protected route was registered without the auth hook
      throw new ApiError(401, 'missing_api_key', 'no API key')
    }
    return p
  }

  /** A caller may only use and read its own session. */
  checkSession (principal: Principal, sessionId: bigint): void {
    if (sessionId !== principal.sessionId) {
      throw new ApiError(403, 'session_forbidden', `this key is for session ${principal.sessionId}, not ${sessionId}`, { param: 'sessionId' })
    }
  }

  /**
   * The session's record, cached for 30 s; undefined when the client cannot
   * tell now. One read at a time per session: requests arriving together
   * share it, and once a record is known a stale one is answered while a
   * fresh one is read (a burst never waits on the chain).
   */
  async session (sessionId: bigint): Promise<SessionInfo | undefined> {
    const key = sessionId.toString()
    const cached = this.sessionInfo.get(key)
    if (cached != null && Date.now() - cached.atMs < SESSION_CACHE_MS) {
      return cached.info
    }
    let reading = this.sessionReads.get(key)
    if (reading == null) {
      reading = this.client.session(sessionId).then(info => info, () => undefined).then((info) => {
        this.sessionInfo.set(key, { atMs: Date.now(), info })
        this.sessionReads.delete(key)
        return info
      })
      this.sessionReads.set(key, reading)
    }
    return cached?.info ?? await reading
  }

  /**
   * The model a request runs on. A requested model must be served by the
   * pool now and be the session's model; no model requested: the session's.
   */
  async resolveModel (principal: Principal, requested: string | undefined): Promise<string> {
    const session = await this.session(principal.sessionId)
    const sessionModel = session?.modelId != null && session.modelId !== '' ? session.modelId : undefined
    if (requested == null) {
      return sessionModel ?? this.client.models()[0]?.id ?? 'unknown'
    }
    // a name (`cortensor model add`) stands for its model id
    await this.names.refresh()
    requested = this.names.idOf(requested) ?? requested
    const served = this.client.models()
    const match = served.find(m => sameModel(m.id, requested))
    if (match == null) {
      const list = served.length === 0 ? 'none right now' : served.map(m => m.id).join(', ')
      throw new ApiError(404, 'model_not_found', `the model "${requested}" is not served by any miner (served: ${list})`, { param: 'model' })
    }
    if (sessionModel != null && !sameModel(sessionModel, requested)) {
      throw new ApiError(404, 'model_not_found', `this key's session ${principal.sessionId} runs the model "${sessionModel}", not "${requested}"`, { param: 'model' })
    }
    return match.id
  }

  /**
   * Submit a task for a caller. The returned signal aborts (and the handle is
   * cancelled) when the caller disconnects before `finish()` is called.
   */
  /**
   * Take a task slot for a request now, before anything is awaited, or refuse
   * it: a max_tokens the model's context cannot hold (400), or no room for
   * another task (503 with Retry-After). A burst is counted as it arrives,
   * so a refusal is answered at once rather than after the requests ahead of
   * it have read the session. The slot goes to the task at `submit`, or back
   * with `release` (routes call it when they end; it does nothing once the
   * task was submitted).
   */
  admit (treq: TaskRequest): Admission {
    this.checkContext(treq)
    if (this.tasksInFlight >= this.options.maxTasksInFlight) {
      throw new ApiError(503, 'network_busy', `the router follows its limit of ${this.options.maxTasksInFlight} tasks in flight; retry shortly`, {
        headers: { 'retry-after': '1' }
      })
    }
    if (this.tasksPending >= this.options.maxPendingTasks) {
      throw new ApiError(503, 'network_busy', `the router has ${this.tasksPending} tasks waiting for the network to start them (limit ${this.options.maxPendingTasks}); retry shortly`, {
        headers: { 'retry-after': '1' }
      })
    }
    this.tasksInFlight++
    this.tasksPending++
    let owned = true
    let pending = true
    let submitted = false
    const started = (): void => {
      if (pending) {
        pending = false
        this.tasksPending--
      }
    }
    const ended = (): void => {
      if (owned) {
        owned = false
        this.tasksInFlight--
        started()
      }
    }
    return {
      release: () => {
        if (!submitted) {
          ended()
        }
      },
      submit: async (principal, signal) => {
        // refused for the key's limits: the request ends without a task, and `release` frees its slot
        const quota = await this.holdQuota(principal, treq)
        submitted = true
        let handle: TaskHandle
        try {
          const input: TaskInput = treq.embed != null
            ? { embed: treq.embed }
            : treq.messages != null ? { messages: treq.messages, ...(treq.responseFormat != null ? { responseFormat: treq.responseFormat } : {}) } : treq.prompt
          handle = await this.client.submit(input, { ...treq.params, sessionId: principal.sessionId, signal })
        } catch (err) {
          quota?.release()
          ended()
          throw err
        }
        // pending until a miner generates it (or it ends); in flight until it ends (or its caller cancels it)
        const stopWatching = handle.onUpdate((u) => {
          if (u.status !== 'submitted' && u.status !== 'queued' && u.status !== 'assigned') {
            started()
          }
        })
        handle.result.then((result) => {
          ended()
          stopWatching()
          quota?.settled(result)
        }, () => {
          ended()
          stopWatching()
          quota?.failed()
        })
        this.sessions.add(handle.sessionId)
        if (signal.aborted) {
          handle.cancel()
        }
        this.follow(handle)
        return handle
      }
    }
  }

  /**
   * Hold the most a keyed request may cost against its key's limits (429
   * insufficient_quota when it does not fit), and account for the task when
   * it ends. Keyless requests are not accounted.
   */
  private async holdQuota (principal: Principal, treq: TaskRequest): Promise<{ release(): void, settled(r: TaskResult): void, failed(): void } | undefined> {
    const keyId = principal.keyId
    if (keyId == null) {
      return undefined
    }
    const session = await this.session(principal.sessionId)
    const price = BigInt(session?.pricePerTokenWei ?? 0)
    // the hub holds max_tokens × price × redundancy per task (one token for an embedding task)
    const paidTokens = treq.embed != null ? 1 : treq.maxTokens
    const bound = {
      wei: BigInt(paidTokens) * price * BigInt(session?.redundancy ?? 1),
      tokens: estimatePromptTokens(treq.prompt) + (treq.embed != null ? 0 : treq.maxTokens)
    }
    const release = this.usage.admit(keyId, principal.limits ?? {}, bound)
    return {
      release,
      settled: (r) => {
        release()
        this.usage.record(keyId, { promptTokens: r.promptTokens, completionTokens: r.completionTokens, spentWei: settledSpendWei(r, price) })
      },
      failed: () => {
        release()
        this.usage.record(keyId, 'failed')
      }
    }
  }

  /**
   * A max_tokens that leaves no room for the prompt in the model's context
   * (as the pool's miners advertise it) is refused before the task is paid
   * for; a prompt too long for it is found by the miners, which decline it.
   */
  private checkContext (treq: TaskRequest): void {
    const models = this.client.models()
    const model = (treq.model != null ? models.find(m => sameModel(m.id, treq.model as string)) : undefined) ?? (models.length === 1 ? models[0] : undefined)
    const contextTokens = model?.contextTokens
    if (contextTokens != null && treq.maxTokens >= contextTokens) {
      throw new ApiError(400, 'invalid_value',
        `max_tokens: must be at most ${contextTokens - 1} for the model "${model?.id}": its context of ${contextTokens} tokens holds the prompt and the output (got ${treq.maxTokens})`,
        { param: 'max_tokens' })
    }
  }

  /** Metrics and WebSocket subscribers follow every task to its end. */
  private follow (handle: TaskHandle): void {
    const untrack = this.hub.track(handle)
    handle.result.then((result) => {
      untrack()
      this.metrics.settled(result)
    }, (err) => {
      untrack()
      this.metrics.ended(err?.name === 'AbortError' || (err instanceof TaskFailedError && err.code === 'cancelled') ? 'cancelled' : 'failed')
    })
  }
}

function sameModel (a: string, b: string): boolean {
  const norm = (s: string): string => s.trim().toLowerCase().replace(/^0x/, '')
  return norm(a) === norm(b)
}

function bearerKey (req: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = req.headers.authorization
  if (typeof header === 'string' && header.trim() !== '') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header.trim())
    if (m == null) {
      throw new ApiError(401, 'invalid_authorization', 'the Authorization header must be "Bearer <key>"')
    }
    return m[1]
  }
  if (allowQuery) {
    const q = (req.query as Record<string, unknown> | undefined)?.api_key
    if (typeof q === 'string' && q !== '') {
      return q
    }
  }
  return undefined
}

/** Abort a controller when the caller's connection closes before the response has been sent in full. */
export function abortOnDisconnect (reply: FastifyReply): { signal: AbortSignal, dispose(): void } {
  const ac = new AbortController()
  const res = reply.raw
  const onClose = (): void => {
    if (!res.writableFinished) {
      ac.abort()
    }
  }
  res.on('close', onClose)
  return { signal: ac.signal, dispose: () => { res.off('close', onClose) } }
}
