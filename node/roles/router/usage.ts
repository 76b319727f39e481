/**
 * Usage and spend per API key. Each settled task a key submitted adds its
 * tokens (the prompt's, as the miners counted them, and the accepted
 * output's) and what the hub paid for it: the accepted miners × the tokens
 * each is paid for (the output's tokens; one for an embedding task) × the
 * session's price per token. Tasks that fail or expire cost nothing (the hub
 * refunds their reservation) and add only to `failed`.
 *
 * A key may carry a spend limit (wei) and a token limit (keys.ts). A request
 * is admitted only while what the key has used, plus what its tasks still in
 * flight may use at most, plus this request's most (max_tokens × price ×
 * redundancy; max_tokens and an estimate of its prompt for tokens) stays
 * within the limit: a limit is never overrun, even by concurrent requests.
 * A refused request gets a 429 `insufficient_quota`, as OpenAI answers a key
 * out of credit, with `x-should-retry: false` (a retry cannot succeed).
 *
 * The ledger lives in `<data-dir>/router/usage.json` beside the key file
 * (mode 0600, replaced atomically), so it survives a router restart; an
 * in-memory key store has an in-memory ledger.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { logger } from '@libp2p/logger'
import { ApiError } from './errors.ts'
import type { KeyStore } from './keys.ts'

const log = logger('cortensor:router:usage')
const FILE_VERSION = 1

export interface KeyUsage {
  /** tasks settled */
  tasks: number
  /** tasks that ended without settling (failed, expired, cancelled) */
  failed: number
  promptTokens: number
  completionTokens: number
  /** what the hub paid the miners for this key's settled tasks (decimal wei) */
  spentWei: string
  lastUsedAtMs?: number
}

/** What a key's tasks in flight may still use at most. */
interface Held {
  wei: bigint
  tokens: number
}

/** A key's limits (keys.ts stores them on its record). */
export interface KeyLimits {
  spendLimitWei?: string
  tokenLimit?: number
}

/** The most one request may cost and use, known before it is submitted. */
export interface RequestBound {
  wei: bigint
  tokens: number
}

/** Prompt tokens when no miner has reported the real count (a stream that broke off, a request not yet run): UTF-8 bytes / 4, OpenAI's rule of thumb. */
export function estimatePromptTokens (prompt: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(prompt) / 4))
}

/** A key's spend or token limit does not leave room for a request: 429 insufficient_quota. */
export function quotaExceeded (message: string): ApiError {
  return new ApiError(429, 'insufficient_quota', message, { type: 'insufficient_quota', headers: { 'x-should-retry': 'false' } })
}

function empty (): KeyUsage {
  return { tasks: 0, failed: 0, promptTokens: 0, completionTokens: 0, spentWei: '0' }
}

export class UsageLedger {
  readonly path?: string
  private usage = new Map<string, KeyUsage>()
  private readonly held = new Map<string, Held>()
  private loaded?: Promise<void>
  private saving?: Promise<void>
  private dirty = false

  constructor (init: { path?: string } = {}) {
    this.path = init.path
  }

  /** The ledger beside a key store's file (in memory for an in-memory store). */
  static forKeys (keys: Pick<KeyStore, 'path'>): UsageLedger {
    return new UsageLedger({ path: keys.path != null ? join(dirname(keys.path), 'usage.json') : undefined })
  }

  /** Read the file once (a missing file is an empty ledger; a broken one is logged and started afresh beside it). */
  async load (): Promise<void> {
    this.loaded ??= (async () => {
      if (this.path == null) {
        return
      }
      let text: string
      try {
        text = await readFile(this.path, 'utf8')
      } catch (err: any) {
        if (err.code !== 'ENOENT') {
          log.error('cannot read %s: %s', this.path, err.message)
        }
        return
      }
      try {
        const data = JSON.parse(text)
        if (data?.version !== FILE_VERSION || data.keys == null || typeof data.keys !== 'object') {
          throw new TypeError(`expected { "version": ${FILE_VERSION}, "keys": {...} }`)
        }
        for (const [id, u] of Object.entries<any>(data.keys)) {
          this.usage.set(id, { ...empty(), ...u, spentWei: BigInt(u.spentWei ?? 0).toString() })
        }
      } catch (err: any) {
        log.error('usage file %s is malformed (%s): starting an empty ledger', this.path, err.message)
      }
    })()
    return this.loaded
  }

  /** A key's usage so far (zeroes for a key that has used nothing). */
  get (keyId: string): KeyUsage {
    return { ...(this.usage.get(keyId) ?? empty()) }
  }

  /** What the key's tasks in flight may still use at most. */
  heldBy (keyId: string): RequestBound {
    const h = this.held.get(keyId)
    return { wei: h?.wei ?? 0n, tokens: h?.tokens ?? 0 }
  }

