/**
 * What a chain participant needs: a wallet on its key, the hub, the EIP-712
 * domain, one queue so its transactions never race for a nonce, and a log
 * poller that turns hub events into callbacks. Browser-safe (viem only): the
 * nodes' roles and the client SDK, in Node or in a page, share it.
 */
import { createPublicClient, createWalletClient, defineChain, http, parseEventLogs, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getBlockNumber, getChainId, getLogs } from 'viem/actions'
import { foundry } from 'viem/chains'
import { cortensorHubAbi } from './generated/cortensorHub.ts'
import { hubDomain } from './typed-data.ts'
import type { HubWalletClient } from './actions/send.ts'
import type { HubDomain } from './typed-data.ts'
import type { Address, Hex, ParseEventLogsReturnType } from 'viem'

export type HubLog = ParseEventLogsReturnType<typeof cortensorHubAbi, undefined, true>[number]

export interface ChainContext {
  wallet: HubWalletClient
  hub: Address
  domain: HubDomain
  address: Address
  /** run hub writes one at a time (one nonce sequence per key) */
  serial<T>(fn: () => Promise<T>): Promise<T>
}

export interface ChainContextInit {
  rpcUrl: string
  hub: Address
  privateKey: Hex
  /** receipt and log polling interval; default 100 ms (anvil mines on demand) */
  pollingIntervalMs?: number
}

export async function createChainContext (init: ChainContextInit): Promise<ChainContext> {
  const account = privateKeyToAccount(init.privateKey)
  const transport = http(init.rpcUrl, { retryCount: 2 })
  // the chain's own id (anvil's is foundry's 31337; an external RPC has its own), so transactions are signed for it
  const chainId = await getChainId(createPublicClient({ transport }))
  const chain = chainId === foundry.id ? foundry : defineChain({ id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [init.rpcUrl] } } })
  const wallet = createWalletClient({
    account,
    chain,
    transport,
    pollingInterval: init.pollingIntervalMs ?? 100
  }).extend(publicActions) as unknown as HubWalletClient
  let tail: Promise<unknown> = Promise.resolve()
  return {
    wallet,
    hub: init.hub,
    domain: hubDomain(chainId, init.hub),
    address: account.address,
    serial: async <T>(fn: () => Promise<T>): Promise<T> => {
      const run = tail.then(fn, fn)
      tail = run.catch(() => {})
      return run
    }
  }
}

export interface HubWatcher {
  /**
   * Every hub log from the first poll's head on and below this block has
   * been handed to `onLog` (undefined before the first poll).
   */
  readonly deliveredBefore: bigint | undefined
  stop(): void
}

/**
 * Poll the hub's logs from the current block on and hand each decoded event
 * to `onLog`, in chain order. One poller per role; errors are retried.
 */
export function watchHub (ctx: Pick<ChainContext, 'wallet' | 'hub'>, onLog: (log: HubLog) => void | Promise<void>, options: { intervalMs?: number, fromBlock?: bigint, onError?(err: Error): void } = {}): HubWatcher {
  let stopped = false
  let next: bigint | undefined = options.fromBlock
  let delivered: bigint | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const interval = options.intervalMs ?? 250
  const poll = async (): Promise<void> => {
    try {
      const head = await getBlockNumber(ctx.wallet, { cacheTime: 0 })
      next ??= head + 1n
      delivered ??= next
      if (head >= next) {
        const raw = await getLogs(ctx.wallet, { address: ctx.hub, fromBlock: next, toBlock: head })
        const logs = parseEventLogs({ abi: cortensorHubAbi, logs: raw, strict: true })
        next = head + 1n
        for (const log of logs) {
          if (stopped) {
            return
          }
          await onLog(log)
        }
        delivered = next
      }
    } catch (err: any) {
      options.onError?.(err)
    } finally {
      if (!stopped) {
        timer = setTimeout(() => { void poll() }, interval)
      }
    }
  }
  void poll()
  return {
    get deliveredBefore () { return delivered },
    stop: () => {
      stopped = true
      if (timer != null) {
        clearTimeout(timer)
      }
    }
  }
}

/** Decode `TasksSettled.settled` words: `taskId << 128 | paid`. */
export function settledTaskIds (words: readonly bigint[]): bigint[] {
  return words.map(w => w >> 128n)
}
