/**
 * API keys of a router. A key is `csk_` + 32 random bytes (base64url); it is
 * shown once, when created, and only its SHA-256 is stored, in
 * `<data-dir>/router/keys.json` (mode 0600, directory 0700, replaced
 * atomically: written to a temporary file, flushed, renamed over).
 *
 * Why SHA-256 and not scrypt: a key carries 256 bits of randomness, so an
 * attacker holding the file cannot search the key space however fast the
 * hash is; a slow password hash protects guessable secrets only, and would
 * cost tens of milliseconds of CPU on every request. Keys are found by their
 * hash in a map, so verification never compares secrets byte by byte.
 *
 * A running router sees keys created or revoked by the CLI: it re-reads the
 * file when its modification time changes (checked at most once a second).
 */
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'

export const KEY_PREFIX = 'csk_'
const KEY_RE = /^csk_[A-Za-z0-9_-]{43}$/
const FILE_VERSION = 1

export interface ApiKeyRecord {
  /** first 12 hex digits of the hash: names the key in `list` and `revoke` */
  id: string
  /** sha256 of the whole key, hex */
  hash: string
  /** session the key charges (decimal); null: the router's own session */
  sessionId: string | null
  label?: string
  createdAtMs: number
  revokedAtMs?: number
  /** requests per minute; default: the router's */
  rateLimitPerMinute?: number
  /** concurrent streams; default: the router's */
  maxStreams?: number
  /** most this key may spend, in wei (decimal), over its life; none: no limit (usage.ts) */
  spendLimitWei?: string
  /** most tokens (prompt + completion) this key may use over its life; none: no limit */
  tokenLimit?: number
}

export interface CreateKeyOptions {
  sessionId?: bigint | string | null
  label?: string
  rateLimitPerMinute?: number
  maxStreams?: number
  spendLimitWei?: bigint | string
  tokenLimit?: number
}

/** A key's spend and token limits; null removes one. */
export interface KeyLimitsUpdate {
  spendLimitWei?: bigint | string | null
  tokenLimit?: number | null
}

/** A limit that is not a non-negative integer. Bad input: the CLI exits with code 2. */
export class InvalidKeyLimitError extends Error {
  static name = 'InvalidKeyLimitError'
  readonly exitCode = 2

  constructor (field: string, value: unknown) {
    super(`${field} must be a non-negative integer, got ${String(value)}`)
    this.name = 'InvalidKeyLimitError'
  }
}

function weiLimit (value: bigint | string): string {
  if (typeof value === 'bigint' ? value < 0n : !/^\d{1,78}$/.test(value)) {
    throw new InvalidKeyLimitError('spendLimitWei', value)
  }
  return BigInt(value).toString()
}

function tokenLimit (value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidKeyLimitError('tokenLimit', value)
  }
  return value
}

/** The key file exists but cannot be used. Bad input: the CLI exits with code 2. */
export class KeyStoreFileError extends Error {
  static name = 'KeyStoreFileError'
  readonly exitCode = 2

  constructor (path: string, reason: string) {
    super(`router key file ${path}: ${reason}`)
    this.name = 'KeyStoreFileError'
  }
}

/** No key has this id (or id prefix), or the prefix names several keys. */
export class UnknownKeyError extends Error {
  static name = 'UnknownKeyError'
  readonly exitCode = 2

  constructor (message: string) {
    super(message)
    this.name = 'UnknownKeyError'
  }
}

