/**
 * The page script (bundled to page.js): reads the settings, runs a light
 * client, renders connection status, the pool and recent gossip, and sends
 * prompts either to a router (API key) or directly, paid from the page's own
 * wallet (direct.ts). `window.cortensor` exposes the same handles for
 * scripted use (tests, the console).
 */
import { formatEther, isHex, parseEther } from 'viem'
import { parsePageConfig } from './config.ts'
import { DirectClient, DirectModeUnavailableError, NoSessionError, generateWallet, loadOrCreateWallet, loadSessionId, saveWallet, walletFromKey } from './direct.ts'
import { NoRouterError } from './errors.ts'
import { LightClient } from './index.ts'
import { submitDirectly, submitToRouter } from './page-submit.ts'
import { $, logGossip, renderModels, renderPool, renderSession, renderStatus, renderWallet, selectedMode, sessionIdInput, showErrors, text, walletError } from './page-view.ts'
import { verifySettlement } from './verify.ts'
import type { PageSubmitResult } from './page-submit.ts'
import type { SessionInfo } from '../types.ts'
import type { PageConfig, PageDefaults } from './config.ts'
import type { PageWallet } from './direct.ts'
import type { GossipEvent } from './types.ts'
import type { VerifyResult } from './verify.ts'

export type { PageSubmitResult } from './page-submit.ts'

export interface PageApi {
  /** the light client class, for scripts that want a client of their own */
  LightClient: typeof LightClient
  config: PageConfig
  errors: string[]
  client?: LightClient
  /** resolves once the page has read its settings (and connected, if it was asked to) */
  ready: Promise<void>
  /** page script start → first gossip message from another peer, in ms */
  firstMessageMs?: number
  /** when that message arrived (Date.now()) */
  firstMessageAtMs?: number
  messages: GossipEvent[]
  connect(): Promise<void>
  disconnect(): Promise<void>
  /** send a prompt to the router, then verify the settlement on chain; the API key comes from the page's field unless given */
  submit(prompt: string, model?: string, apiKey?: string): Promise<PageSubmitResult>
  /** the light verification the page runs after a settlement, for scripted use */
  verifySettlement: typeof verifySettlement
  /** the last verification the page ran */
  verification?: VerifyResult
  /** the page's wallet: its chain account and its libp2p identity (direct mode) */
  wallet: { address: string, peerId: string }
  /** the direct-mode client, once connected with a chain RPC and a hub */
  direct?: DirectClient
  /** how the prompt form submits */
  mode: 'router' | 'direct'
  /** use a pasted private key as the wallet (reconnects when connected) */
  useKey(key: string): Promise<void>
  /** replace the wallet with a new random key (reconnects when connected) */
  newWallet(): Promise<void>
  /** read the wallet's balance and the current session from the chain and show them */
  refreshWallet(): Promise<{ balanceWei: string, session?: SessionInfo }>
  /** deposit on the hub for a session of the model (ETH amount, default the deposit field) */
  createSession(depositEth?: string, model?: string): Promise<{ sessionId: string, txHash: string }>
  /** submit a prompt directly against the wallet's session, stream the tokens, then verify the settlement on chain */
  submitDirect(prompt: string, model?: string, maxTokens?: number): Promise<PageSubmitResult>
}

async function loadDefaults (): Promise<PageDefaults> {
  if (!location.protocol.startsWith('http')) {
    return {}
  }
  try {
    const res = await fetch('config.json', { signal: AbortSignal.timeout(3000) })
    return res.ok ? await res.json() as PageDefaults : {}
  } catch {
    return {}
  }
}

