/**
 * The browser page against a real local network, in headless Chromium: the
 * page served with the devnet's defaults connects to the bootstrap over
 * WebSockets, gets a relay reservation, opens WebRTC connections to a miner
 * and to the router's node (node-datachannel on the far side), submits a
 * prompt through the real router with an API key, shows the tokens as they
 * stream and then the settled result (output CID, miners, settlement
 * transaction), which it verifies on chain itself; a screenshot is checked.
 *
 * The steps share one network and one page and run in order.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { cleanup as cleanupDataChannels } from 'node-datachannel'
import { waitFor } from '../fixtures/nodes.ts'
import { launchChromium, openPage } from './fixtures/browser.ts'
import { startBrowserDevnet } from './fixtures/devnet.ts'
import type { OpenedPage } from './fixtures/browser.ts'
import type { BrowserDevnet } from './fixtures/devnet.ts'
import type { Browser, Page } from 'playwright-core'

async function status (page: Page): Promise<any> {
  return page.evaluate(() => (globalThis as any).cortensor.client?.status())
}

async function dialWebRTC (page: Page, target: string): Promise<any> {
  return page.evaluate(async (t) => (globalThis as any).cortensor.client.dialWebRTC(t), target)
}

/** What the page shows in its token stream and status each time the token stream changes. */
interface TokenSnapshot { tokens: string, status: string, at: number }

