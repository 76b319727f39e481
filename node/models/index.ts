/**
 * Models from the network, for the node's roles and the CLI: `--model` may
 * name a model id (sha256) or a model CID instead of a file; a model the node
 * does not hold is fetched from the peers that serve it into
 * `<data-dir>/models/`. A miner shares every model it serves (imported into
 * its blockstore as a UnixFS file once per file version, recorded in
 * `<data-dir>/models.json`).
 */
import { access, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { parseModelRef } from '../../protocols/models/index.ts'
import { ModelNames } from '../inference/model-names.ts'
import { loadProgress } from '../load-progress.ts'
import { fetchModel } from './fetch.ts'
import { ModelShare, holdsModel, importModel } from './share.ts'
import type { FetchedModel, FetchModelOptions } from './fetch.ts'
import type { LoadProgressOutput } from '../load-progress.ts'
import type { CortensorNode } from '../node.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

export { fetchModel, MODEL_DISCOVERY_TIMEOUT_MS, MODEL_FETCH_PARALLEL } from './fetch.ts'
export { importModel, holdsModel, ModelShare } from './share.ts'
export { walkModel } from './dag.ts'
export { ModelFileError, ModelHashMismatchError, NoModelProviderError } from './errors.ts'
export type { FetchedModel, FetchModelOptions, ModelFetchComponents } from './fetch.ts'
export type { ImportedModel, ImportModelOptions, ModelShareInit } from './share.ts'

/** Where fetched models go. */
export function modelsDir (dataDir: string): string {
  return join(dataDir, 'models')
}

export interface ResolveModelOptions extends AbortOptions {
  say(line: string): void
  /** the fetch progress bar (a line per 10 % when not a terminal) */
  progress: LoadProgressOutput
  /** passed on to fetchModel */
  discoveryTimeoutMs?: number
}

/**
 * The file of each `--model` value: a path as it is; a model id or CID of a
 * file present (a path of that name, or one fetched or shared before) as
 * that file; any other id or CID fetched from the network.
 */
export async function resolveModelFiles (node: CortensorNode, refs: string[], options: ResolveModelOptions): Promise<string[]> {
  const out: string[] = []
  let names: ModelNames | undefined
  for (const value of refs) {
    const ref = parseModelRef(value)
    if (ref == null || await exists(resolve(value))) {
      out.push(ref == null ? value : resolve(value))
      continue
    }
    names ??= await ModelNames.open(node.config.dataDir)
    const known = names.shareOf(ref.kind === 'id' ? ref.modelId : ref.cid.toString())
    if (known != null && await unchanged(known.path, known)) {
      out.push(known.path)
      continue
    }
    const fetched = await fetchWithProgress(node, value, ref, options)
    await names.recordShare(await shareRecord(fetched.path, fetched))
    options.say(`fetched model ${fetched.modelId} (${fetched.cid}) into ${fetched.path}: ${fetched.fetchedBlocks} block${fetched.fetchedBlocks === 1 ? '' : 's'} fetched, ${fetched.keptBlocks} already held`)
    out.push(fetched.path)
  }
  return out
}

async function fetchWithProgress (node: CortensorNode, value: string, ref: NonNullable<ReturnType<typeof parseModelRef>>, options: ResolveModelOptions): Promise<FetchedModel> {
  const bar = loadProgress(`fetching model ${value.length > 20 ? `${value.slice(0, 18)}…` : value}`, options.progress)
  try {
    const fetched = await fetchModel({ libp2p: node.libp2p, blockstore: node.store.blockstore, network: node.config.network }, ref, {
      dir: modelsDir(node.config.dataDir),
      signal: options.signal,
      ...(options.discoveryTimeoutMs != null ? { discoveryTimeoutMs: options.discoveryTimeoutMs } : {}),
      onProgress: (held, total) => { bar.update(held / total) }
    } satisfies FetchModelOptions)
    bar.done()
    return fetched
  } catch (err) {
    if (options.progress.tty) {
      options.progress.write('\n')
    }
    throw err
  }
}

/**
 * Import `path` into the blockstore unless the record of an earlier import
 * still matches it (same size and mtime, every block present); returns the
 * record. `cortensor model add` and a starting miner both use it.
 */
export async function shareModelFile (names: ModelNames, blockstore: Pick<Blockstore, 'put' | 'has' | 'get'>, path: string, options: AbortOptions & { chunkBytes?: number } = {}): Promise<{ id: string, cid: CID, sizeBytes: number, imported: boolean }> {
  const file = resolve(path)
  const known = names.shares().findLast(m => m.path === file && (options.chunkBytes == null || m.chunkBytes === options.chunkBytes))
  if (known != null && await unchanged(file, known) && await holdsModel(blockstore, CID.parse(known.cid), options)) {
    return { id: known.id, cid: CID.parse(known.cid), sizeBytes: known.sizeBytes, imported: false }
  }
  const imported = await importModel(blockstore, file, options)
  await names.recordShare(await shareRecord(file, imported))
  return { id: imported.modelId, cid: imported.cid, sizeBytes: imported.sizeBytes, imported: true }
}

/** Share the model files a miner serves: import them (once) as UnixFS files, answer record requests, provide their keys. */
export async function startModelShare (node: CortensorNode, paths: string[], say: (line: string) => void, options: { chunkBytes?: number } = {}): Promise<ModelShare> {
  const names = await ModelNames.open(node.config.dataDir)
  const blockstore = node.store.blockstore
  const share = new ModelShare({ libp2p: node.libp2p, blockstore, network: node.config.network })
  await share.start()
  try {
    for (const path of paths) {
      const { id, cid, sizeBytes, imported } = await shareModelFile(names, blockstore, path, options)
      share.add(id, cid, sizeBytes)
      say(`sharing model ${id} as ${cid}${imported ? ' (imported into the blockstore)' : ''}`)
    }
  } catch (err) {
    await share.stop()
    throw err
  }
  return share
}

async function shareRecord (path: string, m: { modelId: string, cid: CID, sizeBytes: number, chunkBytes: number }): Promise<import('../inference/model-names.ts').SharedModel> {
  const s = await stat(path)
  return { id: m.modelId, cid: m.cid.toString(), path, sizeBytes: m.sizeBytes, mtimeMs: s.mtimeMs, chunkBytes: m.chunkBytes }
}

/** The file is still the one recorded (same size and mtime). */
async function unchanged (path: string, record: { sizeBytes: number, mtimeMs: number }): Promise<boolean> {
  try {
    const s = await stat(path)
    return s.size === record.sizeBytes && s.mtimeMs === record.mtimeMs
  } catch {
    return false
  }
}

async function exists (path: string): Promise<boolean> {
  return access(path).then(() => true, () => false)
}
