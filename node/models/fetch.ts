/**
 * The fetching side of models from the network: find a peer serving the
 * model (connected peers and DHT providers of its key), take the UnixFS
 * root of its file (from the model's record, or the CID given), pull every
 * block of the DAG not already in the blockstore, level by level (direct
 * block protocol from the serving peers, bitswap as the fallback), then
 * write the file by reading it back with the UnixFS exporter while hashing
 * it, and keep it only when it hashes to the model id. Blocks are kept in
 * the blockstore as they arrive, so a fetch stopped part-way goes on where
 * it stopped.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { logger } from '@libp2p/logger'
import * as raw from 'multiformats/codecs/raw'
import { blockProtocol, requestBlock } from '../../protocols/blocks/index.ts'
import { InvalidModelRecordError, isModelCid, modelKey, modelProtocol, requestModelRecord } from '../../protocols/models/index.ts'
import { offline, readNode } from './dag.ts'
import { ModelHashMismatchError, NoModelProviderError } from './errors.ts'
import type { ModelBlock } from './dag.ts'
import type { ModelRef } from '../../protocols/models/index.ts'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const log = logger('cortensor:models')

/** How long to look for a serving peer before giving up (a node just started is still joining the mesh). */
export const MODEL_DISCOVERY_TIMEOUT_MS = 60_000
/** Pause between discovery rounds. */
const DISCOVERY_ROUND_MS = 1000
/** One record or provider query. */
const QUERY_TIMEOUT_MS = 5000
/** One block from one peer (1 MiB on a slow link) and from bitswap. */
const BLOCK_TIMEOUT_MS = 30_000
/** Blocks in flight at once: enough to hide a round trip per block, few enough not to flood one serving peer. */
export const MODEL_FETCH_PARALLEL = 4

export interface ModelFetchComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getPeers' | 'contentRouting'>
  /** the node's blockstore (Helia's: a `get` of a block not held goes to bitswap) */
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  network: string
}

export interface FetchModelOptions extends AbortOptions {
  /** where the file goes (default `<dir>/<sha256 hex>.gguf`) */
  dir: string
  /** peers to ask first (besides the connected ones and the DHT's providers) */
  peers?: PeerId[]
  /** default MODEL_DISCOVERY_TIMEOUT_MS */
  discoveryTimeoutMs?: number
  /** blocks in flight, default MODEL_FETCH_PARALLEL */
  parallel?: number
  /** bytes of the model held so far (in kept and fetched leaves) and its size */
  onProgress?(heldBytes: number, totalBytes: number): void
  /** each block of the DAG as it is found in the blockstore (`kept`) or fetched */
  onBlock?(cid: CID, how: 'kept' | 'fetched'): void
}

export interface FetchedModel {
  path: string
  modelId: string
  /** the UnixFS file's root */
  cid: CID
  sizeBytes: number
  /** the size of the file's first chunk: the chunk size it was shared with (the whole file when it is one chunk) */
  chunkBytes: number
  /** blocks pulled from peers in this fetch (the root and inner nodes included) */
  fetchedBlocks: number
  /** blocks already in the blockstore (an earlier, stopped fetch) */
  keptBlocks: number
}

/**
 * Fetch the model `ref` (its id or UnixFS CID) from the peers that serve it
 * into `options.dir`. By id, the file must hash to it; by CID, every block is
 * checked against its CID and the id is the sha256 of what was written.
 */
export async function fetchModel (components: ModelFetchComponents, ref: ModelRef, options: FetchModelOptions): Promise<FetchedModel> {
  const { cid, record, holders, rootFetched } = await findRoot(components, ref, options)
  let fetched = 0
  let kept = 0
  const pull = async (c: CID): Promise<void> => {
    if (c === cid && rootFetched === true) {
      fetched++
      options.onBlock?.(c, 'fetched')
    } else if (await components.blockstore.has(c, offline(options))) {
      kept++
      options.onBlock?.(c, 'kept')
    } else {
      await fetchBlock(components, holders, c, options)
      fetched++
      options.onBlock?.(c, 'fetched')
    }
  }
  await pull(cid)
  const root = await readNode(components.blockstore, cid, { signal: options.signal })
  if (record != null && record.sizeBytes !== root.sizeBytes) {
    throw new InvalidModelRecordError(`the record of ${record.modelId} gives ${record.sizeBytes} bytes, its file ${cid} has ${root.sizeBytes}`)
  }
  const sizeBytes = root.sizeBytes
  const progress = { held: root.children.length === 0 ? sizeBytes : 0 }
  let chunkBytes = sizeBytes
  options.onProgress?.(0, sizeBytes)
  // level by level: inner nodes (in a file of more than 1024 chunks) give the next level, raw leaves the bytes
  let level: ModelBlock[] = root.children
  while (level.length > 0) {
    const children = await inParallel(level, options.parallel ?? MODEL_FETCH_PARALLEL, options.signal, async (block) => {
      await pull(block.cid)
      if (block.cid.code === raw.code) {
        progress.held += block.bytes
        options.onProgress?.(progress.held, sizeBytes)
        return []
      }
      return (await readNode(components.blockstore, block.cid, { signal: options.signal })).children
    })
    if (level[0].cid.code === raw.code) {
      chunkBytes = level[0].bytes
    }
    level = children.flat()
  }
  if (root.children.length === 0) {
    options.onProgress?.(progress.held, sizeBytes)
  }
  const { path, modelId } = await writeChecked(components, cid, record?.modelId, options)
  log('fetched %s (%c): %d blocks fetched, %d kept', modelId, cid, fetched, kept)
  return { path, modelId, cid, sizeBytes, chunkBytes, fetchedBlocks: fetched, keptBlocks: kept }
}

