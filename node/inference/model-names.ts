/**
 * Human names for model ids. A model's id is the sha256 of its GGUF file and
 * stays what the network, the chain and the tasks use; a name is a node's own
 * label for it (`cortensor model add llama-3-8b ./m.gguf`), kept in
 * `<data-dir>/models.json` (mode 0600, replaced atomically). The router shows
 * names beside ids (`/v1/models`) and accepts a name wherever a request
 * names its model.
 *
 * The same file records the models the node shares with the network
 * (node/models): each model id beside the CID of its UnixFS file, and the file
 * and its size and mtime when it was imported, so an unchanged file is not
 * imported again.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { modelIdOf } from './gguf/inspect.ts'

const FILE_VERSION = 1
/** names: a letter or digit, then letters, digits, `.`, `_`, `-`, `:` (what OpenAI model ids look like) */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/

export interface ModelName {
  name: string
  /** the model id: 0x + sha256 of the GGUF, hex */
  id: string
  /** the file it was computed from, when added from one */
  path?: string
  addedAtMs: number
}

/** A model this node imported into its blockstore to serve to the network. */
export interface SharedModel {
  /** the model id: 0x + sha256 of the GGUF, hex */
  id: string
  /** the CID of its UnixFS file (protocols/models): what `--model <CID>` names */
  cid: string
  path: string
  sizeBytes: number
  mtimeMs: number
  chunkBytes: number
}

/** A name that is not one, a name already taken by another id, or a broken registry file. */
export class ModelNameError extends Error {
  static name = 'ModelNameError'
  readonly exitCode = 2

  constructor (message: string) {
    super(message)
    this.name = 'ModelNameError'
  }
}

export function modelNamesPath (dataDir: string): string {
  return join(dataDir, 'models.json')
}

/** how often a running router may look at the file for names added by the CLI */
const RELOAD_INTERVAL_MS = 1000

export class ModelNames {
  readonly path?: string
  private names: ModelName[] = []
  private shared: SharedModel[] = []
  private checkedAtMs = 0

  constructor (init: { path?: string, names?: ModelName[] } = {}) {
    this.path = init.path
    this.names = init.names ?? []
  }

  /** The registry of a data directory (empty until a name is added). */
  static async open (dataDir: string): Promise<ModelNames> {
    const names = new ModelNames({ path: modelNamesPath(dataDir) })
    await names.load()
    return names
  }

  list (): ModelName[] {
    return this.names.map(n => ({ ...n }))
  }

  /** The name of a model id (the first added), or undefined. */
  nameOf (id: string): string | undefined {
    const want = normaliseId(id)
    return this.names.find(n => normaliseId(n.id) === want)?.name
  }

  /** The model id a name stands for, or undefined. */
  idOf (name: string): string | undefined {
    return this.names.find(n => n.name === name)?.id
  }

  /** The models this node shares. */
  shares (): SharedModel[] {
    return this.shared.map(m => ({ ...m }))
  }

  /** The shared model with this id or CID (the latest recorded), or undefined. */
  shareOf (idOrCid: string): SharedModel | undefined {
    const want = idOrCid.trim()
    return this.shared.findLast(m => m.cid === want || normaliseId(m.id) === normaliseId(want))
  }

  /** Record a shared model; a record of the same id and path is replaced. */
  async recordShare (entry: SharedModel): Promise<void> {
    this.shared = [...this.shared.filter(m => !(m.id === entry.id && m.path === entry.path)), { ...entry }]
    await this.save()
  }

  /** Name the model in `file` (its id is computed by hashing it); re-adding a name for the same id updates its path. */
  async add (name: string, file: string): Promise<ModelName> {
    const id = await modelIdOf(file)
    return this.set(name, id, file)
  }

  /** Name a model id given directly. */
  async set (name: string, id: string, path?: string): Promise<ModelName> {
    if (!NAME_RE.test(name)) {
      throw new ModelNameError(`"${name}" is not a model name: 1 to 64 letters, digits, ".", "_", "-" or ":", starting with a letter or digit`)
    }
    if (/^(0x)?[0-9a-fA-F]{64}$/.test(name)) {
      throw new ModelNameError(`"${name}" looks like a model id; a name must not`)
    }
    if (!/^0x[0-9a-f]{64}$/.test(id)) {
      throw new ModelNameError(`"${id}" is not a model id (0x + 64 hex digits)`)
    }
    const taken = this.names.find(n => n.name === name)
    if (taken != null && taken.id !== id) {
      throw new ModelNameError(`the name "${name}" already stands for ${taken.id}; remove it first`)
    }
    const entry: ModelName = { name, id, ...(path != null ? { path } : {}), addedAtMs: taken?.addedAtMs ?? Date.now() }
    this.names = [...this.names.filter(n => n.name !== name), entry]
    await this.save()
    return { ...entry }
  }

  /** Remove a name; false when there was none. */
  async remove (name: string): Promise<boolean> {
    const before = this.names.length
    this.names = this.names.filter(n => n.name !== name)
    if (this.names.length === before) {
      return false
    }
    await this.save()
    return true
  }

  /** Re-read the file when it was last read over a second ago (a broken file keeps the names last read). */
  async refresh (): Promise<void> {
    if (this.path == null || Date.now() - this.checkedAtMs < RELOAD_INTERVAL_MS) {
      return
    }
    this.checkedAtMs = Date.now()
    await this.load().catch(() => {})
  }

  async load (): Promise<void> {
    if (this.path == null) {
      return
    }
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        this.names = []
        this.shared = []
        return
      }
      throw new ModelNameError(`cannot read ${this.path} (${err.code ?? err.message})`)
    }
    let data: any
    try {
      data = JSON.parse(text)
    } catch {
      throw new ModelNameError(`${this.path} is not valid JSON`)
    }
    if (data?.version !== FILE_VERSION || !Array.isArray(data.models) ||
      !data.models.every((m: any) => typeof m?.name === 'string' && NAME_RE.test(m.name) && typeof m.id === 'string' && /^0x[0-9a-f]{64}$/.test(m.id))) {
      throw new ModelNameError(`${this.path}: expected { "version": ${FILE_VERSION}, "models": [{ "name", "id" }, …] }`)
    }
    const shared = data.shared ?? []
    if (!Array.isArray(shared) || !shared.every((m: any) => typeof m?.id === 'string' && /^0x[0-9a-f]{64}$/.test(m.id) && typeof m.cid === 'string' &&
      typeof m.path === 'string' && Number.isSafeInteger(m.sizeBytes) && Number.isFinite(m.mtimeMs) && Number.isSafeInteger(m.chunkBytes))) {
      throw new ModelNameError(`${this.path}: "shared" must list { "id", "cid", "path", "sizeBytes", "mtimeMs", "chunkBytes" }`)
    }
    this.names = data.models
    this.shared = shared
  }

  private async save (): Promise<void> {
    if (this.path == null) {
      return
    }
    await mkdir(join(this.path, '..'), { recursive: true, mode: 0o700 })
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(JSON.stringify({ version: FILE_VERSION, models: this.names, ...(this.shared.length > 0 ? { shared: this.shared } : {}) }, null, 2) + '\n')
      await fh.sync()
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
    await fh.close()
    await rename(tmp, this.path)
    await chmod(this.path, 0o600)
  }
}

function normaliseId (id: string): string {
  return id.trim().toLowerCase().replace(/^0x/, '')
}
