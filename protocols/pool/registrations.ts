/**
 * Pool membership checked against the chain. A heartbeat only claims that
 * its author is a miner; the hub says whether it is one (registered, staked,
 * not leaving, serving the model). Every node that keeps a pool view asks
 * the chain once per miner and model, keeps the answer for a while, and
 * reads it again at a bounded rate, so a flood of heartbeats from fresh keys
 * costs a bounded number of chain reads. Pure and browser-safe: the chain
 * read is injected.
 */
import { ContradictsRecordError, NotAssignableError, RegistrationUnknownError } from '../gossip/errors.ts'
import type { KindValidator } from '../gossip/validators.ts'
import type { Heartbeat } from '../messages/index.ts'

/** An eligible miner is read again after this long (an unstake or a slash below the minimum shows within it). */
export const ELIGIBLE_RECHECK_MS = 30_000
/** An ineligible or unregistered one after this long (a miner that just registered joins the pool within it). */
export const INELIGIBLE_RECHECK_MS = 5_000
/** Chain reads started per second at most; heartbeats of miners not read yet beyond it are ignored unscored. */
export const REGISTRATION_READS_PER_S = 20
/** Miners remembered (oldest answer dropped first). */
export const REGISTRATIONS_MAX = 10_000

export interface LookupCacheInit<V> {
  read(key: string): Promise<V>
  /** how long an answer is trusted before it is read again */
  ttlMs(value: V): number
  /** reads started per second at most */
  readsPerSecond: number
  maxEntries: number
  now?(): number
}

interface Entry<V> { value: V, atMs: number }

/**
 * Answers kept for a while: a fresh one is returned at once, a stale one is
 * returned at once and read again in the background, an unknown key is read
 * (one read per key at a time) while the read budget lasts. Undefined when
 * the key is unknown and it cannot be read now (budget spent, or the read
 * failed).
 */
export class LookupCache<V> {
  private readonly init: LookupCacheInit<V>
  private readonly entries = new Map<string, Entry<V>>()
  private readonly reading = new Map<string, Promise<V | undefined>>()
  private budget: number
  private budgetAtMs: number

  constructor (init: LookupCacheInit<V>) {
    this.init = init
    this.budget = init.readsPerSecond
    this.budgetAtMs = this.now()
  }

  private now (): number {
    return this.init.now?.() ?? Date.now()
  }

  /** The known answer, fresh or not, without reading. */
  peek (key: string): V | undefined {
    return this.entries.get(key)?.value
  }

  /** Forget an answer: the next `get` reads again. */
  delete (key: string): void {
    this.entries.delete(key)
  }

  /** Record an answer learnt elsewhere (a hub that refused a miner). */
  set (key: string, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, { value, atMs: this.now() })
    if (this.entries.size > this.init.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string)
    }
  }

  async get (key: string): Promise<V | undefined> {
    const known = this.entries.get(key)
    if (known != null) {
      if (this.now() - known.atMs > this.init.ttlMs(known.value)) {
        this.refresh(key)?.catch(() => {})
      }
      return known.value
    }
    return this.refresh(key)
  }

  private refresh (key: string): Promise<V | undefined> | undefined {
    const pending = this.reading.get(key)
    if (pending != null) {
      return pending
    }
    if (!this.take()) {
      return undefined
    }
    const read = this.init.read(key)
      .then((value) => { this.set(key, value); return value }, () => undefined)
      .finally(() => { this.reading.delete(key) })
    this.reading.set(key, read)
    return read
  }

  /** One read from a budget that refills at `readsPerSecond`. */
  private take (): boolean {
    const now = this.now()
    this.budget = Math.min(this.init.readsPerSecond, this.budget + (now - this.budgetAtMs) * this.init.readsPerSecond / 1000)
    this.budgetAtMs = now
    if (this.budget < 1) {
      return false
    }
    this.budget -= 1
    return true
  }
}

/** How the hub sees a miner of a model (contracts `minerStanding`). */
export type Standing = 'eligible' | 'ineligible' | 'unregistered'

export interface MinerRegistrationsInit {
  /** how the hub sees `address` as a miner of `model` now */
  standing(address: string, model: string): Promise<Standing>
  now?(): number
  readsPerSecond?: number
}

/** Which authors of heartbeats are miners on chain, per model. */
export class MinerRegistrations {
  private readonly cache: LookupCache<Standing>
  private readonly keys = new Map<string, Set<string>>()

  constructor (init: MinerRegistrationsInit) {
    this.cache = new LookupCache({
      read: async (key) => {
        const [address, model] = key.split('|')
        return init.standing(address, model)
      },
      ttlMs: (standing) => standing === 'eligible' ? ELIGIBLE_RECHECK_MS : INELIGIBLE_RECHECK_MS,
      readsPerSecond: init.readsPerSecond ?? REGISTRATION_READS_PER_S,
      maxEntries: REGISTRATIONS_MAX,
      now: init.now
    })
  }

  private key (address: string, model: string): string {
    const a = address.toLowerCase()
    const key = `${a}|${model}`
    const known = this.keys.get(a) ?? new Set()
    known.add(key)
    this.keys.set(a, known)
    if (this.keys.size > REGISTRATIONS_MAX) {
      this.keys.delete(this.keys.keys().next().value as string)
    }
    return key
  }

  /** As the chain said (lately); undefined if it could not be asked now. */
  async check (address: string, model: string): Promise<Standing | undefined> {
    return this.cache.get(this.key(address, model))
  }

  /** What this node last learnt, without asking. */
  known (address: string, model: string): Standing | undefined {
    return this.cache.peek(`${address.toLowerCase()}|${model}`)
  }

  /** The hub refused the miner for the model, or it is leaving: not assignable until a re-read says otherwise. */
  refuse (address: string, model?: string): void {
    const a = address.toLowerCase()
    for (const key of model != null ? [this.key(a, model)] : this.keys.get(a) ?? []) {
      this.cache.set(key, 'ineligible')
    }
  }

  /** Read the miner again at its next heartbeat (its registration or stake changed on chain). */
  invalidate (address: string): void {
    for (const key of this.keys.get(address.toLowerCase()) ?? []) {
      this.cache.delete(key)
    }
  }
}

/**
 * The heartbeat validator, plus: its author is an eligible miner on chain for
 * the topic's model. A heartbeat of an author the hub does not know as a
 * miner of the model contradicts the chain (ignored, its author scored down);
 * one of a registered miner that cannot be assigned now (leaving,
 * under-staked) is ignored, as is one that could not be checked now.
 */
export function registeredHeartbeats (base: KindValidator<Heartbeat>, registrations: MinerRegistrations): KindValidator<Heartbeat> {
  return async (m, ctx) => {
    await base(m, ctx)
    const model = ctx.topic.model ?? ''
    const standing = await registrations.check(ctx.fromAddress, model)
    if (standing === undefined) {
      throw new RegistrationUnknownError(ctx.fromAddress)
    }
    if (standing === 'unregistered') {
      throw new ContradictsRecordError('node', `${ctx.fromAddress} is not a miner of ${model} on chain`)
    }
    if (standing === 'ineligible') {
      throw new NotAssignableError(ctx.fromAddress)
    }
  }
}