  /**
   * Admit a request of at most `bound` against the key's limits, or throw a
   * 429 insufficient_quota; admitted, the bound is held until `release`.
   */
  admit (keyId: string, limits: KeyLimits, bound: RequestBound): () => void {
    const used = this.get(keyId)
    const held = this.heldBy(keyId)
    if (limits.spendLimitWei != null) {
      const limit = BigInt(limits.spendLimitWei)
      const after = BigInt(used.spentWei) + held.wei + bound.wei
      if (after > limit) {
        throw quotaExceeded(`this key's spend limit is ${limit} wei: it has spent ${used.spentWei} wei, its tasks in flight may spend ${held.wei} more, and this request up to ${bound.wei} (max_tokens × price per token × redundancy); lower max_tokens or raise the limit`)
      }
    }
    if (limits.tokenLimit != null) {
      const usedTokens = used.promptTokens + used.completionTokens
      if (usedTokens + held.tokens + bound.tokens > limits.tokenLimit) {
        throw quotaExceeded(`this key's token limit is ${limits.tokenLimit}: it has used ${usedTokens} tokens, its tasks in flight may use ${held.tokens} more, and this request up to ${bound.tokens}; lower max_tokens or raise the limit`)
      }
    }
    const h = this.held.get(keyId) ?? { wei: 0n, tokens: 0 }
    h.wei += bound.wei
    h.tokens += bound.tokens
    this.held.set(keyId, h)
    let released = false
    return () => {
      if (!released) {
        released = true
        h.wei -= bound.wei
        h.tokens -= bound.tokens
        if (h.wei === 0n && h.tokens === 0) {
          this.held.delete(keyId)
        }
      }
    }
  }

  /** Add a settled task (or, with `failed`, one that ended without settling) to the key's usage, and save. */
  record (keyId: string, entry: { promptTokens: number, completionTokens: number, spentWei: bigint } | 'failed'): void {
    const u = this.usage.get(keyId) ?? empty()
    if (entry === 'failed') {
      u.failed++
    } else {
      u.tasks++
      u.promptTokens += entry.promptTokens
      u.completionTokens += entry.completionTokens
      u.spentWei = (BigInt(u.spentWei) + entry.spentWei).toString()
    }
    u.lastUsedAtMs = Date.now()
    this.usage.set(keyId, u)
    this.dirty = true
    void this.flush().catch((err) => { log.error('cannot save usage: %s', err.message) })
  }

  /** Write the ledger if it changed (one write at a time; a change during a write is written after it). */
  async flush (): Promise<void> {
    if (this.path == null) {
      this.dirty = false
      return
    }
    while (this.saving != null) {
      await this.saving
    }
    if (!this.dirty) {
      return
    }
    this.dirty = false
    this.saving = this.write(this.path).finally(() => { this.saving = undefined })
    await this.saving
  }

  private async write (path: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    const text = JSON.stringify({ version: FILE_VERSION, keys: Object.fromEntries(this.usage) }, null, 2) + '\n'
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(text)
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
    await fh.close()
    await rename(tmp, path)
    await chmod(path, 0o600)
  }
}

/** What a settled task cost its key: the accepted miners × the tokens each is paid for × the price per token. */
export function settledSpendWei (result: { miners: Array<{ outcome: string }>, completionTokens: number, embeddings?: unknown }, pricePerTokenWei: bigint): bigint {
  const accepted = BigInt(result.miners.filter(m => m.outcome === 'accepted').length)
  // an embedding task pays one token per miner (node/roles/shared/embedding-task.ts)
  const tokens = BigInt(result.embeddings != null ? 1 : result.completionTokens)
  return accepted * tokens * pricePerTokenWei
}

/** `GET /api/v1/usage`: the calling key's usage, limits and what is left of them. */
export function usageReport (ledger: UsageLedger, principal: { keyId: string | null, sessionId: bigint, limits?: KeyLimits }): Record<string, unknown> {
  if (principal.keyId == null) {
    throw new ApiError(400, 'no_api_key', 'usage is kept per API key: send one as "Authorization: Bearer <key>"')
  }
  const u = ledger.get(principal.keyId)
  const held = ledger.heldBy(principal.keyId)
  const spendLimit = principal.limits?.spendLimitWei
  const tokenLimit = principal.limits?.tokenLimit
  const totalTokens = u.promptTokens + u.completionTokens
  return {
    object: 'usage',
    key_id: principal.keyId,
    session_id: principal.sessionId.toString(),
    tasks: u.tasks,
    failed: u.failed,
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: totalTokens,
    spent_wei: u.spentWei,
    last_used_at_ms: u.lastUsedAtMs ?? null,
    in_flight: { max_spend_wei: held.wei.toString(), max_tokens: held.tokens },
    limits: { spend_limit_wei: spendLimit ?? null, token_limit: tokenLimit ?? null },
    remaining: {
      spend_wei: spendLimit != null ? (BigInt(spendLimit) - BigInt(u.spentWei)).toString() : null,
      tokens: tokenLimit != null ? tokenLimit - totalTokens : null
    }
  }
}
