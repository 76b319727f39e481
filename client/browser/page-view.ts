/**
 * The page's view: the DOM it reads and writes (status, connections, pool,
 * gossip log, result, verification, wallet and session). No state of its
 * own; page.ts decides what to show.
 */
import { formatEther } from 'viem'
import { PageElementMissingError } from './errors.ts'
import type { SessionInfo } from '../types.ts'
import type { CortensorInfo } from './chat.ts'
import type { PageWallet } from './direct.ts'
import type { LightClient } from './index.ts'
import type { PoolMiner } from './pool.ts'
import type { ClientStatus, GossipEvent } from './types.ts'
import type { VerifyResult } from './verify.ts'

const MAX_LOG = 40

export function $<T extends HTMLElement = HTMLElement> (id: string): T {
  const el = document.getElementById(id)
  if (el == null) {
    throw new PageElementMissingError(id)
  }
  return el as T
}

function short (id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id
}

export function text (id: string, value: string): void {
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

export function showErrors (errors: string[]): void {
  const box = $('errors')
  box.replaceChildren(...errors.map(e => {
    const p = document.createElement('p')
    p.textContent = e
    return p
  }))
}

export function renderStatus (s: ClientStatus): void {
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

export function renderPool (miners: PoolMiner[]): void {
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

export function renderModels (client: LightClient): void {
  $('model-list').replaceChildren(...client.models().map(m => {
    const option = document.createElement('option')
    option.value = m.id
    option.label = `${m.id} (${m.miners} miner${m.miners === 1 ? '' : 's'})`
    return option
  }))
}

export function logGossip (ev: GossipEvent): void {
  const log = $('gossip-log')
  const li = document.createElement('li')
  li.textContent = `${new Date(ev.receivedAtMs).toLocaleTimeString()} ${ev.kind}${ev.model != null ? ` (${ev.model})` : ''} from ${short(ev.from)}`
  log.prepend(li)
  while (log.children.length > MAX_LOG) {
    log.lastElementChild?.remove()
  }
}

export function renderInfo (info: CortensorInfo): void {
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
export function renderVerification (state: 'none' | 'checking' | 'verified' | 'failed' | 'skipped', message: string, result?: VerifyResult): void {
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

export function resetResult (): void {
  $('tokens').textContent = ''
  renderInfo({})
  text('result-timing', '–')
  renderVerification('none', '–')
}

/** Check a settled result on chain when the page knows the chain (rpc) and the hub; shows the outcome. */
export function renderWallet (wallet: PageWallet): void {
  text('wallet-address', wallet.address)
  text('wallet-secret', wallet.privateKey)
  text('wallet-balance', '–')
}

export function walletError (message: string): void {
  const box = $('wallet-error')
  box.textContent = message
  box.hidden = message === ''
}

export function renderSession (session: SessionInfo | undefined): void {
  text('session-info', session == null
    ? '–'
    : `${session.closed ? 'closed' : 'open'}, ${formatEther(BigInt(session.depositWei))} ETH in escrow (${formatEther(BigInt(session.reservedWei))} reserved), ${session.tasks} task${session.tasks === 1 ? '' : 's'}, redundancy ${session.redundancy}`)
  const el = $('session-info')
  el.dataset.tasks = session == null ? '' : String(session.tasks)
  el.dataset.escrow = session?.depositWei ?? ''
}

export function selectedMode (): 'router' | 'direct' {
  return $<HTMLInputElement>('mode-direct').checked ? 'direct' : 'router'
}

export function sessionIdInput (): bigint | undefined {
  const v = $<HTMLInputElement>('session-id').value.trim()
  return /^\d+$/.test(v) && v !== '0' ? BigInt(v) : undefined
}
