/**
 * The browser light client end to end, in headless Chromium: the built page
 * joins a real bootstrap node over WebSockets, gets a relay reservation,
 * receives gossip from a Node peer, opens WebRTC connections to that Node
 * peer (node-datachannel on the other end) and to a second page, keeps them
 * when the relay goes away, re-dials a lost bootstrap, renders on a phone
 * screen, and streams a prompt's answer from a router.
 *
 * The steps share one mesh and one browser and run in order.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { cleanup as cleanupDataChannels } from 'node-datachannel'
import { buildBrowser } from '../../client/browser/build.ts'
import { serveBrowserApp } from '../../client/browser/serve.ts'
import { TEST_NETWORK, TestNet, waitFor } from '../fixtures/nodes.ts'
import { MINERS, MODEL_ID, startTestRouter } from '../router/fixtures.ts'
import { launchChromium, openPage, pageUrl } from './fixtures/browser.ts'
import { TEST_MODEL, publishHeartbeat, startBootstrap, startWebRTCNode, wsAddr } from './fixtures/mesh.ts'
import type { OpenedPage } from './fixtures/browser.ts'
import type { BrowserAppServer } from '../../client/browser/serve.ts'
import type { CortensorNode } from '../../node/node.ts'
import type { TestRouter } from '../router/fixtures.ts'
import type { Browser, Page } from 'playwright-core'

/** What the page's light client reports, read through `window.cortensor`. */
async function status (page: Page): Promise<any> {
  return page.evaluate(() => (globalThis as any).cortensor.client?.status())
}

async function dialWebRTC (page: Page, target: string): Promise<any> {
  return page.evaluate(async (t) => (globalThis as any).cortensor.client.dialWebRTC(t), target)
}

async function ping (page: Page, peer: string): Promise<number> {
  return page.evaluate(async (p) => (globalThis as any).cortensor.client.ping(p), peer)
}

