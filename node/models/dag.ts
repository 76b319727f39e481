/**
 * The blocks of a model's UnixFS DAG, read with the UnixFS exporter from
 * the local blockstore: a dag-pb node's children (with the file bytes under
 * each, from its UnixFS `blockSizes`), and a walk over every block.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import * as raw from 'multiformats/codecs/raw'
import { InvalidModelRecordError } from '../../protocols/models/index.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/** A block of a model's DAG and the bytes of the file under it. */
export interface ModelBlock {
  cid: CID
  bytes: number
}

/** The offline flag Helia's blockstore honours: read the local store only, never bitswap. */
export function offline (options: AbortOptions): AbortOptions {
  return { signal: options.signal, offline: true } as AbortOptions
}

/** The file's size and the children of the node `cid` (none for a raw leaf); the block must be held. */
export async function readNode (blockstore: Pick<Blockstore, 'get'>, cid: CID, options: AbortOptions = {}): Promise<{ sizeBytes: number, children: ModelBlock[] }> {
  const entry = await exporter(cid, blockstore, offline(options))
  if (entry.type === 'raw') {
    return { sizeBytes: Number(entry.size), children: [] }
  }
  if (entry.type !== 'file') {
    throw new InvalidModelRecordError(`${cid} is a UnixFS ${entry.type}, not a file`)
  }
  const sizes = entry.unixfs.blockSizes
  if (sizes.length !== entry.node.Links.length) {
    throw new InvalidModelRecordError(`${cid} lists ${entry.node.Links.length} links but ${sizes.length} block sizes`)
  }
  return { sizeBytes: Number(entry.size), children: entry.node.Links.map((l, i) => ({ cid: l.Hash, bytes: Number(sizes[i]) })) }
}

/** Every block of the DAG under `cid`, level by level; stops (returning false) at the first one not held. */
export async function walkModel (blockstore: Pick<Blockstore, 'get' | 'has'>, cid: CID, visit: (cid: CID) => void, options: AbortOptions = {}): Promise<boolean> {
  let level: CID[] = [cid]
  while (level.length > 0) {
    const next: CID[] = []
    for (const c of level) {
      options.signal?.throwIfAborted()
      if (!(await blockstore.has(c, offline(options)))) {
        return false
      }
      visit(c)
      if (c.code !== raw.code) {
        next.push(...(await readNode(blockstore, c, options)).children.map(b => b.cid))
      }
    }
    level = next
  }
  return true
}
