/**
 * The documents roles put in Helia (protocols/blocks: prompt and output
 * documents, the direct block protocol) and the records they keep in the
 * datastore.
 */
import * as dagJson from '@ipld/dag-json'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { hashTypedData } from 'viem'
import { hubTypes } from '../../../contracts/typed-data.ts'
import { fetchFromHolders } from '../../../protocols/blocks/index.ts'
import { checkInlinePrompt } from '../../../protocols/messages/checks.ts'
import { parseTaskDoc, taskDoc } from '../../../protocols/prompt/index.ts'
import type { HubDomain } from '../../../contracts/typed-data.ts'
import type { DirectFetcher, PromptDoc } from '../../../protocols/blocks/index.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { EmbedInput, TaskInput } from '../../../protocols/prompt/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Hex } from 'viem'

export { cidDigest, fetchFromHolders } from '../../../protocols/blocks/index.ts'
export type { DirectFetcher, OutputDoc, PromptDoc } from '../../../protocols/blocks/index.ts'

/**
 * The prompt a task announcement carries inline, checked against its CID
 * (undefined when the announcement has none or it does not match): the
 * holder of the task's record need not fetch it from the submitter.
 */
export function inlinePrompt (m: Pick<TaskQueued, 'promptCid' | 'promptBlock'>): PromptDoc | EmbedInput | undefined {
  if (m.promptBlock == null || m.promptBlock.byteLength === 0) {
    return undefined
  }
  try {
    checkInlinePrompt(CID.decode(m.promptCid), m.promptBlock)
    return taskDoc(parseTaskDoc(dagJson.decode<unknown>(m.promptBlock)))
  } catch {
    return undefined
  }
}

/**
 * The input of a task (a prompt, chat messages, or texts to embed): inline
 * in its announcement, else fetched from its holders (the submitter). A
 * document of none of these shapes is an InvalidPromptError.
 */
export async function taskPrompt (libp2p: any, store: DirectFetcher & { getJson<T>(cid: CID, options?: { signal?: AbortSignal }): Promise<T> }, network: string, m: Pick<TaskQueued, 'promptCid' | 'promptBlock'>, holders: Array<PeerId | undefined>, signal: AbortSignal): Promise<TaskInput> {
  const inline = inlinePrompt(m)
  if (inline != null) {
    return parseTaskDoc(inline)
  }
  const cid = CID.decode(m.promptCid)
  await fetchFromHolders(libp2p, store, network, holders, cid, signal)
  return parseTaskDoc(await store.getJson<unknown>(cid, { signal }))
}

/** The EIP-712 hash a precommit signs and a reveal must hash back to. */
export function precommitHash (domain: HubDomain, taskId: bigint, outputDigest: Hex, salt: Hex): Hex {
  return hashTypedData({ domain, types: hubTypes, primaryType: 'Precommit', message: { taskId, outputDigest, salt } })
}

/** What `chainNamespace` reads: block 0 of the chain. */
export interface GenesisReader {
  getBlock(args: { blockNumber: bigint }): Promise<{ hash: Hex | null }>
}

/**
 * The chain a node's task records belong to: chain id, hub address and the
 * hash of block 0. Task ids restart at 1 on a new chain, and a fresh anvil
 * redeploys the hub at the same address (same deployer, same nonce), so only
 * the genesis hash (anvil stamps its genesis block with the start time) tells
 * a restarted local chain from the one the records came from. Records of
 * another chain are left where they are and never loaded.
 */
export async function chainNamespace (domain: Pick<HubDomain, 'chainId' | 'verifyingContract'>, genesis?: GenesisReader): Promise<string> {
  const hash = genesis != null ? (await genesis.getBlock({ blockNumber: 0n })).hash : null
  return `${domain.chainId}-${domain.verifyingContract.toLowerCase()}${hash != null ? `-${hash.slice(2, 18)}` : ''}`
}

/**
 * JSON records under one datastore prefix (`/cortensor/<role>/tasks/<id>`),
 * or, once `useChain` named the chain, `/cortensor/<role>/tasks/<chain>/<id>`.
 */
export class RecordStore<T> {
  private readonly ds: Datastore
  private prefix: string
  private readonly base: string

  constructor (ds: Datastore, prefix: string) {
    this.ds = ds
    this.prefix = prefix
    this.base = prefix
  }

  /** Keep and load only the records of this chain (`chainNamespace`); call before anything is read or written. */
  useChain (namespace: string): void {
    this.prefix = `${this.base}/${namespace}`
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

  /**
   * Delete the records of task ids past `taskCount` (the chain's): a chain
   * that lost its last blocks (a local chain killed between two state
   * writes) numbers those tasks again, and must not meet their old records.
   * The ids dropped.
   */
  async dropBeyond (taskCount: bigint): Promise<string[]> {
    const dropped: string[] = []
    for await (const { key } of this.ds.query({ prefix: this.prefix })) {
      const id = key.baseNamespace()
      if (/^\d+$/.test(id) && BigInt(id) > taskCount) {
        await this.ds.delete(key)
        dropped.push(id)
      }
    }
    return dropped
  }

  async * all (): AsyncGenerator<{ id: string, value: T }> {
    for await (const { key, value } of this.ds.query({ prefix: this.prefix })) {
      yield { id: key.baseNamespace(), value: JSON.parse(toString(value)) as T }
    }
  }
}
