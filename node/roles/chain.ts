/**
 * What a role needs from the chain: a wallet on the node key, the hub, the
 * EIP-712 domain, one queue so a node's transactions never race for a nonce,
 * and a log poller that turns hub events into callbacks.
 */
import { bytesToHex, createPublicClient, createWalletClient, defineChain, http, numberToBytes, parseEventLogs, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getBlockNumber, getChainId, getContractEvents, getLogs } from 'viem/actions'
import { foundry } from 'viem/chains'
import { cortensorHubAbi, hubDomain } from '../../contracts/index.ts'
import type { HubDomain, HubWalletClient } from '../../contracts/index.ts'
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

/** What the hub's TaskSubmitted log says about a task. */
export interface SubmittedTask {
  sessionId: bigint
  maxTokens: number
  /** the selection seed the chain chose (prevrandao of the submit block mixed with the task id), as bytes32 */
  seed: Hex
  /** the submit block: every later event of the task is at or after it */
  blockNumber: bigint
}

/** Submitted tasks kept for lookup; announcements follow submission within seconds. */
const SUBMITTED_INDEX_SIZE = 10_000

type TaskSubmittedLog = Extract<HubLog, { eventName: 'TaskSubmitted' }>

/**
 * TaskSubmitted logs by task id, fed by the role's log poller (`onLog`).
 * A task the poller has not delivered yet is read from the chain from the
 * poller's position on, so a lookup costs nothing or one short log query,
 * however long the chain; only a task submitted before the poller started is
 * searched from block 0.
 */
export class SubmittedIndex {
  private readonly ctx: Pick<ChainContext, 'wallet' | 'hub'>
  private readonly tasks = new Map<bigint, SubmittedTask>()
  private watcher?: Pick<HubWatcher, 'deliveredBefore'>

  constructor (ctx: Pick<ChainContext, 'wallet' | 'hub'>) {
    this.ctx = ctx
  }

  /** the poller whose position bounds the chain queries */
  follow (watcher: Pick<HubWatcher, 'deliveredBefore'>): void {
    this.watcher = watcher
  }

  onLog (log: HubLog): void {
    if (log.eventName === 'TaskSubmitted') {
      this.remember(log.args.taskId, submittedOf(log))
    }
  }

  /**
   * A submission since the poller started: from the index, else one log
   * query from the poller's position on. Undefined if neither has it (the
   * task predates the poller, or is not on chain).
   */
  async recent (taskId: bigint): Promise<SubmittedTask | undefined> {
    const known = this.tasks.get(taskId)
    if (known != null) {
      return known
    }
    // logs below the poller's position were delivered (and indexed) unless they predate the poller
    const from = this.watcher?.deliveredBefore
    const found = await this.query(taskId, from ?? 0n) ?? this.tasks.get(taskId)
    if (found != null) {
      this.remember(taskId, found)
    }
    return found
  }

  /** The task's submission, searched from block 0 if it predates the poller; throws if the chain has none. */
  async lookup (taskId: bigint): Promise<SubmittedTask> {
    const found = await this.recent(taskId) ?? (this.watcher?.deliveredBefore != null ? await this.query(taskId, 0n) : undefined)
    if (found == null) {
      throw new Error(`task ${taskId}: no TaskSubmitted event on chain`)
    }
    return found
  }

  /** Forget a task once its submission is recorded elsewhere. */
  delete (taskId: bigint): void {
    this.tasks.delete(taskId)
  }

  private remember (taskId: bigint, task: SubmittedTask): void {
    this.tasks.set(taskId, task)
    if (this.tasks.size > SUBMITTED_INDEX_SIZE) {
      const oldest = this.tasks.keys().next().value
      if (oldest != null) {
        this.tasks.delete(oldest)
      }
    }
  }

  private async query (taskId: bigint, fromBlock: bigint): Promise<SubmittedTask | undefined> {
    const logs = await getContractEvents(this.ctx.wallet, { address: this.ctx.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', args: { taskId }, fromBlock, strict: true })
    return logs.length === 0 ? undefined : submittedOf(logs[0])
  }
}

function submittedOf (log: Pick<TaskSubmittedLog, 'args' | 'blockNumber'>): SubmittedTask {
  return { sessionId: log.args.sessionId, maxTokens: log.args.maxTokens, seed: seedHex(log.args.seed), blockNumber: log.blockNumber }
}

function seedHex (seed: bigint): Hex {
  return bytesToHex(numberToBytes(seed, { size: 32 }))
}

/**
 * The task's miners in assignment order as the hub knows them (its
 * assignment, then each replacement), read from `fromBlock` on: pass the
 * submit block so the query spans the task's life, not the chain's.
 * Empty if the task has no assignment on chain.
 */
export async function assignedMiners (ctx: Pick<ChainContext, 'wallet' | 'hub'>, taskId: bigint, fromBlock: bigint): Promise<Address[]> {
  const [assigned, replaced] = await Promise.all([
    getContractEvents(ctx.wallet, { address: ctx.hub, abi: cortensorHubAbi, eventName: 'TaskAssigned', args: { taskId }, fromBlock, strict: true }),
    getContractEvents(ctx.wallet, { address: ctx.hub, abi: cortensorHubAbi, eventName: 'MinerReassigned', args: { taskId }, fromBlock, strict: true })
  ])
  if (assigned.length === 0) {
    return []
  }
  const miners = [...assigned[assigned.length - 1].args.miners]
  for (const r of replaced) {
    miners[Number(r.args.index)] = r.args.replacement
  }
  return miners
}
