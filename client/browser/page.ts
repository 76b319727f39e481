/**
 * The page script (bundled to page.js): reads the settings, runs a light
 * client, renders connection status, the pool and recent gossip, and sends
 * prompts to a router. `window.cortensor` exposes the same handles for
 * scripted use (tests, the console).
 */
import { streamChatCompletion } from './chat.ts'
import { parsePageConfig } from './config.ts'
import { LightClient } from './index.ts'
import { verifySettlement } from './verify.ts'
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
  const api: PageApi = {
    LightClient,
    config: { bootstrap: [], network: 'cortensor', models: [], iceServers: [], autoconnect: false },
    errors: [],
    messages: [],
    ready: Promise.resolve(),
    verifySettlement,
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
      await api.client?.stop()
      const client = new LightClient({
        bootstrap: config.bootstrap,
        network: config.network,
        models: config.models,
        iceServers: config.iceServers
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
      }
    },
    async disconnect () {
      await api.client?.stop()
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
    api.submit(prompt, $<HTMLInputElement>('model').value.trim()).catch((err) => { showErrors([err.message]) })
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
    if (config.autoconnect && config.bootstrap.length > 0) {
      await api.connect()
    }
  })()
  return api
}

Object.assign(globalThis, { cortensor: main() })