describe('browser page on a real devnet (Chromium)', function () {
  this.timeout(300_000)
  let dn: BrowserDevnet | undefined
  let browser: Browser | undefined
  let opened: OpenedPage | undefined
  let page: Page
  let pageId: string

  before(async function () {
    // fail, never skip, without Chromium: launch first
    browser = await launchChromium()
    dn = await startBrowserDevnet()
  })

  after(async function () {
    await opened?.page.evaluate(async () => (globalThis as any).cortensor.disconnect()).catch(() => {})
    await opened?.context.close().catch(() => {})
    await browser?.close()
    await dn?.stop()
    // node-datachannel's threads outlive the nodes and would keep the test process alive
    cleanupDataChannels()
  })

  function failureContext (): string {
    return `page: ${opened?.errors.slice(-5).join(' | ') ?? ''}`
  }

  it('connects to the devnet bootstrap over WebSockets with the served defaults and gets a relay reservation', async function () {
    const net = dn?.ln.net
    if (dn == null || net == null || browser == null) {
      throw new Error('no devnet')
    }
    opened = await openPage(browser, dn.app.url)
    page = opened.page
    const config = await page.evaluate(() => (globalThis as any).cortensor.config)
    expect(config).to.deep.include({ router: dn.routerUrl, network: dn.defaults.network, models: [net.modelId], model: net.modelId, rpc: net.rpcUrl, hub: net.hub })
    const s = await waitFor('the page connected with a reservation', async () => {
      const st = await status(page)
      return st?.state === 'connected' && st.webrtcAddresses.length > 0 ? st : undefined
    }, 30_000).catch(err => { throw new Error(`${err.message}\n${failureContext()}`) })
    pageId = s.peerId
    const boot = net.bootstrap.libp2p.peerId.toString()
    expect(s.connections.filter((c: any) => c.peer === boot).map((c: any) => c.transport)).to.include('websocket')
    expect(s.webrtcAddresses[0]).to.include(`/p2p/${boot}/p2p-circuit/webrtc/p2p/${pageId}`)
    expect(await page.textContent('#reservation')).to.include('granted')
  })

  it('sees the miners\' heartbeats on gossip', async function () {
    const net = dn?.ln.net
    await waitFor('the pool on the page', async () => (await page.evaluate(() => (globalThis as any).cortensor.client.pool().length)) === net?.miners.length, 30_000)
    const pool: Array<{ address: string }> = await page.evaluate(() => (globalThis as any).cortensor.client.pool())
    expect(pool.map(m => m.address.toLowerCase()).sort()).to.deep.equal(net?.miners.map(m => m.node.peerIdentity.address.toLowerCase()).sort())
    await page.waitForFunction((n) => document.querySelectorAll('#pool-body tr td code').length === n, net?.miners.length, { timeout: 20_000 })
  })

  it('opens WebRTC connections to a miner and to the router\'s node through relay signalling', async function () {
    const net = dn?.ln.net
    if (net == null) {
      throw new Error('no devnet')
    }
    const browserPeer = pageId
    for (const node of [net.miners[0].node, net.clientNode]) {
      const id = node.libp2p.peerId.toString()
      const conn = await dialWebRTC(page, id)
      expect(conn).to.deep.include({ peer: id, transport: 'webrtc', limited: false })
      const nodeSide = node.libp2p.getConnections().filter(c => c.remotePeer.toString() === browserPeer).map(c => c.remoteAddr.toString())
      expect(nodeSide.some(addr => addr.includes('/webrtc'))).to.equal(true, nodeSide.join(', '))
      expect(await page.evaluate(async (p) => (globalThis as any).cortensor.client.ping(p), id)).to.be.a('number')
    }
    await page.waitForFunction(() => Number(document.getElementById('count-webrtc')?.textContent) >= 2, undefined, { timeout: 20_000 })
    expect(await page.textContent('#status')).to.include('WebRTC')
  })

  it('submits a prompt through the router, streams the tokens, and shows the settled result verified on chain', async function () {
    const net = dn?.ln.net
    if (dn == null || net == null) {
      throw new Error('no devnet')
    }
    // record the token stream and the status each time the stream changes
    await page.evaluate(() => {
      const snapshots: Array<{ tokens: string, status: string, at: number }> = []
      const tokens = document.getElementById('tokens') as HTMLElement
      new MutationObserver(() => {
        snapshots.push({ tokens: tokens.textContent ?? '', status: document.getElementById('result-status')?.textContent ?? '', at: performance.now() })
      }).observe(tokens, { childList: true, characterData: true, subtree: true })
      ;(globalThis as any).tokenSnapshots = snapshots
    })
    await page.fill('#api-key', dn.key)
    await page.fill('#prompt', 'the man said that water was cold')
    expect(await page.inputValue('#model')).to.equal(net.modelId)
    await page.click('#submit-button')
    await page.waitForFunction(() => ['verified', 'failed'].includes(document.getElementById('result-verified')?.dataset.state ?? ''), undefined, { timeout: 180_000 })
      .catch(async (err) => { throw new Error(`${err.message}\nstatus ${await page.textContent('#result-status')}\n${failureContext()}`) })

    // tokens appeared while the task was still unsettled
    const snapshots: TokenSnapshot[] = await page.evaluate(() => (globalThis as any).tokenSnapshots.filter((s: any) => s.tokens !== ''))
    expect(snapshots.length).to.be.greaterThan(0)
    expect(snapshots[0].status).to.not.equal('settled')
    const shown = await page.textContent('#tokens') ?? ''
    expect(shown).to.not.equal('')
    expect(snapshots.some(s => s.tokens.length < shown.length) || snapshots.length === 1).to.equal(true)

    // the settled result, as the router tells it
    expect(await page.textContent('#result-status')).to.equal('settled')
    const taskText = await page.textContent('#result-task') ?? ''
    const taskId = /^#(\d+) \(session (\d+)\)$/.exec(taskText)
    expect(taskId?.[2]).to.equal(net.sessionId.toString())
    const record = await (await fetch(`${dn.routerUrl}/api/v1/tasks/${net.sessionId}/${taskId?.[1]}`, { headers: { authorization: `Bearer ${dn.key}` } })).json()
    expect(record.status).to.equal('settled')
    expect(record.result.text).to.equal(shown)
    const cid = await page.textContent('#result-cid')
    const tx = await page.textContent('#result-tx')
    expect(cid).to.equal(record.result.outputCid)
    expect(tx).to.equal(record.result.txHash)
    const miners = await page.$$eval('#result-miners li', items => items.map(li => li.textContent))
    expect(miners).to.deep.equal(record.result.miners.map((m: any) => `${m.address.slice(0, 6)}…${m.address.slice(-6)} ${m.outcome as string}`))
    expect(miners.filter(m => m?.endsWith('accepted')).length).to.be.greaterThan(0)

    // what the oracles have: the settlement transaction and the accepted miners' output
    const states = net.oracles.map(o => o.role.taskState(BigInt(taskId?.[1] ?? 0))).filter(s => s?.txHash != null)
    expect(states.length).to.be.greaterThan(0)
    expect(states[0]?.txHash).to.equal(tx)
    const acceptedCids = states[0]?.slots.filter(s => states[0]?.accepted.includes(s.miner)).map(s => s.outputCid)
    expect(acceptedCids).to.include(cid)

    // the page's own check against the chain
    expect(await page.getAttribute('#result-verified', 'data-state')).to.equal('verified', await page.textContent('#result-checks') ?? '')
    expect(await page.textContent('#result-verified')).to.equal('verified on chain')
    const verification = await page.evaluate(() => (globalThis as any).cortensor.verification)
    expect(verification.ok).to.equal(true)
    expect(verification.checks.map((c: any) => c.name)).to.deep.equal(['transaction', 'event', 'calldata', 'output', 'signatures', 'verdicts'])
    expect(await page.$$eval('#result-checks li', items => items.map(li => li.getAttribute('data-ok')))).to.deep.equal(Array(6).fill('true'))
    expect(await page.textContent('#result-timing')).to.match(/^first token \d+ ms, last token \d+ ms, settled after \d+ ms, \d+ tokens$/)

    // a screenshot of the page at this moment, and the text it shows
    const png = await page.screenshot({ fullPage: true })
    expect(png.subarray(0, 8).toString('hex')).to.equal('89504e470d0a1a0a')
    expect(png.readUInt32BE(16)).to.equal(1100)
    expect(png.readUInt32BE(20)).to.be.greaterThan(600)
    expect(png.byteLength).to.be.greaterThan(20_000)
    if (process.env.CORTENSOR_SCREENSHOT_DIR != null) {
      await writeFile(join(process.env.CORTENSOR_SCREENSHOT_DIR, 'browser-page-devnet.png'), png)
    }
    const visible = await page.innerText('#result')
    expect(visible).to.include('settled').and.include(cid).and.include(tx).and.include('verified on chain').and.include('accepted')
    expect(await page.innerText('#tokens')).to.equal(shown)
  })
})
