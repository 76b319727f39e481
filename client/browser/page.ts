/**
 * The page script (bundled to page.js): reads the settings, runs a light
 * client, renders connection status, the pool and recent gossip, and sends
 * prompts either to a router (API key) or directly, paid from the page's own
 * wallet (direct.ts). `window.cortensor` exposes the same handles for
 * scripted use (tests, the console).
 */
import { formatEther, isHex, parseEther } from 'viem'
import { streamChatCompletion } from './chat.ts'
import { parsePageConfig } from './config.ts'
import { DirectClient, DirectModeUnavailableError, NoSessionError, generateWallet, loadOrCreateWallet, loadSessionId, saveWallet, walletFromKey } from './direct.ts'
import { LightClient } from './index.ts'
import { verifySettlement } from './verify.ts'
import type { PageWallet } from './direct.ts'
import type { SessionInfo } from '../types.ts'
import type { ChatResult, CortensorInfo } from './chat.ts'
import type { PageConfig, PageDefaults } from './config.ts'
import type { ClientStatus, GossipEvent } from './index.ts'
import type { PoolMiner } from './pool.ts'
import type { VerifyResult } from './verify.ts'

/** A prompt's answer as the page shows it: the router's result and, when the page knows the chain, its check there. */
export interface PageSubmitResult extends ChatResult {
  /** the light verification of the settlement (absent without `rpc` and `hub`, or when the task did not settle) */
  verification?: VerifyResult
}

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

const MAX_LOG = 40

function $<T extends HTMLElement = HTMLElement> (id: string): T {
  const el = document.getElementById(id)
  if (el == null) {
    throw new Error(`page element #${id} is missing`)
  }
  return el as T
}

function short (id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
}

function text (id: string, value: string): void {
  $(id).textContent = value
}

function cell (content: string | Node, className?: string): HTMLTableCellElement {
  const td = document.createElement('td')
  if (className != null) {
    td.className = className
  }
  td.append(content)
  return td
}

const TRANSPORT_LABELS: Record<string, string> = { websocket: 'WebSocket', webrtc: 'WebRTC', relay: 'relay' }

function badge (transport: string): HTMLSpanElement {
  const span = document.createElement('span')
  span.className = `badge ${transport}`
  span.textContent = TRANSPORT_LABELS[transport] ?? transport
  return span
}

function emptyRow (cols: number, message: string): HTMLTableRowElement {
  const tr = document.createElement('tr')
  const td = cell(message)
  td.colSpan = cols
  tr.append(td)
  return tr
}

function showErrors (errors: string[]): void {
  const box = $('errors')
  box.replaceChildren(...errors.map(e => {
    const p = document.createElement('p')
    p.textContent = e
    return p
  }))
}

