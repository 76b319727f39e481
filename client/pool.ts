/**
 * The client's reading of its pool view: the models and miners it lists, and
 * the wait before a submission until enough miners are free for the session
 * (else a NoEligibleMinerError that says why and when to retry).
 */
import { DEFAULT_RESERVATION_IDLE_MS } from '../protocols/pool/view.ts'
import { emptyingFilter, slaFor } from '../protocols/selection/index.ts'
import { InvalidSubmitParamsError, NoEligibleMinerError } from './errors.ts'
import { sleep } from './sleep.ts'
import type { MinerInfo, ModelInfo } from './types.ts'
import type { PoolView } from '../protocols/pool/view.ts'
import type { Sla } from '../protocols/selection/index.ts'

/** how long `submit` waits for the pool view to show enough miners free for the session (a client that just joined, a reservation that just ended) */
export const DEFAULT_ELIGIBLE_WAIT_MS = 10_000
const ELIGIBLE_POLL_MS = 200

/** The models the pool's healthy miners serve, with their miner count and the least context any of them advertises. */
export function poolModels (pool: PoolView): ModelInfo[] {
  const counts = new Map<string, { miners: number, contextTokens?: number }>()
  for (const e of pool.list()) {
    if (pool.healthy(e)) {
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

/** The pool's healthy miners as plain data. */
export function poolMiners (pool: PoolView): MinerInfo[] {
  return pool.list().filter(e => pool.healthy(e)).map(e => ({
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

/**
 * Refuse what the pool's miners cannot run before anything is paid: a
 * max_tokens that leaves no room for the prompt in the model's context
 * (every prompt is at least one token). A prompt too long for the context
 * is found by the miners, who tokenize it, and declined (`noteDecline`).
 */
export function checkContext (pool: PoolView, modelId: string, maxTokens: number): void {
  const contextTokens = poolModels(pool).find(m => m.id === modelId)?.contextTokens
  if (contextTokens != null && maxTokens >= contextTokens) {
    throw new InvalidSubmitParamsError('maxTokens', `must be less than the model's context of ${contextTokens} tokens, which holds the prompt and the output (at most ${contextTokens - 1}, got ${maxTokens})`)
  }
}

export interface AwaitEligibleOptions {
  sessionId: bigint
  modelId: string
  /** miners the task needs (the session's redundancy) */
  needed: number
  slaClass?: number
  /** default DEFAULT_ELIGIBLE_WAIT_MS */
  waitMs?: number
  /** the client's: once aborted, the wait ends at its next check */
  signal?: AbortSignal
}

/**
 * Wait (up to `waitMs`) until the pool view shows at least `needed` live
 * miners of the model free for the session, as the leader's draw needs;
 * else throw NoEligibleMinerError saying which filter emptied the pool.
 */
export async function awaitEligible (pool: PoolView, options: AwaitEligibleOptions): Promise<void> {
  const { sessionId, modelId, needed, slaClass = 1, signal } = options
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_ELIGIBLE_WAIT_MS)
  const sla = slaFor(slaClass)
  for (;;) {
    // a session whose SLA does not fall back, when no live miner meets it: nothing to wait for
    if (sla.policy === 'wait') {
      const live = pool.records(sessionId).map(r => ({ ...r, reserved: false }))
      const { filter, left } = emptyingFilter(live, { model: modelId, ...sla.filter }, needed)
      if (filter != null && filter !== 'model' && filter !== 'healthy' && filter !== 'reserved') {
        throw new NoEligibleMinerError(`session ${sessionId} asks for SLA ${sla.name} (${slaTerms(sla)}) and only ${left} live miner${left === 1 ? '' : 's'} of the model pass its ${filter} filter, ${needed} needed: the task cannot be served (open a session with another SLA class, or wait for such miners to join)`, {
          reason: 'sla-unmet', filter, needed, serving: live.filter(r => r.healthy && r.models.includes(modelId)).length, available: left, retryAfterMs: DEFAULT_ELIGIBLE_WAIT_MS
        })
      }
    }
    const e = pool.eligibility(sessionId, modelId)
    if (e.available >= needed) {
      return
    }
    if (Date.now() >= deadline || signal?.aborted === true) {
      throw noEligibleMiner(sessionId, modelId, needed, e)
    }
    // a closed client stops waiting at once (the check above then ends the wait)
    await sleep(ELIGIBLE_POLL_MS, signal).catch(() => {})
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
