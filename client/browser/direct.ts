/**
 * Direct mode of the page: prompts paid from the page's own wallet, with no
 * router in between. The wallet is one secp256k1 key, kept in the tab's
 * localStorage, which is both the chain account (viem) and the light
 * client's libp2p identity, as the protocol asks of a submitter: the task
 * announcement is signed by it, miners stream tokens only to the peer whose
 * address is the task's submitter, and they fetch the prompt from that peer.
 *
 * `DirectClient` puts the client SDK (client/index.ts) on the light client's
 * libp2p node: sessions are created and tasks submitted on the hub through
 * the page's chain RPC, the prompt is served from memory over the direct
 * block protocol, miners are dialled over WebRTC through the relay (a page
 * has no DHT) before the task is announced and again before tokens or the
 * output are read from them. Browser-safe: the bundler checks.
 */
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { formatEther, hexToBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { getBalance } from 'viem/actions'
import { createSession } from '../../contracts/actions/sessions.ts'
import { createChainContext } from '../../contracts/context.ts'
import { MemoryContentStore, blockProtocol } from '../../protocols/blocks/index.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'
import { CortensorTaskClient, readSession } from '../index.ts'
import type { LightClient } from './index.ts'
import type { ChainContext } from '../../contracts/context.ts'
import type { SessionInfo, TaskHandle } from '../types.ts'
import type { AbortOptions, PeerId, PrivateKey } from '@libp2p/interface'
import type { Address, Hex } from 'viem'

/** localStorage key of the wallet's private key (0x + 64 hex digits). */
export const WALLET_STORAGE_KEY = 'cortensor.wallet.key'
/** localStorage key prefix of the last session the wallet created on a hub: `<prefix><hub>:<address>`. */
export const SESSION_STORAGE_PREFIX = 'cortensor.session.'
/** Miners of the model dialled before a task is announced. */
export const DIRECT_MAX_PREDIALS = 8
/** One WebRTC dial to a miner may take this long. */
export const DIRECT_DIAL_TIMEOUT_MS = 20_000
/** Session defaults: 1 gwei per token, a day of tasks. */
export const DEFAULT_PRICE_PER_TOKEN_WEI = 10n ** 9n
export const DEFAULT_RESERVE_PERIOD_S = 86_400
export const DEFAULT_SESSION_MAX_TASKS = 1000
export const DEFAULT_SESSION_REDUNDANCY = 3

export class InvalidWalletKeyError extends Error {
  static name = 'InvalidWalletKeyError'

  constructor (reason: string) {
    super(`not a usable wallet key: ${reason}`)
    this.name = 'InvalidWalletKeyError'
  }
}

/** The wallet cannot pay what was asked (no ETH, or less than the deposit). */
export class WalletUnfundedError extends Error {
  static name = 'WalletUnfundedError'
  readonly address: Address
  readonly balanceWei: bigint
  readonly neededWei: bigint

  constructor (address: Address, balanceWei: bigint, neededWei: bigint) {
    super(balanceWei === 0n
      ? `the wallet ${address} holds no ETH: send it some (at least ${formatEther(neededWei)} ETH plus gas) before creating a session`
      : `the wallet ${address} holds ${formatEther(balanceWei)} ETH, less than the ${formatEther(neededWei)} ETH deposit plus gas`)
    this.name = 'WalletUnfundedError'
    this.address = address
    this.balanceWei = balanceWei
    this.neededWei = neededWei
  }
}

export class DirectModeUnavailableError extends Error {
  static name = 'DirectModeUnavailableError'

  constructor (reason: string) {
    super(`direct mode is unavailable: ${reason}`)
    this.name = 'DirectModeUnavailableError'
  }
}

export class NoSessionError extends Error {
  static name = 'NoSessionError'

  constructor () {
    super('no session: create one with a deposit first (or give the id of a session this wallet owns)')
    this.name = 'NoSessionError'
  }
}

/** The page's key: its chain account and its libp2p identity. */
export interface PageWallet {
  privateKey: Hex
  address: Address
  /** the same key as a libp2p secp256k1 key */
  libp2pKey: PrivateKey
  peerId: string
}

const KEY_RE = /^(0x)?[0-9a-fA-F]{64}$/

/** A wallet from a hex private key; throws InvalidWalletKeyError. */
export function walletFromKey (key: string): PageWallet {
  const text = key.trim()
  if (!KEY_RE.test(text)) {
    throw new InvalidWalletKeyError('expected 64 hex digits (optionally 0x-prefixed)')
  }
  const privateKey = (text.startsWith('0x') ? text : `0x${text}`).toLowerCase() as Hex
  let address: Address
  let libp2pKey: PrivateKey
  try {
    address = privateKeyToAccount(privateKey).address
    libp2pKey = privateKeyFromRaw(hexToBytes(privateKey))
  } catch (err: any) {
    throw new InvalidWalletKeyError(String(err?.shortMessage ?? err?.message ?? err).split('\n')[0])
  }
  const peerId = peerIdFromPrivateKey(libp2pKey)
  // the protocol's rule, checked once: the libp2p identity's address is the chain account
  if (peerIdToAddress(peerId).toLowerCase() !== address.toLowerCase()) {
    throw new InvalidWalletKeyError('its libp2p identity does not map to its chain address')
  }
  return { privateKey, address, libp2pKey, peerId: peerId.toString() }
}

export function generateWallet (): PageWallet {
  return walletFromKey(generatePrivateKey())
}

function storageOf (): Storage | undefined {
  try {
    return globalThis.localStorage
  } catch {
    // a file:// page or a sandboxed frame may deny storage: the key then lives as long as the tab
    return undefined
  }
}

/** The stored wallet, or a new one (stored) when there is none or the stored key is unusable. */
export function loadOrCreateWallet (storage: Storage | undefined = storageOf()): { wallet: PageWallet, created: boolean } {
  const stored = storage?.getItem(WALLET_STORAGE_KEY)
  if (stored != null) {
    try {
      return { wallet: walletFromKey(stored), created: false }
    } catch {}
  }
  const wallet = generateWallet()
  saveWallet(wallet, storage)
  return { wallet, created: true }
}

export function saveWallet (wallet: PageWallet, storage: Storage | undefined = storageOf()): void {
  try {
    storage?.setItem(WALLET_STORAGE_KEY, wallet.privateKey)
  } catch {}
}

function sessionKey (hub: string, address: string): string {
  return `${SESSION_STORAGE_PREFIX}${hub.toLowerCase()}:${address.toLowerCase()}`
}

/** The last session this wallet created on `hub` (remembered across reloads). */
export function loadSessionId (hub: string, address: string, storage: Storage | undefined = storageOf()): bigint | undefined {
  const v = storage?.getItem(sessionKey(hub, address))
  return v != null && /^\d+$/.test(v) ? BigInt(v) : undefined
}

export function saveSessionId (hub: string, address: string, sessionId: bigint, storage: Storage | undefined = storageOf()): void {
  try {
    storage?.setItem(sessionKey(hub, address), sessionId.toString())
  } catch {}
}

export interface DirectClientInit {
  /** the started light client; its libp2p key must be the wallet's */
  light: LightClient
  wallet: PageWallet
  /** chain JSON-RPC URL (must answer CORS requests; anvil does) */
  rpc: string
  hub: Address
  network: string
  /** how long a task may take to settle (default: the SDK's 5 min) */
  taskTimeoutMs?: number
}

export interface CreateSessionInit {
  /** hub model id (0x sha256 of the GGUF), as heartbeats name it */
  modelId: Hex
  depositWei: bigint
  /** miners per task (default: min(3, miners of the model in the pool), at least 1) */
  redundancy?: number
  pricePerTokenWei?: bigint
  maxTasks?: number
  reservePeriodS?: number
}

export interface DirectSubmitInit {
  sessionId: bigint
  modelId: string
  maxTokens?: number
  signal?: AbortSignal
}

/** The client SDK on the page's libp2p node and wallet. */
export class DirectClient {
  readonly init: DirectClientInit
  readonly chain: ChainContext
  readonly store = new MemoryContentStore()
  private readonly clients = new Map<string, CortensorTaskClient>()
  private closed = false

  private constructor (init: DirectClientInit, chain: ChainContext) {
    this.init = init
    this.chain = chain
  }

  /** Check the identities, open the chain context and serve the page's blocks (its prompts) to miners. */
  static async create (init: DirectClientInit): Promise<DirectClient> {
    if (init.light.peerId !== init.wallet.peerId) {
      throw new DirectModeUnavailableError(`the light client runs as ${init.light.peerId}, not as the wallet's peer ${init.wallet.peerId}; reconnect`)
    }
    const chain = await createChainContext({ rpcUrl: init.rpc, hub: init.hub, privateKey: init.wallet.privateKey, pollingIntervalMs: 250 })
    const client = new DirectClient(init, chain)
    await client.store.serveBlocks(init.light.libp2p, blockProtocol(init.network))
    return client
  }

  get address (): Address {
    return this.init.wallet.address
  }

  async balance (): Promise<bigint> {
    return getBalance(this.chain.wallet, { address: this.address })
  }

  /** Miners of `model` in the light client's pool, freshest first. */
  miners (model: string): string[] {
    const wanted = model.toLowerCase()
    return this.init.light.pool()
      .filter(m => m.models.some(x => x.toLowerCase() === wanted))
      .sort((a, b) => b.lastSeenMs - a.lastSeenMs)
      .map(m => m.peerId)
  }

  /** Deposit on the hub for a new session of `modelId`; throws WalletUnfundedError before sending what the wallet cannot pay. */
  async createSession (p: CreateSessionInit): Promise<{ sessionId: bigint, txHash: Hex }> {
    const balance = await this.balance()
    if (balance <= p.depositWei) {
      throw new WalletUnfundedError(this.address, balance, p.depositWei)
    }
    const redundancy = p.redundancy ?? Math.max(1, Math.min(DEFAULT_SESSION_REDUNDANCY, this.miners(p.modelId).length))
    const res = await this.chain.serial(async () => createSession(this.chain.wallet, {
      hub: this.chain.hub,
      modelId: p.modelId,
      redundancy,
      minMiners: 1,
      maxMiners: redundancy,
      validationMode: 0,
      slaClass: 1,
      reservePeriodS: p.reservePeriodS ?? DEFAULT_RESERVE_PERIOD_S,
      maxTasks: p.maxTasks ?? DEFAULT_SESSION_MAX_TASKS,
      pricePerTokenWei: p.pricePerTokenWei ?? DEFAULT_PRICE_PER_TOKEN_WEI,
      depositWei: p.depositWei
    }))
    saveSessionId(this.chain.hub, this.address, res.sessionId)
    return { sessionId: res.sessionId, txHash: res.hash }
  }

  /** A session as the hub has it (escrow, task count). */
  async session (sessionId: bigint): Promise<SessionInfo & { availableWei: string }> {
    return readSession(this.chain, sessionId)
  }

  /**
   * Submit a prompt against one of the wallet's sessions: the miners of the
   * model are dialled first (so they can fetch the prompt from this page),
   * then the SDK submits on chain, announces the task signed by the page's
   * key, streams tokens from the first miner that acks and resolves with the
   * settled result.
   */
  async submit (prompt: string, p: DirectSubmitInit): Promise<TaskHandle> {
    if (this.closed) {
      throw new DirectModeUnavailableError('the page disconnected')
    }
    const client = await this.clientFor(p.modelId)
    await Promise.allSettled(this.miners(p.modelId).slice(0, DIRECT_MAX_PREDIALS).map(async peer => {
      await this.init.light.dialWebRTC(peer, { signal: AbortSignal.timeout(DIRECT_DIAL_TIMEOUT_MS) })
    }))
    return client.submit(prompt, { sessionId: p.sessionId, ...(p.maxTokens != null ? { maxTokens: p.maxTokens } : {}), ...(p.signal != null ? { signal: p.signal } : {}) })
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([...this.clients.values()].map(async c => { await c.close() }))
    this.clients.clear()
    await this.init.light.libp2p.unhandle(blockProtocol(this.init.network)).catch(() => {})
  }

  /** One SDK client per model, for as long as the page stays connected (closing one would unsubscribe the page's topics). */
  private async clientFor (modelId: string): Promise<CortensorTaskClient> {
    const known = this.clients.get(modelId)
    if (known != null) {
      return known
    }
    const light = this.init.light
    const client = new CortensorTaskClient({
      node: {
        libp2p: light.libp2p,
        store: this.store,
        network: this.init.network,
        connect: async (peer: PeerId, options: AbortOptions = {}) => {
          if (light.libp2p.getConnections(peer).some(c => c.status === 'open' && c.limits == null)) {
            return
          }
          await light.dialWebRTC(peer.toString(), { signal: options.signal ?? AbortSignal.timeout(DIRECT_DIAL_TIMEOUT_MS) })
        }
      },
      chain: this.chain,
      sessionId: 0n,
      modelId,
      ...(this.init.taskTimeoutMs != null ? { taskTimeoutMs: this.init.taskTimeoutMs } : {})
    })
    this.clients.set(modelId, client)
    await client.start()
    return client
  }
}
