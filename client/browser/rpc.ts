/**
 * The three chain reads light verification needs, over an Ethereum JSON-RPC
 * endpoint with plain fetch (viem's public client would add a third to the
 * page bundle).
 */
import type { Address, Hex } from 'viem'

/** What verification reads of a transaction. */
export interface ChainTransaction {
  to: Address | null
  input: Hex
}

/** What verification reads of a receipt. */
export interface ChainReceipt {
  status: 'success' | 'reverted'
  blockNumber: bigint
  logs: Array<{ address: Address, topics: Hex[], data: Hex }>
}

/** The three chain reads verification needs; `undefined` for a transaction the chain does not know. */
export interface ChainReader {
  chainId(): Promise<number>
  transaction(hash: Hex): Promise<ChainTransaction | undefined>
  receipt(hash: Hex): Promise<ChainReceipt | undefined>
}

export class JsonRpcError extends Error {
  static name = 'JsonRpcError'
  readonly code?: number

  constructor (message: string, code?: number) {
    super(message)
    this.name = 'JsonRpcError'
    if (code != null) {
      this.code = code
    }
  }
}

/** A ChainReader over an Ethereum JSON-RPC endpoint with fetch (the endpoint must allow the page's origin; anvil does). */
export function jsonRpcReader (url: string, options: { timeoutMs?: number } = {}): ChainReader {
  let id = 0
  const call = async (method: string, params: unknown[]): Promise<any> => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000)
    })
    if (!res.ok) {
      throw new JsonRpcError(`${method}: the RPC answered ${res.status} ${res.statusText}`)
    }
    const body = await res.json() as { result?: unknown, error?: { message?: string, code?: number } }
    if (body.error != null) {
      throw new JsonRpcError(`${method}: ${body.error.message ?? 'error'}`, body.error.code)
    }
    return body.result
  }
  return {
    chainId: async () => Number(BigInt(await call('eth_chainId', []))),
    transaction: async (hash) => {
      const tx = await call('eth_getTransactionByHash', [hash])
      return tx == null ? undefined : { to: tx.to ?? null, input: tx.input ?? tx.data ?? '0x' }
    },
    receipt: async (hash) => {
      const r = await call('eth_getTransactionReceipt', [hash])
      return r == null
        ? undefined
        : { status: BigInt(r.status ?? '0x0') === 1n ? 'success' : 'reverted', blockNumber: BigInt(r.blockNumber), logs: (r.logs ?? []).map((l: any) => ({ address: l.address, topics: l.topics, data: l.data })) }
    }
  }
}
