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
  /** Work started that waits on hub logs: poll at the busy interval from now on (while `busy()` says so). */
  wake(): void
  stop(): void
}

export interface WatchHubOptions {
  /** poll interval while busy; default 250 ms */
  intervalMs?: number
  /**
   * Whether the role waits on hub logs now (tasks in flight). While it does
   * not, the poller waits `idleIntervalMs` between polls, so an idle node
   * costs the RPC endpoint and itself a request every few seconds instead of
   * four a second; `wake()` brings the next poll forward when work starts.
   * Without it the poller is always busy.
   */
  busy?(): boolean
  /** poll interval while not busy; default IDLE_POLL_INTERVAL_MS */
  idleIntervalMs?: number
  fromBlock?: bigint
  onError?(err: Error): void
}

/** Poll interval of an idle role: Cortensor's own nodes poll the chain every 5 s. */
export const IDLE_POLL_INTERVAL_MS = 5000

/**
 * Poll the hub's logs from the current block on and hand each decoded event
 * to `onLog`, in chain order. One poller per role; errors are retried.
 */
export function watchHub (ctx: Pick<ChainContext, 'wallet' | 'hub'>, onLog: (log: HubLog) => void | Promise<void>, options: WatchHubOptions = {}): HubWatcher {
  let stopped = false
  let next: bigint | undefined = options.fromBlock
  let delivered: bigint | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let polling = false
  const interval = options.intervalMs ?? 250
  const idleInterval = Math.max(interval, options.idleIntervalMs ?? IDLE_POLL_INTERVAL_MS)
  const busy = options.busy ?? (() => true)
  /** when the pending poll runs (performance.now()) */
  let dueAt = 0
  const schedule = (ms: number): void => {
    clearTimeout(timer)
    dueAt = performance.now() + ms
    timer = setTimeout(() => { void poll() }, ms)
  }
  const poll = async (): Promise<void> => {
    polling = true
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
      polling = false
      if (!stopped) {
        schedule(busy() ? interval : idleInterval)
      }
    }
  }
  void poll()
  return {
    get deliveredBefore () { return delivered },
    wake: () => {
      // only an idle wait is cut short (a poll in progress schedules the next one itself, at the busy
      // interval once `busy()` says so), so frequent wakes never push a poll back
      if (!stopped && !polling && dueAt > performance.now() + interval) {
        schedule(interval)
      }
    },
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