/** `task` over every item, `parallel` at a time; the results in the items' order. */
async function inParallel<T, R> (items: T[], parallel: number, signal: AbortSignal | undefined, task: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      signal?.throwIfAborted()
      const i = next++
      out[i] = await task(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker))
  return out
}

interface Root {
  cid: CID
  /** the record a serving peer gave for the model id (none when fetched by CID) */
  record?: { modelId: string, sizeBytes: number }
  holders: PeerId[]
  /** the root block was pulled while looking for a serving peer (a fetch by CID) */
  rootFetched?: boolean
}

/** Ask candidates for the model's root, round after round, until one serves it or the discovery time is up. */
async function findRoot (components: ModelFetchComponents, ref: ModelRef, options: FetchModelOptions): Promise<Root> {
  const { libp2p, blockstore } = components
  if (ref.kind === 'cid') {
    if (!isModelCid(ref.cid)) {
      throw new InvalidModelRecordError(`${ref.cid} is not the CID of a model (CIDv1, dag-pb or raw, sha256)`)
    }
    if (await blockstore.has(ref.cid, offline(options))) {
      return { cid: ref.cid, holders: directPeers(libp2p, options) }
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
        const found = await askForRoot(components, ref, peer, options).catch((err: any) => {
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

/** By id: the record of the model from `peer`. By CID: the root block from `peer`, checked and kept. */
async function askForRoot (components: ModelFetchComponents, ref: ModelRef, peer: PeerId, options: FetchModelOptions): Promise<Omit<Root, 'holders'>> {
  const { libp2p, blockstore, network } = components
  const signal = AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(QUERY_TIMEOUT_MS)])
  if (ref.kind === 'id') {
    const record = await requestModelRecord(libp2p, peer, ref.modelId, modelProtocol(network), { signal })
    return { cid: record.cid, record }
  }
  await blockstore.put(ref.cid, await requestBlock(libp2p, peer, ref.cid, blockProtocol(network), { signal }), { signal: options.signal })
  return { cid: ref.cid, rootFetched: true }
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

/** One block: from each serving peer in turn over the direct block protocol, then bitswap; kept in the blockstore. */
async function fetchBlock (components: ModelFetchComponents, holders: PeerId[], cid: CID, options: AbortOptions): Promise<void> {
  const { libp2p, blockstore, network } = components
  const timed = (): AbortSignal => AbortSignal.any([...(options.signal != null ? [options.signal] : []), AbortSignal.timeout(BLOCK_TIMEOUT_MS)])
  for (const peer of holders) {
    try {
      await blockstore.put(cid, await requestBlock(libp2p, peer, cid, blockProtocol(network), { signal: timed() }), { signal: options.signal })
      return
    } catch (err: any) {
      options.signal?.throwIfAborted()
      log('block %c from %p failed: %s', cid, peer, err?.message)
    }
  }
  try {
    // Helia's blockstore: not held, so bitswap, which checks the block against its CID and keeps it
    for await (const part of blockstore.get(cid, { signal: timed() })) {
      void part
    }
  } catch (err: any) {
    options.signal?.throwIfAborted()
    throw new NoModelProviderError(`no peer served the block ${cid} (${err?.message})`)
  }
}

/**
 * Write the file under `root` to `<dir>/<sha256>.gguf.part` with the UnixFS
 * exporter from the local blockstore, hashing it; keep it (renamed) only when
 * it hashes to `modelId` (when one is expected).
 */
async function writeChecked (components: ModelFetchComponents, root: CID, modelId: string | undefined, options: FetchModelOptions): Promise<{ path: string, modelId: string }> {
  await mkdir(options.dir, { recursive: true })
  const part = join(options.dir, `${modelId?.slice(2) ?? root.toString()}.gguf.part`)
  const hash = createHash('sha256')
  const fh = await open(part, 'w')
  try {
    for await (const bytes of unixfs({ blockstore: components.blockstore }).cat(root, offline(options))) {
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
  if (modelId != null && actual !== modelId) {
    await unlink(part).catch(() => {})
    throw new ModelHashMismatchError(modelId, actual)
  }
  const path = join(options.dir, `${actual.slice(2)}.gguf`)
  await mkdir(dirname(path), { recursive: true })
  await rename(part, path)
  return { path, modelId: actual }
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