describe('browser light client (Chromium)', function () {
  const net = new TestNet()
  let outdir: string
  let app: BrowserAppServer | undefined
  let browser: Browser | undefined
  let router: TestRouter | undefined
  let boot: CortensorNode
  let peer: CortensorNode
  const pages: OpenedPage[] = []
  let a: OpenedPage
  let b: OpenedPage
  let aId: string
  let bId: string

  before(async function () {
    // fail, never skip, without Chromium: launch first
    browser = await launchChromium()
    outdir = await mkdtemp(join(tmpdir(), 'cortensor-page-'))
    await buildBrowser({ outdir })
    boot = await startBootstrap(net)
    peer = await startWebRTCNode(net, boot)
    app = await serveBrowserApp({ dir: outdir, defaults: () => ({ network: TEST_NETWORK, models: [TEST_MODEL] }) })
    // the real router app, its task client scripted
    router = await startTestRouter()
  })

  after(async function () {
    for (const p of pages) {
      await p.page.evaluate(async () => (globalThis as any).cortensor.disconnect()).catch(() => {})
      await p.context.close().catch(() => {})
    }
    await browser?.close()
    await app?.close()
    await router?.close()
    await net.cleanup()
    // node-datachannel's threads outlive the nodes and would keep the test process alive (it re-initialises on next use)
    cleanupDataChannels()
    if (outdir != null) {
      await rm(outdir, { recursive: true, force: true })
    }
  })

  function failureContext (): string {
    return pages.map((p, i) => `page ${i}: ${p.errors.slice(-5).join(' | ')}`).join('\n')
  }

  it('joins the bootstrap over WebSockets and gets a relay reservation', async function () {
    a = await openPage(browser as Browser, pageUrl(app?.url ?? '', { bootstrap: wsAddr(boot), router: router?.base }))
    pages.push(a)
    const s = await waitFor('page A connected with a reservation', async () => {
      const st = await status(a.page)
      return st?.state === 'connected' && st.webrtcAddresses.length > 0 ? st : undefined
    }, 20000).catch(err => { throw new Error(`${err.message}\n${failureContext()}`) })
    aId = s.peerId
    const toBoot = s.connections.filter((c: any) => c.peer === boot.libp2p.peerId.toString())
    expect(toBoot.map((c: any) => c.transport)).to.include('websocket')
    expect(s.webrtcAddresses[0]).to.include(`/p2p/${boot.libp2p.peerId.toString()}/p2p-circuit/webrtc/p2p/${aId}`)
    // the bootstrap sees the browser too, over its WebSocket listener
    expect(boot.libp2p.getConnections().some(c => c.remotePeer.toString() === aId && c.remoteAddr.toString().includes('/ws'))).to.equal(true)
    await a.page.waitForFunction(() => document.getElementById('count-websocket')?.textContent === '1')
    expect(await a.page.textContent('#status')).to.match(/^Connected · \d+ peers? · WebSocket/)
    expect(await a.page.textContent('#reservation')).to.include('granted')
  })

  it('receives heartbeat gossip from a Node peer and shows it in the pool', async function () {
    let seq = 0n
    await waitFor('page A to receive a heartbeat', async () => {
      await publishHeartbeat(peer, ++seq)
      return (await a.page.evaluate(() => (globalThis as any).cortensor.messages.length)) > 0
    }, 20000, 250)
    const msg = await a.page.evaluate(() => {
      const m = (globalThis as any).cortensor.messages[0]
      return { kind: m.kind, model: m.model, from: m.from, topic: m.topic }
    })
    expect(msg).to.deep.equal({ kind: 'heartbeat', model: TEST_MODEL, from: peer.libp2p.peerId.toString(), topic: `/${TEST_NETWORK}/1/heartbeat/${TEST_MODEL}` })
    await a.page.waitForFunction(() => document.querySelectorAll('#pool-body tr td code').length === 1)
    const row = await a.page.textContent('#pool-body tr')
    expect(row).to.include(TEST_MODEL).and.include('25 %').and.include('321.0')
    const pool = await a.page.evaluate(() => (globalThis as any).cortensor.client.pool())
    expect(pool[0].address.toLowerCase()).to.equal(peer.peerIdentity.address.toLowerCase())
  })

  it('opens a WebRTC connection to a Node peer through relay signalling', async function () {
    const conn = await dialWebRTC(a.page, peer.libp2p.peerId.toString())
    expect(conn.transport).to.equal('webrtc')
    expect(conn.addr).to.include('/webrtc')
    expect(conn.limited).to.equal(false)
    // the Node end (node-datachannel) sees a WebRTC connection from the browser
    const nodeSide = peer.libp2p.getConnections().filter(c => c.remotePeer.toString() === aId).map(c => c.remoteAddr.toString())
    expect(nodeSide.some(addr => addr.includes('/webrtc'))).to.equal(true, nodeSide.join(', '))
    expect(await ping(a.page, peer.libp2p.peerId.toString())).to.be.a('number')
    await a.page.waitForFunction(() => document.getElementById('count-webrtc')?.textContent === '1')
    expect(await a.page.textContent('#status')).to.include('WebRTC')
    expect(await a.page.$$eval('#connections-body tr[data-transport="webrtc"]', rows => rows.length)).to.equal(1)
  })

  it('connects two pages directly over WebRTC', async function () {
    b = await openPage(browser as Browser, pageUrl(app?.url ?? '', { bootstrap: wsAddr(boot) }))
    pages.push(b)
    const sb = await waitFor('page B connected with a reservation', async () => {
      const st = await status(b.page)
      return st?.state === 'connected' && st.webrtcAddresses.length > 0 ? st : undefined
    }, 20000)
    bId = sb.peerId
    // A dials B by its full relayed address, as a page would after learning it
    const conn = await dialWebRTC(a.page, sb.webrtcAddresses[0])
    expect(conn.peer).to.equal(bId)
    expect(conn.transport).to.equal('webrtc')
    const seenByB = await waitFor('page B to list page A over WebRTC', async () => {
      const st = await status(b.page)
      return st.connections.find((c: any) => c.peer === aId && c.transport === 'webrtc')
    })
    expect(seenByB.limited).to.equal(false)
    expect(await ping(b.page, aId)).to.be.a('number')
    // each page's peer identity is its own wallet key; without a chain, direct mode says what it needs
    expect(await a.page.evaluate(() => (globalThis as any).cortensor.wallet.peerId)).to.equal(aId)
    expect(await b.page.evaluate(() => (globalThis as any).cortensor.wallet.peerId)).to.equal(bId)
    expect(await b.page.textContent('#wallet-error')).to.equal('direct mode needs the chain RPC (rpc=) and the hub (hub=)')
    expect(await b.page.isChecked('#mode-router')).to.equal(true)
  })

  it('re-dials the bootstrap after losing it and gets a new reservation', async function () {
    const before = await status(b.page)
    await boot.libp2p.hangUp(peerIdFromString(bId))
    const after = await waitFor('page B back on the bootstrap', async () => {
      const st = await status(b.page)
      return st.reconnects > before.reconnects && st.state === 'connected' && st.webrtcAddresses.length > 0 ? st : undefined
    }, 30000)
    expect(after.connections.some((c: any) => c.bootstrap && c.transport === 'websocket')).to.equal(true)
    // the direct WebRTC connection to A was not affected
    expect(after.connections.some((c: any) => c.peer === aId && c.transport === 'webrtc')).to.equal(true)
  })

  it('renders on a phone-sized screen with its status, labels and live regions', async function () {
    const phone = await openPage(browser as Browser, pageUrl(app?.url ?? '', { bootstrap: wsAddr(boot) }), { width: 390, height: 844 })
    pages.push(phone)
    await phone.page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'connected', undefined, { timeout: 20000 })
    const png = await phone.page.screenshot({ fullPage: true })
    expect(png.subarray(0, 8).toString('hex')).to.equal('89504e470d0a1a0a')
    expect(png.readUInt32BE(16)).to.equal(390)
    expect(png.byteLength).to.be.greaterThan(10_000)
    if (process.env.CORTENSOR_SCREENSHOT_DIR != null) {
      await writeFile(join(process.env.CORTENSOR_SCREENSHOT_DIR, 'browser-page-phone.png'), png)
    }
    expect(await phone.page.textContent('#status')).to.match(/^Connected · \d+ peers?/)
    const layout = await phone.page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      unlabelled: [...document.querySelectorAll('input, textarea')].filter(el => (el as HTMLInputElement).labels?.length === 0).map(el => el.id),
      tokensLive: document.getElementById('tokens')?.getAttribute('aria-live'),
      statusLive: document.getElementById('status')?.getAttribute('aria-live')
    }))
    expect(layout).to.deep.equal({ overflow: 0, unlabelled: [], tokensLive: 'polite', statusLive: 'polite' })
  })

  it('streams a prompt through the router and shows the settled result', async function () {
    await a.page.fill('#api-key', router?.key ?? '')
    await a.page.fill('#prompt', 'Say hello')
    await a.page.fill('#model', MODEL_ID)
    await a.page.click('#submit-button')
    await a.page.waitForFunction(() => document.getElementById('result-status')?.textContent === 'settled', undefined, { timeout: 20000 })
    expect(await a.page.textContent('#tokens')).to.equal('Hello, world!')
    expect(await a.page.textContent('#result-task')).to.equal('#1 (session 1)')
    expect(await a.page.textContent('#result-cid')).to.equal('bafkreitest1')
    expect(await a.page.textContent('#result-tx')).to.equal(`0x${'1'.padStart(64, 'a')}`)
    expect(await a.page.$$eval('#result-miners li', items => items.map(li => li.textContent))).to.deep.equal(MINERS.map(m => `${m.slice(0, 6)}…${m.slice(-6)} accepted`))
    expect(await a.page.textContent('#result-timing')).to.match(/^first token \d+ ms, last token \d+ ms, settled after \d+ ms, 4 tokens$/)
    expect(router?.client.submits[0].prompt).to.include('Say hello')
  })

  it('keeps established WebRTC connections when the relay stops', async function () {
    await boot.stop()
    // the relayed and WebSocket connections are gone; the direct ones stay and carry traffic
    await waitFor('page A to lose the bootstrap', async () => !(await status(a.page)).connections.some((c: any) => c.bootstrap))
    expect(await ping(a.page, bId)).to.be.a('number')
    expect(await ping(a.page, peer.libp2p.peerId.toString())).to.be.a('number')
    const s = await status(a.page)
    expect(s.state).to.equal('reconnecting')
    expect(s.connections.filter((c: any) => c.transport === 'webrtc').map((c: any) => c.peer).sort()).to.deep.equal([bId, peer.libp2p.peerId.toString()].sort())
  })
})