export function hashKey (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

export function keyFilePath (dataDir: string): string {
  return join(dataDir, 'router', 'keys.json')
}

export interface KeyStoreInit {
  /** the JSON file; undefined: keys live in memory only (tests, embedded routers) */
  path?: string
  /** how often a lookup may check the file for changes (ms); default 1000 */
  reloadIntervalMs?: number
}

export class KeyStore {
  readonly path?: string
  private readonly reloadIntervalMs: number
  private records: ApiKeyRecord[] = []
  private byHash = new Map<string, ApiKeyRecord>()
  private fileStamp = ''
  private checkedAt = 0
  private reloading?: Promise<void>

  constructor (init: KeyStoreInit = {}) {
    this.path = init.path
    this.reloadIntervalMs = init.reloadIntervalMs ?? 1000
  }

  /** The key store of a data directory (the file is created by the first `create`). */
  static async open (dataDir: string, init: Omit<KeyStoreInit, 'path'> = {}): Promise<KeyStore> {
    const store = new KeyStore({ ...init, path: keyFilePath(dataDir) })
    await store.load()
    return store
  }

  static memory (): KeyStore {
    return new KeyStore()
  }

  /** Every key, revoked ones included, oldest first. */
  list (): ApiKeyRecord[] {
    return this.records.map(r => ({ ...r }))
  }

  /** Create a key; the returned `key` is the only time the secret exists outside the caller. */
  async create (opts: CreateKeyOptions = {}): Promise<{ key: string, record: ApiKeyRecord }> {
    await this.load()
    const key = KEY_PREFIX + randomBytes(32).toString('base64url')
    const hash = hashKey(key)
    const record: ApiKeyRecord = {
      id: hash.slice(0, 12),
      hash,
      sessionId: opts.sessionId == null ? null : BigInt(opts.sessionId).toString(),
      createdAtMs: Date.now()
    }
    if (opts.label != null) {
      record.label = opts.label
    }
    if (opts.rateLimitPerMinute != null) {
      record.rateLimitPerMinute = opts.rateLimitPerMinute
    }
    if (opts.maxStreams != null) {
      record.maxStreams = opts.maxStreams
    }
    if (opts.spendLimitWei != null) {
      record.spendLimitWei = weiLimit(opts.spendLimitWei)
    }
    if (opts.tokenLimit != null) {
      record.tokenLimit = tokenLimit(opts.tokenLimit)
    }
    this.setRecords([...this.records, record])
    await this.save()
    return { key, record: { ...record } }
  }

  /** Set or remove a key's spend and token limits (by id, unique id prefix or the key itself); a running router sees them within a second. */
  async setLimits (idOrKey: string, limits: KeyLimitsUpdate): Promise<ApiKeyRecord> {
    await this.load()
    const record = this.find(idOrKey)
    if (limits.spendLimitWei === null) {
      delete record.spendLimitWei
    } else if (limits.spendLimitWei !== undefined) {
      record.spendLimitWei = weiLimit(limits.spendLimitWei)
    }
    if (limits.tokenLimit === null) {
      delete record.tokenLimit
    } else if (limits.tokenLimit !== undefined) {
      record.tokenLimit = tokenLimit(limits.tokenLimit)
    }
    this.setRecords(this.records)
    await this.save()
    return { ...record }
  }

  /** Revoke by id, unique id prefix (≥ 4 characters) or the key itself. */
  async revoke (idOrKey: string): Promise<ApiKeyRecord> {
    await this.load()
    const record = this.find(idOrKey)
    if (record.revokedAtMs == null) {
      record.revokedAtMs = Date.now()
      this.setRecords(this.records)
      await this.save()
    }
    return { ...record }
  }

  /** The record named by id, unique id prefix (≥ 4 characters) or the key itself. */
  private find (idOrKey: string): ApiKeyRecord {
    const wanted = idOrKey.trim()
    let matches: ApiKeyRecord[]
    if (KEY_RE.test(wanted)) {
      const hash = hashKey(wanted)
      matches = this.records.filter(r => r.hash === hash)
    } else if (/^[0-9a-f]{4,64}$/i.test(wanted)) {
      matches = this.records.filter(r => r.hash.startsWith(wanted.toLowerCase()))
    } else {
      throw new UnknownKeyError(`"${wanted}" is neither a key id (hex, as printed by \`router key list\`) nor a key`)
    }
    if (matches.length === 0) {
      throw new UnknownKeyError(`no key with id ${wanted}`)
    }
    if (matches.length > 1) {
      throw new UnknownKeyError(`${matches.length} keys start with ${wanted}; give more digits`)
    }
    return matches[0]
  }

  /** The live (not revoked) record of a key, or undefined. */
  async verify (key: string): Promise<ApiKeyRecord | undefined> {
    if (!KEY_RE.test(key)) {
      return undefined
    }
    await this.maybeReload()
    const record = this.byHash.get(hashKey(key))
    return record == null || record.revokedAtMs != null ? undefined : record
  }

  private setRecords (records: ApiKeyRecord[]): void {
    this.records = records
    this.byHash = new Map(records.map(r => [r.hash, r]))
  }

  private async maybeReload (): Promise<void> {
    if (this.path == null) {
      return
    }
    const now = Date.now()
    if (now - this.checkedAt < this.reloadIntervalMs) {
      return
    }
    this.checkedAt = now
    this.reloading ??= this.load().catch(() => {
      // a broken file edited by hand keeps the keys last read; the CLI reports the error
    }).finally(() => { this.reloading = undefined })
    await this.reloading
  }

  /** Read the file if it changed since the last read. */
  async load (): Promise<void> {
    if (this.path == null) {
      return
    }
    let stamp: string
    try {
      const s = await stat(this.path)
      stamp = `${s.mtimeMs}:${s.size}:${s.ino}`
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        this.setRecords([])
        this.fileStamp = ''
        return
      }
      throw new KeyStoreFileError(this.path, `cannot read (${err.code ?? err.message})`)
    }
    if (stamp === this.fileStamp) {
      return
    }
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err: any) {
      throw new KeyStoreFileError(this.path, `cannot read (${err.code ?? err.message})`)
    }
    this.setRecords(parseKeyFile(this.path, text))
    this.fileStamp = stamp
  }

  private async save (): Promise<void> {
    if (this.path == null) {
      return
    }
    const dir = join(this.path, '..')
    await mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    const text = JSON.stringify({ version: FILE_VERSION, hash: 'sha256', keys: this.records }, null, 2) + '\n'
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
    try {
      await rename(tmp, this.path)
    } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    // the umask may have narrowed the mode further, never widened it; make it exact
    await chmod(this.path, 0o600)
    const s = await stat(this.path)
    this.fileStamp = `${s.mtimeMs}:${s.size}:${s.ino}`
  }
}

