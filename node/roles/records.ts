/**
 * The documents roles put in Helia (protocols/blocks: prompt and output
 * documents, the direct block protocol) and the records they keep in the
 * datastore.
 */
import { Key } from 'interface-datastore'
import { fromString, toString } from 'uint8arrays'
import { hashTypedData } from 'viem'
import { hubTypes } from '../../contracts/typed-data.ts'
import type { HubDomain } from '../../contracts/typed-data.ts'
import type { Datastore } from 'interface-datastore'
import type { Hex } from 'viem'

export { cidDigest, fetchFromHolders } from '../../protocols/blocks/index.ts'
export type { DirectFetcher, OutputDoc, PromptDoc } from '../../protocols/blocks/index.ts'

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
