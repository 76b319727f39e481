/**
 * The fetching side of models from the network: find a peer serving the
 * model (connected peers and DHT providers of its key), take its manifest,
 * pull every chunk not already in the blockstore (direct block protocol
 * from the serving peers, bitswap as the fallback), then write the file
 * from the blockstore while hashing it, and keep it only when it hashes to
 * the model id. Chunks are kept in the blockstore as they arrive, so a
 * fetch stopped part-way goes on where it stopped.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import * as dagJson from '@ipld/dag-json'
import { logger } from '@libp2p/logger'
import { blockProtocol, requestBlock } from '../../protocols/blocks/index.ts'
import { InvalidModelManifestError, decodeManifest, manifestCid, modelKey, modelProtocol, requestManifest } from '../../protocols/models/index.ts'
import { ModelHashMismatchError, NoModelProviderError } from './errors.ts'
import type { ModelManifest, ModelRef } from '../../protocols/models/index.ts'
import type { ContentStore } from '../storage.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('cortensor:models')

/** How long to look for a serving peer before giving up (a node just started is still joining the mesh). */
export const MODEL_DISCOVERY_TIMEOUT_MS = 60_000
/** Pause between discovery rounds. */
const DISCOVERY_ROUND_MS = 1000
/** One manifest or provider query. */
const QUERY_TIMEOUT_MS = 5000
/** One chunk from one peer (1 MiB on a slow link) and from bitswap. */
const CHUNK_TIMEOUT_MS = 30_000
/** Chunks in flight at once: enough to hide a round trip per chunk, few enough not to flood one serving peer. */
export const MODEL_FETCH_PARALLEL = 4

export interface ModelFetchComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getPeers' | 'contentRouting'>
  store: Pick<ContentStore, 'has' | 'putBytes' | 'putJson' | 'getBytes' | 'localBlock'>
  network: string
}

export interface FetchModelOptions extends AbortOptions {
  /** where the file goes (default `<dir>/<sha256 hex>.gguf`) */
  dir: string
  /** peers to ask first (besides the connected ones and the DHT's providers) */
  peers?: PeerId[]
  /** default MODEL_DISCOVERY_TIMEOUT_MS */
  discoveryTimeoutMs?: number
  /** chunks in flight, default MODEL_FETCH_PARALLEL */
  parallel?: number
  /** bytes of the model held so far (kept and fetched chunks) and its size */
  onProgress?(heldBytes: number, totalBytes: number): void
  /** each chunk as it is found in the blockstore (`kept`) or fetched */
  onChunk?(index: number, how: 'kept' | 'fetched'): void
}

export interface FetchedModel {
  path: string
  modelId: string
  cid: CID
  sizeBytes: number
  chunkBytes: number
  /** chunks pulled from peers in this fetch */
  fetchedChunks: number
  /** chunks already in the blockstore (an earlier, stopped fetch) */
  keptChunks: number
}

/** Fetch the model `ref` (its id or manifest CID) from the peers that serve it into `options.dir`. */
export async function fetchModel (components: ModelFetchComponents, ref: ModelRef, options: FetchModelOptions): Promise<FetchedModel> {
  const { manifest, cid, holders } = await findManifest(components, ref, options)
  const { chunks, chunkBytes, sizeBytes } = manifest
  const sizeOf = (i: number): number => i === chunks.length - 1 ? sizeBytes - i * chunkBytes : chunkBytes
  let held = 0
  let fetched = 0
  let kept = 0
  options.onProgress?.(0, sizeBytes)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      options.signal?.throwIfAborted()
      const i = next++
      if (await components.store.has(chunks[i], options)) {
        kept++
        options.onChunk?.(i, 'kept')
      } else {
        await fetchChunk(components, holders, chunks[i], options)
        fetched++
        options.onChunk?.(i, 'fetched')
      }
      held += sizeOf(i)
      options.onProgress?.(held, sizeBytes)
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.parallel ?? MODEL_FETCH_PARALLEL, chunks.length) }, worker))
  const path = join(options.dir, `${manifest.modelId.slice(2)}.gguf`)
  await writeChecked(components, manifest, path, options)
  log('fetched %s (%c): %d chunks fetched, %d kept', manifest.modelId, cid, fetched, kept)
  return { path, modelId: manifest.modelId, cid, sizeBytes, chunkBytes, fetchedChunks: fetched, keptChunks: kept }
}