function renderStatus (s: ClientStatus): void {
  const status = $('status')
  status.dataset.state = s.state
  const label = { idle: 'Not connected', connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', stopped: 'Disconnected' }[s.state]
  const parts = [label]
  if (s.state !== 'idle' && s.state !== 'stopped') {
    parts.push(`${s.peers} peer${s.peers === 1 ? '' : 's'}`)
    const used = (['websocket', 'relay', 'webrtc'] as const).filter(t => s.transports[t] > 0).map(t => TRANSPORT_LABELS[t])
    if (used.length > 0) {
      parts.push(used.join(' + '))
    }
  }
  status.textContent = parts.join(' · ')
  text('count-peers', String(s.peers))
  text('count-websocket', String(s.transports.websocket))
  text('count-relay', String(s.transports.relay))
  text('count-webrtc', String(s.transports.webrtc))
  text('self-peer', s.peerId === '' ? '–' : s.peerId)
  text('reservation', s.webrtcAddresses.length > 0 ? 'granted (reachable over WebRTC)' : 'none')

  const body = $('connections-body')
  if (s.connections.length === 0) {
    body.replaceChildren(emptyRow(3, 'none'))
  } else {
    body.replaceChildren(...s.connections.map(c => {
      const tr = document.createElement('tr')
      tr.dataset.transport = c.transport
      const peer = document.createElement('code')
      peer.textContent = short(c.peer)
      peer.title = c.peer
      tr.append(cell(peer), cell(badge(c.transport)), cell(c.addr, 'addr'))
      return tr
    }))
  }
  const connected = s.state !== 'idle' && s.state !== 'stopped'
  $<HTMLButtonElement>('connect-button').disabled = connected
  $<HTMLButtonElement>('disconnect-button').disabled = !connected
}

function renderPool (miners: PoolMiner[]): void {
  const body = $('pool-body')
  if (miners.length === 0) {
    body.replaceChildren(emptyRow(5, 'no heartbeat yet'))
    return
  }
  const now = Date.now()
  body.replaceChildren(...miners.map(m => {
    const tr = document.createElement('tr')
    const addr = document.createElement('code')
    addr.textContent = short(m.address)
    addr.title = `${m.address} (${m.peerId})`
    tr.append(cell(addr), cell(m.models.join(', ')), cell(`${Math.round(m.load * 100)} %`), cell(m.tokensPerSec.toFixed(1)),
      cell(`${Math.max(0, Math.round((now - m.lastSeenMs) / 1000))} s ago`))
    return tr
  }))
}

function renderModels (client: LightClient): void {
  $('model-list').replaceChildren(...client.models().map(m => {
    const option = document.createElement('option')
    option.value = m.id
    option.label = `${m.id} (${m.miners} miner${m.miners === 1 ? '' : 's'})`
    return option
  }))
}

function logGossip (ev: GossipEvent): void {
  const log = $('gossip-log')
  const li = document.createElement('li')
  li.textContent = `${new Date(ev.receivedAtMs).toLocaleTimeString()} ${ev.kind}${ev.model != null ? ` (${ev.model})` : ''} from ${short(ev.from)}`
  log.prepend(li)
  while (log.children.length > MAX_LOG) {
    log.lastElementChild?.remove()
  }
}

function renderInfo (info: CortensorInfo): void {
  text('result-task', info.taskId != null ? `#${info.taskId}${info.sessionId != null ? ` (session ${info.sessionId})` : ''}` : '–')
  text('result-status', info.status ?? '–')
  text('result-cid', info.outputCid ?? '–')
  text('result-tx', info.txHash ?? '–')
  const list = $('result-miners')
  const miners = info.miners ?? []
  if (miners.length === 0) {
    const li = document.createElement('li')
    li.textContent = '–'
    list.replaceChildren(li)
  } else {
    list.replaceChildren(...miners.map(m => {
      const li = document.createElement('li')
      const code = document.createElement('code')
      code.textContent = short(m.address)
      code.title = m.address
      li.append(code, ` ${m.outcome ?? 'pending'}`)
      return li
    }))
  }
}

/** The verification line: `data-state` none | checking | verified | failed | skipped. */
function renderVerification (state: 'none' | 'checking' | 'verified' | 'failed' | 'skipped', message: string, result?: VerifyResult): void {
  const el = $('result-verified')
  el.dataset.state = state
  el.textContent = message
  $('result-checks').replaceChildren(...(result?.checks ?? []).map(c => {
    const li = document.createElement('li')
    li.dataset.ok = String(c.ok)
    li.dataset.check = c.name
    const mark = document.createElement('span')
    mark.className = 'mark'
    mark.setAttribute('role', 'img')
    mark.setAttribute('aria-label', c.ok ? 'passed:' : 'failed:')
    mark.textContent = c.ok ? '✓' : '✗'
    li.append(mark, ` ${c.detail}`)
    return li
  }))
}

function resetResult (): void {
  $('tokens').textContent = ''
  renderInfo({})
  text('result-timing', '–')
  renderVerification('none', '–')
}

/** Check a settled result on chain when the page knows the chain (rpc) and the hub; shows the outcome. */
async function verifyResult (config: PageConfig, result: ChatResult): Promise<VerifyResult | undefined> {
  const info = result.cortensor
  if (!result.settled || info.txHash == null || info.outputCid == null || info.taskId == null) {
    renderVerification('skipped', 'not checked: the task did not settle')
    return undefined
  }
  if (config.rpc == null || config.hub == null) {
    renderVerification('skipped', 'not checked: give the chain RPC (rpc=) and the hub (hub=) to verify on chain')
    return undefined
  }
  renderVerification('checking', 'checking on chain…')
  const verification = await verifySettlement({
    rpc: config.rpc,
    hub: config.hub,
    taskId: String(info.taskId),
    outputCid: String(info.outputCid),
    txHash: String(info.txHash),
    ...(info.miners != null ? { miners: info.miners } : {})
  })
  renderVerification(verification.ok ? 'verified' : 'failed', verification.ok ? 'verified on chain' : verification.summary, verification)
  return verification
}

function renderWallet (wallet: PageWallet): void {
  text('wallet-address', wallet.address)
  text('wallet-secret', wallet.privateKey)
  text('wallet-balance', '–')
}

function walletError (message: string): void {
  const box = $('wallet-error')
  box.textContent = message
  box.hidden = message === ''
}

function renderSession (session: SessionInfo | undefined): void {
  text('session-info', session == null
    ? '–'
    : `${session.closed ? 'closed' : 'open'}, ${formatEther(BigInt(session.depositWei))} ETH in escrow (${formatEther(BigInt(session.reservedWei))} reserved), ${session.tasks} task${session.tasks === 1 ? '' : 's'}, redundancy ${session.redundancy}`)
  const el = $('session-info')
  el.dataset.tasks = session == null ? '' : String(session.tasks)
  el.dataset.escrow = session?.depositWei ?? ''
}

function selectedMode (): 'router' | 'direct' {
  return $<HTMLInputElement>('mode-direct').checked ? 'direct' : 'router'
}

function sessionIdInput (): bigint | undefined {
  const v = $<HTMLInputElement>('session-id').value.trim()
  return /^\d+$/.test(v) && v !== '0' ? BigInt(v) : undefined
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
      resetResult()
      $<HTMLButtonElement>('submit-button').disabled = true
      $<HTMLButtonElement>('cancel-button').disabled = false
      text('result-status', 'submitting')
      const tokens = $('tokens')
      const started = performance.now()
      try {
        const field = Number($<HTMLInputElement>('max-tokens').value)
        const handle = await direct.submit(prompt, { sessionId, modelId, maxTokens: maxTokens ?? (Number.isInteger(field) && field > 0 ? field : undefined), signal: controller.signal })
        const info: CortensorInfo = { taskId: handle.taskId.toString(), sessionId: sessionId.toString(), status: 'queued' }
        renderInfo(info)
        handle.onUpdate((u) => {
          if (u.status !== 'settled') {
            info.status = u.status
            text('result-status', u.status)
          }
        })
        let firstTokenMs: number | undefined
        let chunks = 0
        try {
          for await (const t of handle.tokens) {
            firstTokenMs ??= performance.now() - started
            tokens.append(t.text)
            chunks++
          }
        } catch {
          // the token stream is a preview: the settled result below is what counts (and carries the error, if any)
        }
        const streamMs = performance.now() - started
        const r = await handle.result
        const settledInfo: CortensorInfo = { ...info, status: 'settled', outputCid: r.outputCid, miners: r.miners, txHash: r.txHash, submitTxHash: r.submitTxHash }
        renderInfo(settledInfo)
        if (chunks === 0) {
          // no miner could stream to this page: show the settled output instead
          tokens.textContent = r.text
        }
        const totalMs = performance.now() - started
        const first = firstTokenMs != null ? `first token ${Math.round(firstTokenMs)} ms, ` : ''
        text('result-timing', `${first}last token ${Math.round(streamMs)} ms, settled after ${Math.round(totalMs)} ms, ${r.completionTokens} tokens`)
        const result: ChatResult = {
          model: r.modelId,
          text: r.text,
          finishReason: r.finishReason,
          chunks,
          ...(firstTokenMs != null ? { firstTokenMs } : {}),
          streamMs,
          totalMs,
          settled: true,
          cortensor: settledInfo
        }
        const verification = await verifyResult(api.config, result)
        api.verification = verification
        await api.refreshWallet().catch(() => {})
        return { ...result, ...(verification != null ? { verification } : {}) }
      } catch (err: any) {
        text('result-status', `failed: ${err.message}`)
        throw err
      } finally {
        $<HTMLButtonElement>('submit-button').disabled = false
        $<HTMLButtonElement>('cancel-button').disabled = true
      }
    },
    async submit (prompt: string, model?: string, apiKey?: string) {
      const router = api.config.router ?? ($<HTMLInputElement>('router').value.trim() || undefined)
      if (router == null) {
        throw new Error('no router URL: give one in the Router URL field or ?router=')
      }
      abort?.abort()
      abort = new AbortController()
      resetResult()
      $<HTMLButtonElement>('submit-button').disabled = true
      $<HTMLButtonElement>('cancel-button').disabled = false
      text('result-status', 'submitting')
      const tokens = $('tokens')
      try {
        const key = apiKey ?? $<HTMLInputElement>('api-key').value.trim()
        const result = await streamChatCompletion({
          router,
          prompt,
          ...(model != null && model !== '' ? { model } : {}),
          ...(key !== '' ? { apiKey: key } : {}),
          signal: abort.signal
        }, {
          onToken: (t) => { tokens.append(t) },
          onInfo: renderInfo
        })
        renderInfo({ ...result.cortensor, status: result.cortensor.status ?? (result.settled ? 'settled' : 'done') })
        const first = result.firstTokenMs != null ? `first token ${Math.round(result.firstTokenMs)} ms, ` : ''
        const settled = result.settled ? `, settled after ${Math.round(result.totalMs)} ms` : ''
        text('result-timing', `${first}last token ${Math.round(result.streamMs)} ms${settled}, ${result.chunks} tokens`)
        const verification = await verifyResult(api.config, result)
        api.verification = verification
        return { ...result, ...(verification != null ? { verification } : {}) }
      } catch (err: any) {
        text('result-status', `failed: ${err.message}`)
        throw err
      } finally {
        $<HTMLButtonElement>('submit-button').disabled = false
        $<HTMLButtonElement>('cancel-button').disabled = true
      }
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
