/**
 * A local network's chain that outlives the network: given a data dir, anvil
 * keeps its state in it (written every second, so a SIGKILL loses at most
 * the last second of blocks) and the network's deployment and session are
 * recorded beside it, so a network started again on the same data dir goes
 * on with the same chain: the same hub, registrations, stakes, earnings,
 * session and task ids, and the nodes' task records (kept per chain) resume.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getBalance, getBlock, getBytecode } from 'viem/actions'
import { getNode, getOracles, getSession } from '../contracts/index.ts'
import type { Deployment, HubConfig, HubWalletClient } from '../contracts/index.ts'
import type { Address, Hex } from 'viem'

/** anvil writes its state this often (seconds): what a SIGKILL of the whole network can lose */
export const ANVIL_STATE_INTERVAL_S = 1
const STATE_FILE = 'anvil-state.json'
const SAVED_FILE = 'network.json'

/** anvil flags that load the chain from `dir` if it holds one and keep writing it there. */
export function persistentAnvilArgs (dir: string): string[] {
  return ['--state', join(dir, STATE_FILE), '--state-interval', String(ANVIL_STATE_INTERVAL_S)]
}

/** What a network records of its chain to go on with it. */
export interface SavedNetwork {
  genesis: Hex
  deployment: Deployment
  /** the hub settings it was deployed with (another set deploys another hub) */
  hubConfig: Partial<HubConfig>
  modelId: string
  sessionId: string
  redundancy: number
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x) => typeof x === 'bigint' ? x.toString() : x)

/**
 * The record of `dataDir` if it describes this chain (same genesis block, the
 * hub's code still there), the same hub settings and model; otherwise nothing
 * and the network starts afresh.
 */
export async function loadSavedNetwork (dataDir: string, client: HubWalletClient, want: { hubConfig: Partial<HubConfig>, modelId: string }): Promise<SavedNetwork | undefined> {
  let saved: SavedNetwork
  try {
    saved = JSON.parse(await readFile(join(dataDir, SAVED_FILE), 'utf8'))
  } catch {
    return undefined
  }
  const genesis = (await getBlock(client, { blockNumber: 0n })).hash
  const code = await getBytecode(client, { address: saved.deployment?.hub })
  if (genesis !== saved.genesis || code == null || code === '0x' || saved.modelId !== want.modelId || json(saved.hubConfig) !== json(want.hubConfig)) {
    return undefined
  }
  return saved
}

export async function saveNetwork (dataDir: string, client: HubWalletClient, s: Omit<SavedNetwork, 'genesis'>): Promise<void> {
  const genesis = (await getBlock(client, { blockNumber: 0n })).hash as Hex
  await writeFile(join(dataDir, SAVED_FILE), `${json({ genesis, ...s })}\n`)
}

/** Whether `address` holds at least `wei` (a node funded before a restart is not funded again). */
export async function hasFunds (client: HubWalletClient, address: Address, wei: bigint): Promise<boolean> {
  return (await getBalance(client, { address })) >= wei
}

export async function isRegistered (client: HubWalletClient, hub: Address, node: Address): Promise<boolean> {
  return (await getNode(client, { hub, node })).registered
}

export async function isOracle (client: HubWalletClient, hub: Address, oracle: Address): Promise<boolean> {
  return (await getOracles(client, { hub })).some(o => o.toLowerCase() === oracle.toLowerCase())
}

/** The saved session if it is still open, owned by `owner`, for the model and redundancy, with money left. */
export async function usableSession (client: HubWalletClient, hub: Address, saved: SavedNetwork | undefined, owner: Address, redundancy: number): Promise<bigint | undefined> {
  if (saved == null || saved.redundancy !== redundancy) {
    return undefined
  }
  const id = BigInt(saved.sessionId)
  const s = await getSession(client, { hub, sessionId: id }).catch(() => undefined)
  const ends = (s?.createdAt ?? 0) + Number(s?.reservePeriodS ?? 0)
  if (s == null || s.closed || s.owner.toLowerCase() !== owner.toLowerCase() || s.availableWei === 0n || ends * 1000 <= Date.now()) {
    return undefined
  }
  return id
}