function main (): PageApi {
  const loadedAt = performance.now()
  let abort: AbortController | undefined
  let defaults: PageDefaults = {}
  let wallet = loadOrCreateWallet().wallet
  const setWallet = async (next: PageWallet): Promise<void> => {
    wallet = next
    saveWallet(next)
    api.wallet = { address: next.address, peerId: next.peerId }
    renderWallet(next)
    walletError('')
    $<HTMLInputElement>('session-id').value = api.config.hub != null ? (loadSessionId(api.config.hub, next.address)?.toString() ?? '') : ''
    renderSession(undefined)
    // the libp2p identity is the wallet: a connected page reconnects as the new key
    if (api.client != null && api.client.status().state !== 'stopped') {
      await api.connect()
    }
  }
  const startDirect = async (client: LightClient): Promise<void> => {
    const { rpc, hub, network } = api.config
    if (rpc == null || hub == null) {
      walletError('direct mode needs the chain RPC (rpc=) and the hub (hub=)')
      return
    }
    try {
      api.direct = await DirectClient.create({ light: client, wallet, rpc, hub: hub as `0x${string}`, network })
      const remembered = loadSessionId(hub, wallet.address)
      if (remembered != null && $<HTMLInputElement>('session-id').value.trim() === '') {
        $<HTMLInputElement>('session-id').value = remembered.toString()
      }
      await api.refreshWallet().catch((err) => { walletError(err.message) })
    } catch (err: any) {
      walletError(err.message)
    }
  }
  const api: PageApi = {
    LightClient,
    config: { bootstrap: [], network: 'cortensor', models: [], iceServers: [], autoconnect: false },
    errors: [],
    messages: [],
    ready: Promise.resolve(),
    verifySettlement,
    wallet: { address: wallet.address, peerId: wallet.peerId },
    mode: 'router',
    async connect () {
      const bootstrap = $<HTMLInputElement>('bootstrap').value.trim()
      const router = $<HTMLInputElement>('router').value.trim()
      const q = new URLSearchParams(location.search)
      q.delete('bootstrap')
      q.delete('router')
      if (bootstrap !== '') {
        q.append('bootstrap', bootstrap)
      }
      if (router !== '') {
        q.set('router', router)
      }
      const { config, errors } = parsePageConfig(q, defaults)
      api.config = config
      api.errors = errors
      showErrors(errors)
      if (config.bootstrap.length === 0) {
        showErrors([...errors, 'give a bootstrap node to connect to'])
        return
      }
      await api.direct?.close()
      api.direct = undefined
      await api.client?.stop()
      const client = new LightClient({
        bootstrap: config.bootstrap,
        network: config.network,
        models: config.models,
        iceServers: config.iceServers,
        // the page's libp2p identity is its wallet key: the protocol's submitter rule
        privateKey: wallet.libp2pKey
      })
      api.client = client
      client.addEventListener('status', (e) => { renderStatus(e.detail) })
      client.addEventListener('pool', (e) => {
        renderPool(e.detail)
        renderModels(client)
      })
      client.addEventListener('message', (e) => {
        if (e.detail.from !== client.peerId && api.firstMessageMs == null) {
          api.firstMessageMs = performance.now() - loadedAt
          api.firstMessageAtMs = Date.now()
        }
        api.messages.push(e.detail)
        if (api.messages.length > 200) {
          api.messages.shift()
        }
        logGossip(e.detail)
      })
      try {
        await client.start()
      } catch (err: any) {
        showErrors([...api.errors, err.message])
        $('status').dataset.state = 'error'
        return
      }
      await startDirect(client)
    },
    async disconnect () {
      await api.direct?.close()
      api.direct = undefined
      await api.client?.stop()
    },
    async useKey (key: string) {
      await setWallet(walletFromKey(key))
    },
    async newWallet () {
      await setWallet(generateWallet())
    },
    async refreshWallet () {
      const direct = api.direct
      if (direct == null) {
        throw new DirectModeUnavailableError('connect first, with the chain RPC (rpc=) and the hub (hub=) set')
      }
      const balanceWei = await direct.balance()
      text('wallet-balance', `${formatEther(balanceWei)} ETH`)
      $('wallet-balance').dataset.wei = balanceWei.toString()
      const id = sessionIdInput()
      const session = id != null ? await direct.session(id) : undefined
      renderSession(session)
      return { balanceWei: balanceWei.toString(), ...(session != null ? { session } : {}) }
    },
    async createSession (depositEth?: string, model?: string) {
      const direct = api.direct
      if (direct == null) {
        throw new DirectModeUnavailableError('connect first, with the chain RPC (rpc=) and the hub (hub=) set')
      }
      const modelId = (model ?? $<HTMLInputElement>('model').value.trim()) || api.config.model || api.client?.models()[0]?.id
      if (modelId == null || !isHex(modelId) || modelId.length !== 66) {
        throw new DirectModeUnavailableError('give the model id (0x and 64 hex digits, as the pool lists it) in the Model field')
      }
      const amount = (depositEth ?? $<HTMLInputElement>('session-deposit').value).trim()
      let depositWei: bigint
      try {
        depositWei = parseEther(amount)
      } catch {
        throw new DirectModeUnavailableError(`deposit ${amount} is not an ETH amount`)
      }
      if (depositWei <= 0n) {
        throw new DirectModeUnavailableError('the deposit must be more than 0 ETH')
      }
      text('session-status', 'creating the session on chain…')
      try {
        const { sessionId, txHash } = await direct.createSession({ modelId, depositWei })
        $<HTMLInputElement>('session-id').value = sessionId.toString()
        text('session-status', `session ${sessionId} created (tx ${txHash})`)
        await api.refreshWallet()
        return { sessionId: sessionId.toString(), txHash }
      } catch (err: any) {
        text('session-status', 'not created')
        throw err
      }
    },
    async submitDirect (prompt: string, model?: string, maxTokens?: number) {
      const direct = api.direct
      if (direct == null) {
        throw new DirectModeUnavailableError('connect first, with the chain RPC (rpc=) and the hub (hub=) set')
      }
      const sessionId = sessionIdInput()
      if (sessionId == null) {
        throw new NoSessionError()
      }
      const modelId = (model ?? $<HTMLInputElement>('model').value.trim()) || api.config.model || api.client?.models()[0]?.id
      if (modelId == null || modelId === '') {
        throw new DirectModeUnavailableError('give the model in the Model field')
      }
      abort?.abort()
      const controller = new AbortController()
      abort = controller
      return submitDirectly({ direct, sessionId, modelId, prompt, maxTokens, signal: controller.signal, config: api.config }, async (verification) => {
        api.verification = verification
        await api.refreshWallet().catch(() => {})
      })
    },
    async submit (prompt: string, model?: string, apiKey?: string) {
      const router = api.config.router ?? ($<HTMLInputElement>('router').value.trim() || undefined)
      if (router == null) {
        throw new NoRouterError()
      }
      abort?.abort()
      abort = new AbortController()
      const result = await submitToRouter({ router, prompt, model, apiKey: apiKey ?? $<HTMLInputElement>('api-key').value.trim(), signal: abort.signal, config: api.config })
      api.verification = result.verification
      return result
    }
  }

  $('connect-form').addEventListener('submit', (e) => {
    e.preventDefault()
    api.connect().catch(() => {})
  })
  $('disconnect-button').addEventListener('click', () => { api.disconnect().catch(() => {}) })
  $('prompt-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const prompt = $<HTMLTextAreaElement>('prompt').value.trim()
    if (prompt === '') {
      return
    }
    api.mode = selectedMode()
    const run = api.mode === 'direct' ? api.submitDirect(prompt, $<HTMLInputElement>('model').value.trim()) : api.submit(prompt, $<HTMLInputElement>('model').value.trim())
    run.catch((err) => { showErrors([err.message]) })
  })
  $('mode-router').addEventListener('change', () => { api.mode = selectedMode() })
  $('mode-direct').addEventListener('change', () => { api.mode = selectedMode() })
  $('wallet-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const key = $<HTMLInputElement>('wallet-key').value
    api.useKey(key).then(() => { $<HTMLInputElement>('wallet-key').value = '' }, (err) => { walletError(err.message) })
  })
  $('wallet-new').addEventListener('click', () => { api.newWallet().catch((err) => { walletError(err.message) }) })
  $('wallet-refresh').addEventListener('click', () => {
    walletError('')
    api.refreshWallet().catch((err) => { walletError(err.message) })
  })
  $('session-form').addEventListener('submit', (e) => {
    e.preventDefault()
    walletError('')
    api.createSession().catch((err) => { walletError(err.message) })
  })
  $('cancel-button').addEventListener('click', () => { abort?.abort() })
  setInterval(() => { if (api.client != null) { renderPool(api.client.pool()) } }, 5000)

  api.ready = (async () => {
    defaults = await loadDefaults()
    const { config, errors } = parsePageConfig(location.search, defaults)
    api.config = config
    api.errors = errors
    showErrors(errors)
    $<HTMLInputElement>('bootstrap').value = config.bootstrap[0] ?? ''
    $<HTMLInputElement>('router').value = config.router ?? ''
    $<HTMLInputElement>('model').value = config.model ?? ''
    renderWallet(wallet)
    if (config.hub != null) {
      $<HTMLInputElement>('session-id').value = loadSessionId(config.hub, wallet.address)?.toString() ?? ''
    }
    // without a router but with a chain, direct mode is the only way to submit
    const direct = config.router == null && config.rpc != null && config.hub != null
    $<HTMLInputElement>('mode-direct').checked = direct
    $<HTMLInputElement>('mode-router').checked = !direct
    api.mode = selectedMode()
    if (config.autoconnect && config.bootstrap.length > 0) {
      await api.connect()
    }
  })()
  return api
}

Object.assign(globalThis, { cortensor: main() })