function parseKeyFile (path: string, text: string): ApiKeyRecord[] {
  let data: any
  try {
    data = JSON.parse(text)
  } catch (err: any) {
    throw new KeyStoreFileError(path, `not valid JSON (${String(err.message).split('\n')[0]})`)
  }
  if (data == null || typeof data !== 'object' || !Array.isArray(data.keys)) {
    throw new KeyStoreFileError(path, 'expected { "version": 1, "keys": [...] }')
  }
  if (data.version !== FILE_VERSION) {
    throw new KeyStoreFileError(path, `unsupported version ${String(data.version)} (this router reads version ${FILE_VERSION})`)
  }
  return data.keys.map((k: any, i: number) => {
    const bad = (field: string): never => { throw new KeyStoreFileError(path, `keys[${i}].${field} is missing or malformed`) }
    if (k == null || typeof k !== 'object') {
      throw new KeyStoreFileError(path, `keys[${i}] is not an object`)
    }
    if (typeof k.hash !== 'string' || !/^[0-9a-f]{64}$/.test(k.hash)) {
      bad('hash')
    }
    if (k.sessionId !== null && (typeof k.sessionId !== 'string' || !/^\d{1,78}$/.test(k.sessionId))) {
      bad('sessionId')
    }
    if (typeof k.createdAtMs !== 'number') {
      bad('createdAtMs')
    }
    for (const f of ['revokedAtMs', 'rateLimitPerMinute', 'maxStreams']) {
      if (k[f] != null && (typeof k[f] !== 'number' || !(k[f] >= 0))) {
        bad(f)
      }
    }
    if (k.label != null && typeof k.label !== 'string') {
      bad('label')
    }
    if (k.spendLimitWei != null && (typeof k.spendLimitWei !== 'string' || !/^\d{1,78}$/.test(k.spendLimitWei))) {
      bad('spendLimitWei')
    }
    if (k.tokenLimit != null && !(Number.isSafeInteger(k.tokenLimit) && k.tokenLimit >= 0)) {
      bad('tokenLimit')
    }
    const record: ApiKeyRecord = { ...k, id: k.hash.slice(0, 12) }
    return record
  })
}