/** Ask candidates for the manifest, round after round, until one serves it or the discovery time is up. */
async function findManifest (components: ModelFetchComponents, ref: ModelRef, options: FetchModelOptions): Promise<{ manifest: ModelManifest, cid: CID, holders: PeerId[] }> {
  const { libp2p, store } = components
  if (ref.kind === 'cid') {
    const local = await store.localBlock(ref.cid, options)
    if (local != null) {
      return { manifest: decodeManifest(local), cid: ref.cid, holders: [...(options.peers ?? []), ...libp2p.getPeers()] }
    }
  }
  const key = ref.kind === 'id' ? modelKey(ref.modelId) : ref.cid
  const deadline = Date.now() + (options.discoveryTimeoutMs ?? MODEL_DISCOVERY_TIMEOUT_MS)
  const failures = new Map<string, string>()
  for (;;) {
    // the peers given and the connected ones first; the DHT's providers of the key only when none of them serves it
    const asked: PeerId[] = []
    for (const source of [async () => directPeers(libp2p, options), async () => providers(libp2p, key, options, deadline)]) {
      const candidates = (await source()).filter(p => !asked.some(a => a.equals(p)))
      asked.push(...candidates)
      for (const peer of candidates) {
        const found = await askForManifest(components, ref, peer, options).catch((err: any) => {
          options.signal?.throwIfAborted()
          failures.set(peer.toString(), err?.message ?? String(err))
          log('peer %p did not serve %s: %s', peer, describe(ref), err?.message)
          return undefined
        })
        if (found != null) {
          return { ...found, holders: [peer, ...asked.filter(p => !p.equals(peer))] }
        }
      }
    }
    if (Date.now() >= deadline) {
      const tried = [...failures].map(([p, why]) => `${p}: ${why}`).join('; ')
      throw new NoModelProviderError(`no peer served ${describe(ref)} within ${options.discoveryTimeoutMs ?? MODEL_DISCOVERY_TIMEOUT_MS} ms${tried !== '' ? ` (asked ${failures.size}: ${tried})` : ' (no peer to ask)'}`)
    }
    await sleep(Math.min(DISCOVERY_ROUND_MS, Math.max(0, deadline - Date.now())), options.signal)
  }
}

/** The manifest of `ref` from `peer`, checked, and kept in the blockstore. */
async function askForManifest (components: ModelFetchComponents, ref: ModelRef, peer: PeerId, options: FetchModelOptions): Promise<{ manifest: ModelManifest, cid: CID }> {
  const { libp2p, store, network } = components
  const signal = AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(QUERY_TIMEOUT_MS)])
  let bytes: Uint8Array
  let manifest: ModelManifest
  if (ref.kind === 'id') {
    ({ bytes, manifest } = await requestManifest(libp2p, peer, ref.modelId, modelProtocol(network), { signal }))
  } else {
    bytes = await requestBlock(libp2p, peer, ref.cid, blockProtocol(network), { signal })
    manifest = decodeManifest(bytes)
  }
  const cid = await manifestCid(bytes)
  // the block goes in as the same dag-json value; a peer sending a non-canonical encoding is not used
  if (!(await store.putJson(dagJson.decode(bytes), { provide: false, signal: options.signal })).equals(cid)) {
    throw new InvalidModelManifestError(`peer ${peer} sent a manifest that is not canonical dag-json`)
  }
  return { manifest, cid }
}

function directPeers (libp2p: ModelFetchComponents['libp2p'], options: FetchModelOptions): PeerId[] {
  const out = new Map<string, PeerId>()
  for (const p of [...(options.peers ?? []), ...libp2p.getPeers()]) {
    out.set(p.toString(), p)
  }
  return [...out.values()]
}

/** The DHT's providers of `key` (one query, bounded by the query timeout and the discovery deadline). */
async function providers (libp2p: ModelFetchComponents['libp2p'], key: CID, options: FetchModelOptions, deadline: number): Promise<PeerId[]> {
  const out = new Map<string, PeerId>()
  const signal = AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(Math.max(1, Math.min(QUERY_TIMEOUT_MS, deadline - Date.now())))])
  try {
    for await (const provider of libp2p.contentRouting.findProviders(key, { signal })) {
      out.set(provider.id.toString(), provider.id)
    }
  } catch (err: any) {
    options.signal?.throwIfAborted()
    log('finding providers of %c: %s', key, err?.message)
  }
  return [...out.values()]
}

/** One chunk: from each serving peer in turn over the direct block protocol, then bitswap; kept in the blockstore. */
async function fetchChunk (components: ModelFetchComponents, holders: PeerId[], cid: CID, options: AbortOptions): Promise<void> {
  const { libp2p, store, network } = components
  const timed = (): AbortSignal => AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(CHUNK_TIMEOUT_MS)])
  for (const peer of holders) {
    try {
      await store.putBytes(await requestBlock(libp2p, peer, cid, blockProtocol(network), { signal: timed() }), { provide: false, signal: options.signal })
      return
    } catch (err: any) {
      options.signal?.throwIfAborted()
      log('chunk %c from %p failed: %s', cid, peer, err?.message)
    }
  }
  try {
    await store.getBytes(cid, { signal: timed() })
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw new NoModelProviderError(`no peer served the chunk ${cid} (${err?.message})`)
  }
}

/** Write the chunks to `<path>.part` hashing them, then keep the file only when it hashes to the model id. */
async function writeChecked (components: ModelFetchComponents, manifest: ModelManifest, path: string, options: AbortOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const part = `${path}.part`
  const hash = createHash('sha256')
  const fh = await open(part, 'w')
  try {
    for (const chunk of manifest.chunks) {
      const bytes = await components.store.localBlock(chunk, options)
      if (bytes == null) {
        throw new NoModelProviderError(`chunk ${chunk} left the blockstore while the file was written`)
      }
      hash.update(bytes)
      await fh.write(bytes)
    }
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(part).catch(() => {})
    throw err
  }
  await fh.close()
  const actual = `0x${hash.digest('hex')}`
  if (actual !== manifest.modelId) {
    await unlink(part).catch(() => {})
    throw new ModelHashMismatchError(manifest.modelId, actual)
  }
  await rename(part, path)
}

function describe (ref: ModelRef): string {
  return ref.kind === 'id' ? `model ${ref.modelId}` : `model CID ${ref.cid}`
}

async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
