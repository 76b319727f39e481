/**
 * The serving side of models from the network: a GGUF file is imported into
 * the node's blockstore as a UnixFS file (protocols/models), and a node
 * serving it answers record requests by model id and provides the model's
 * two DHT keys.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { unixfs } from '@helia/unixfs'
import { logger } from '@libp2p/logger'
import { MODEL_CHUNK_BYTES, handleModelRecordRequests, isModelCid, modelImportOptions, modelKey, modelProtocol } from '../../protocols/models/index.ts'
import { walkModel } from './dag.ts'
import { ModelFileError } from './errors.ts'
import type { ModelRecord } from '../../protocols/models/index.ts'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('cortensor:models')

/** First retry of a provide that reached no DHT peer (the routing table fills after start); doubles up to the max. */
const PROVIDE_RETRY_MIN_MS = 1000
const PROVIDE_RETRY_MAX_MS = 60_000
const PROVIDE_TIMEOUT_MS = 60_000

export interface ImportModelOptions extends AbortOptions {
  /** chunk size (default MODEL_CHUNK_BYTES; another size is another CID) */
  chunkBytes?: number
  /** bytes imported so far and the file's size */
  onProgress?(doneBytes: number, totalBytes: number): void
}

export interface ImportedModel {
  modelId: string
  /** the UnixFS file's root */
  cid: CID
  sizeBytes: number
  chunkBytes: number
}

/** Import `path` into `blockstore` as a UnixFS file; the sha256 (the model id) is computed on the way. */
export async function importModel (blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>, path: string, options: ImportModelOptions = {}): Promise<ImportedModel> {
  const chunkBytes = options.chunkBytes ?? MODEL_CHUNK_BYTES
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err: any) {
    throw new ModelFileError(`cannot read ${path} (${err.code ?? err.message})`)
  }
  try {
    const { size } = await fh.stat()
    if (size === 0) {
      throw new ModelFileError(`${path} is empty`)
    }
    const hash = createHash('sha256')
    const file = fh
    // the file in chunk-sized reads, hashed as the importer takes them
    async function * bytes (): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < size; offset += chunkBytes) {
        options.signal?.throwIfAborted()
        const buf = new Uint8Array(Math.min(chunkBytes, size - offset))
        let got = 0
        while (got < buf.byteLength) {
          const { bytesRead } = await file.read(buf, got, buf.byteLength - got, offset + got)
          if (bytesRead === 0) {
            throw new ModelFileError(`${path} shrank while it was read`)
          }
          got += bytesRead
        }
        hash.update(buf)
        yield buf
        options.onProgress?.(offset + buf.byteLength, size)
      }
    }
    const cid = await unixfs({ blockstore }).addByteStream(bytes(), { ...modelImportOptions(chunkBytes), signal: options.signal })
    return { modelId: `0x${hash.digest('hex')}`, cid, sizeBytes: size, chunkBytes }
  } finally {
    await fh.close()
  }
}

/** Whether every block of the model `cid` is in `blockstore` (an earlier import still there). */
export async function holdsModel (blockstore: Pick<Blockstore, 'has' | 'get'>, cid: CID, options: AbortOptions = {}): Promise<boolean> {
  return isModelCid(cid) && walkModel(blockstore, cid, () => {}, options)
}

export interface ModelShareInit {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'contentRouting'>
  blockstore: Pick<Blockstore, 'has'>
  network: string
}

/** Answers record requests for the models added and keeps their DHT keys provided. */
export class ModelShare {
  private readonly init: ModelShareInit
  private readonly records = new Map<string, ModelRecord>()
  private readonly abort = new AbortController()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private started = false

  constructor (init: ModelShareInit) {
    this.init = init
  }

  /** The models served: id → UnixFS root CID. */
  models (): Array<{ modelId: string, cid: CID }> {
    return [...this.records.values()].map(({ modelId, cid }) => ({ modelId, cid }))
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    await handleModelRecordRequests(this.init.libp2p, modelProtocol(this.init.network), async (modelId, options) => {
      const record = this.records.get(modelId)
      if (record == null || !(await this.init.blockstore.has(record.cid, { ...options, offline: true } as AbortOptions))) {
        return undefined
      }
      return record
    })
  }

  /** Serve the model `modelId` whose UnixFS file (already in the blockstore) is `cid`, and provide its keys. */
  add (modelId: string, cid: CID, sizeBytes: number): void {
    this.records.set(modelId, { modelId, cid, sizeBytes })
    this.provide([cid, modelKey(modelId)], PROVIDE_RETRY_MIN_MS)
  }

  async stop (): Promise<void> {
    this.abort.abort()
    for (const t of this.timers) {
      clearTimeout(t)
    }
    this.timers.clear()
    if (this.started) {
      this.started = false
      await this.init.libp2p.unhandle(modelProtocol(this.init.network)).catch(() => {})
    }
  }

  /** Provide each key; a key no DHT peer took is tried again later (kad-dht reprovides the rest on its own). */
  private provide (keys: CID[], retryMs: number): void {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)])
    void Promise.all(keys.map(async key => this.init.libp2p.contentRouting.provide(key, { signal }).then(() => undefined, (err: any) => {
      log('providing %c failed: %s', key, err?.message)
      return key
    }))).then((results) => {
      const failed = results.filter((k): k is CID => k != null)
      if (failed.length === 0 || this.abort.signal.aborted) {
        return
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.provide(failed, Math.min(2 * retryMs, PROVIDE_RETRY_MAX_MS))
      }, retryMs)
      timer.unref?.()
      this.timers.add(timer)
    })
  }
}
