/**
 * The serving side of models from the network: a GGUF file is cut into raw
 * blocks in the node's blockstore with a manifest listing them
 * (protocols/models), and a node serving it answers manifest requests by
 * model id and provides the model's two DHT keys.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import * as dagJson from '@ipld/dag-json'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MODEL_CHUNK_BYTES, MODEL_MANIFEST_FORMAT, encodeManifest, handleManifestRequests, manifestCid, modelKey, modelProtocol } from '../../protocols/models/index.ts'
import { ModelFileError } from './errors.ts'
import type { ModelManifest } from '../../protocols/models/index.ts'
import type { AbortOptions, Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

const log = logger('cortensor:models')

/** First retry of a provide that reached no DHT peer (the routing table fills after start); doubles up to the max. */
const PROVIDE_RETRY_MIN_MS = 1000
const PROVIDE_RETRY_MAX_MS = 60_000
const PROVIDE_TIMEOUT_MS = 60_000

export interface ImportModelOptions extends AbortOptions {
  /** chunk size (default MODEL_CHUNK_BYTES; the manifest records it, so another size is another CID) */
  chunkBytes?: number
  /** bytes imported so far and the file's size */
  onProgress?(doneBytes: number, totalBytes: number): void
}

export interface ImportedModel {
  modelId: string
  cid: CID
  manifest: ModelManifest
}

/** Cut `path` into raw blocks in `blockstore` and store its manifest; the sha256 (the model id) is computed on the way. */
export async function importModel (blockstore: Pick<Blockstore, 'put'>, path: string, options: ImportModelOptions = {}): Promise<ImportedModel> {
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
    const chunks: CID[] = []
    const buf = new Uint8Array(chunkBytes)
    for (let offset = 0; offset < size; offset += chunkBytes) {
      options.signal?.throwIfAborted()
      const want = Math.min(chunkBytes, size - offset)
      let got = 0
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, offset + got)
        if (bytesRead === 0) {
          throw new ModelFileError(`${path} shrank while it was read`)
        }
        got += bytesRead
      }
      const bytes = buf.slice(0, want)
      hash.update(bytes)
      const cid = CID.createV1(raw.code, await sha256.digest(bytes))
      await blockstore.put(cid, bytes, options)
      chunks.push(cid)
      options.onProgress?.(offset + want, size)
    }
    const manifest: ModelManifest = { format: MODEL_MANIFEST_FORMAT, modelId: `0x${hash.digest('hex')}`, sizeBytes: size, chunkBytes, chunks }
    const block = encodeManifest(manifest)
    const cid = await manifestCid(block)
    await blockstore.put(cid, block, options)
    return { modelId: manifest.modelId, cid, manifest }
  } finally {
    await fh.close()
  }
}

/** Whether the manifest `cid` and every chunk it lists are in `blockstore` (an earlier import still there). */
export async function holdsModel (blockstore: Pick<Blockstore, 'has' | 'get'>, cid: CID, options: AbortOptions = {}): Promise<boolean> {
  const local = { ...options, offline: true } as AbortOptions
  if (cid.code !== dagJson.code || !(await blockstore.has(cid, local))) {
    return false
  }
  const parts: Uint8Array[] = []
  for await (const part of blockstore.get(cid, local)) {
    parts.push(part)
  }
  const manifest = dagJson.decode<ModelManifest>(parts.length === 1 ? parts[0] : Buffer.concat(parts))
  for (const chunk of manifest.chunks ?? []) {
    if (!(await blockstore.has(chunk, local))) {
      return false
    }
  }
  return true
}

export interface ModelShareInit {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'contentRouting'>
  blockstore: Pick<Blockstore, 'has' | 'get'>
  network: string
}

/** Answers manifest requests for the models added and keeps their DHT keys provided. */
export class ModelShare {
  private readonly init: ModelShareInit
  private readonly manifests = new Map<string, CID>()
  private readonly abort = new AbortController()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private started = false

  constructor (init: ModelShareInit) {
    this.init = init
  }

  /** The models served: id → manifest CID. */
  models (): Array<{ modelId: string, cid: CID }> {
    return [...this.manifests].map(([modelId, cid]) => ({ modelId, cid }))
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    await handleManifestRequests(this.init.libp2p, modelProtocol(this.init.network), async (modelId, options) => {
      const cid = this.manifests.get(modelId)
      if (cid == null) {
        return undefined
      }
      const local = { ...options, offline: true } as AbortOptions
      if (!(await this.init.blockstore.has(cid, local))) {
        return undefined
      }
      const parts: Uint8Array[] = []
      for await (const part of this.init.blockstore.get(cid, local)) {
        parts.push(part)
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts)
    })
  }

  /** Serve the model `modelId` whose manifest (already in the blockstore) is `cid`, and provide its keys. */
  add (modelId: string, cid: CID): void {
    this.manifests.set(modelId, cid)
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
