/**
 * The documents roles put in Helia and the records they keep in the
 * datastore. Prompt and output documents are dag-json, so two honest miners
 * that generate the same tokens store byte-identical outputs under one CID:
 * the redundancy check is a CID comparison, and the on-chain commitment is
 * the CID's sha256 digest.
 */
import * as dagJson from '@ipld/dag-json'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { bytesToHex, hashTypedData } from 'viem'
import { hubTypes } from '../../contracts/index.ts'
import { checkInlinePrompt } from '../../protocols/messages/checks.ts'
import { blockProtocol } from '../storage.ts'
import type { HubDomain } from '../../contracts/index.ts'
import type { TaskQueued } from '../../protocols/messages/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Hex } from 'viem'

/** What the client stores and the task announcement points at. */
export interface PromptDoc {
  prompt: string
}

/** What a miner stores as its output; no timing or identity, so honest outputs are identical. */
export interface OutputDoc {
  taskId: string
  modelId: string
  text: string
  tokens: number[]
  finishReason: 'length' | 'eos' | 'stop'
}

/**
 * The prompt a task announcement carries inline, checked against its CID
 * (undefined when the announcement has none or it does not match): the
 * holder of the task's record need not fetch it from the submitter.
 */
export function inlinePrompt (m: Pick<TaskQueued, 'promptCid' | 'promptBlock'>): PromptDoc | undefined {
  if (m.promptBlock == null || m.promptBlock.byteLength === 0) {
    return undefined
  }
  try {
    checkInlinePrompt(CID.decode(m.promptCid), m.promptBlock)
    const doc = dagJson.decode<PromptDoc>(m.promptBlock)
    return typeof doc?.prompt === 'string' ? doc : undefined
  } catch {
    return undefined
  }
}

/** The prompt of a task: inline in its announcement, else fetched from its holders (the submitter). */
export async function taskPrompt (libp2p: any, store: DirectFetcher & { getJson<T>(cid: CID, options?: { signal?: AbortSignal }): Promise<T> }, network: string, m: Pick<TaskQueued, 'promptCid' | 'promptBlock'>, holders: Array<PeerId | undefined>, signal: AbortSignal): Promise<string> {
  const inline = inlinePrompt(m)
  if (inline != null) {
    return inline.prompt
  }
  const cid = CID.decode(m.promptCid)
  await fetchFromHolders(libp2p, store, network, holders, cid, signal)
  return (await store.getJson<PromptDoc>(cid, { signal })).prompt
}

/** The bytes32 a commitment and the chain use for a CID: its sha256 multihash digest. */
export function cidDigest (cid: CID): Hex {
  return bytesToHex(cid.multihash.digest)
}

/** The EIP-712 hash a precommit signs and a reveal must hash back to. */
export function precommitHash (domain: HubDomain, taskId: bigint, outputDigest: Hex, salt: Hex): Hex {
  return hashTypedData({ domain, types: hubTypes, primaryType: 'Precommit', message: { taskId, outputDigest, salt } })
}

/** JSON records under one datastore prefix (`/cortensor/<role>/tasks/<id>`). */
export class RecordStore<T> {
  private readonly ds: Datastore
  private readonly prefix: string

  constructor (ds: Datastore, prefix: string) {
    this.ds = ds
    this.prefix = prefix
  }

  private key (id: string): Key {
    return new Key(`${this.prefix}/${id}`)
  }

  async put (id: string, value: T): Promise<void> {
    await this.ds.put(this.key(id), fromString(JSON.stringify(value, (_k, v) => typeof v === 'bigint' ? v.toString() : v)))
  }

  async delete (id: string): Promise<void> {
    await this.ds.delete(this.key(id))
  }

  async * all (): AsyncGenerator<{ id: string, value: T }> {
    for await (const { key, value } of this.ds.query({ prefix: this.prefix })) {
      yield { id: key.baseNamespace(), value: JSON.parse(toString(value)) as T }
    }
  }
}

/** Something that can pull a block from a peer known to hold it (ContentStore.fetchFrom). */
export interface DirectFetcher {
  fetchFrom?(libp2p: any, peer: PeerId | undefined, cid: CID, protocol: string, options?: { signal?: AbortSignal }): Promise<void>
}

/**
 * Get a block from the peers known to hold it (the author of a document is
 * the surest holder) before Helia's bitswap takes over: bitswap alone
 * stalled when five miners wanted the same prompt at once.
 */
export async function fetchFromHolders (libp2p: any, store: DirectFetcher, network: string, holders: Array<PeerId | undefined>, cid: CID, signal?: AbortSignal): Promise<void> {
  if (store.fetchFrom == null) {
    return
  }
  for (const peer of holders) {
    if (peer != null) {
      await store.fetchFrom(libp2p, peer, cid, blockProtocol(network), { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(5000)]) })
    }
  }
}
