/**
 * Browser light client on loopback, in headless Chromium: how long a page
 * takes to join the mesh (page load → first gossip message from a Node
 * peer) against the same light client running in Node, and how long a
 * WebRTC dial through relay signalling takes against a direct WebSocket dial
 * to the same peer. Then, on a real devnet (anvil, hub, miners, oracles, a
 * router): the page's time to first token through the router against a Node
 * client's (the same prompt through the same router), and the page's light
 * verification of the settlement against the same check in Node. Baselines
 * are measured in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { cleanup as cleanupDataChannels } from 'node-datachannel'
import { buildBrowser } from '../client/browser/build.ts'
import { streamChatCompletion } from '../client/browser/chat.ts'
import { LightClient } from '../client/browser/index.ts'
import { serveBrowserApp } from '../client/browser/serve.ts'
import { verifySettlement } from '../client/browser/verify.ts'
import { launchChromium, openPage, pageUrl } from '../test/browser/fixtures/browser.ts'
import { startBrowserDevnet } from '../test/browser/fixtures/devnet.ts'
import { TEST_MODEL, publishHeartbeat, startBootstrap, startWebRTCNode, wsAddr } from '../test/browser/fixtures/mesh.ts'
import { TEST_NETWORK, TestNet, waitFor } from '../test/fixtures/nodes.ts'
import { percentile, printFigures } from './report.ts'
import type { BenchFigure } from './report.ts'
import type { BrowserAppServer } from '../client/browser/serve.ts'
import type { VerifyRequest } from '../client/browser/verify.ts'
import type { BrowserDevnet } from '../test/browser/fixtures/devnet.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Browser, Page } from 'playwright-core'

const RUNS = 7
/** the Node peer publishes a heartbeat this often while joins are measured (same for both joins) */
const PUBLISH_EVERY_MS = 20

const median = (xs: number[]): number => percentile(xs, 50)
const net = new TestNet()
const figures: BenchFigure[] = []
let browser: Browser | undefined
let app: BrowserAppServer | undefined
let publisher: ReturnType<typeof setInterval> | undefined
let target: Libp2p | undefined
const outdir = await mkdtemp(join(tmpdir(), 'cortensor-bench-page-'))

try {
  const built = await buildBrowser({ outdir })
  figures.push({ name: 'page bundle (minified, one classic script)', value: built.bytes / 1024, unit: 'KiB' })

  const boot = await startBootstrap(net)
  const peer = await startWebRTCNode(net, boot)
  app = await serveBrowserApp({ dir: outdir, defaults: () => ({ network: TEST_NETWORK, models: [TEST_MODEL] }) })
  browser = await launchChromium()
  let seq = 0n
  publisher = setInterval(() => { publishHeartbeat(peer, ++seq).catch(() => {}) }, PUBLISH_EVERY_MS)

  // join: page load → first gossip message from the Node peer, versus the same client in Node
  const url = pageUrl(app.url, { bootstrap: wsAddr(boot) })
  const browserJoins: number[] = []
  const scriptJoins: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext()
    const page = await context.newPage()
    const t0 = Date.now()
    await page.goto(url)
    await page.waitForFunction(() => (globalThis as any).cortensor?.firstMessageAtMs != null, undefined, { timeout: 30000 })
    const at = await page.evaluate(() => ({
      message: (globalThis as any).cortensor.firstMessageAtMs as number,
      sinceScript: (globalThis as any).cortensor.firstMessageMs as number
    }))
    browserJoins.push(at.message - t0)
    scriptJoins.push(at.sinceScript)
    await page.evaluate(async () => (globalThis as any).cortensor.disconnect())
    await context.close()
  }
  const nodeJoins: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = Date.now()
    const client = new LightClient({ bootstrap: [wsAddr(boot)], network: TEST_NETWORK, models: [TEST_MODEL] })
    let first: number | undefined
    client.addEventListener('message', (e) => { if (e.detail.from === peer.libp2p.peerId.toString()) { first ??= Date.now() } })
    await client.start()
    await waitFor('the Node light client to receive gossip', () => first, 30000, 2)
    nodeJoins.push((first as number) - t0)
    await client.stop()
  }
  // the same join from a page that is already loaded (warm JIT): what the transports and the mesh cost alone
  const warm = await openPage(browser, pageUrl(app.url, { connect: '0' }))
  const warmJoins: number[] = []
  for (let i = 0; i < RUNS; i++) {
    warmJoins.push(await warm.page.evaluate(async ({ bootstrap, network, model, from }) => {
      const api = (globalThis as any).cortensor
      const t0 = performance.now()
      const client = new api.LightClient({ bootstrap: [bootstrap], network, models: [model] })
      const first = new Promise<number>(resolve => {
        client.addEventListener('message', (e: any) => { if (e.detail.from === from) { resolve(performance.now() - t0) } })
      })
      await client.start()
      const ms = await first
      await client.stop()
      return ms
    }, { bootstrap: wsAddr(boot), network: TEST_NETWORK, model: TEST_MODEL, from: peer.libp2p.peerId.toString() }))
  }
  await warm.context.close()
  clearInterval(publisher)
  publisher = undefined
  figures.push({
    name: `browser join: page load → first gossip from a Node peer (median of ${RUNS})`,
    value: median(browserJoins),
    unit: 'ms',
    baseline: { name: 'the same light client in Node: start → first gossip', value: median(nodeJoins) }
  })
  figures.push({
    name: 'of which page script start → first gossip (no navigation or bundle load)',
    value: median(scriptJoins),
    unit: 'ms',
    baseline: { name: 'the same light client in Node: start → first gossip', value: median(nodeJoins) }
  })
  figures.push({
    name: 'warm page: new light client → first gossip',
    value: median(warmJoins),
    unit: 'ms',
    baseline: { name: 'the same light client in Node: start → first gossip', value: median(nodeJoins) }
  })

  // dials from a page: WebRTC through the relay versus WebSocket straight to the same Node peer
  const a = await openPage(browser, url)
  const b = await openPage(browser, url)
  const ready = async (page: Page): Promise<any> => waitFor('a reservation', async () => {
    const s = await page.evaluate(() => (globalThis as any).cortensor.client.status())
    return s.state === 'connected' && s.webrtcAddresses.length > 0 ? s : undefined
  }, 20000)
  await ready(a.page)
  const sb = await ready(b.page)
  // the dial target: the node stack's transports without its peer keeper, which would dial the page back
  // over WebRTC between measurements (a node does that to every peer it has learnt while below 8 connections)
  target = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws', '/p2p-circuit', '/webrtc'] },
    transports: [webSockets(), webRTC({ rtcConfiguration: { iceServers: [] } }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), ping: ping() }
  })
  await target.dial(multiaddr(wsAddr(boot)))
  const targetLibp2p = target
  await waitFor('a reservation for the dial target', () => targetLibp2p.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit/webrtc')), 20000)
  const peerId = target.peerId.toString()
  const peerWs = target.getMultiaddrs().map(String).find(ma => ma.includes('/ws/') && !ma.includes('/p2p-circuit')) as string
  const aId = await a.page.evaluate(() => (globalThis as any).cortensor.client.peerId as string)
  const dial = async (to: string, webrtc: boolean): Promise<number> => {
    const ms = await a.page.evaluate(async ({ to, webrtc }) => {
      const c = (globalThis as any).cortensor.client
      const t = performance.now()
      const conn = await c.dial(to)
      const ms = performance.now() - t
      if (conn.transport !== (webrtc ? 'webrtc' : 'websocket')) {
        throw new Error(`dialled ${to} but got a ${conn.transport} connection`)
      }
      await c.hangUp(conn.peer)
      return ms
    }, { to, webrtc })
    // hang up on the far side too, so closed connections do not pile up there between measurements
    if (to === sb.webrtcAddresses[0]) {
      await b.page.evaluate(async (id) => (globalThis as any).cortensor.client.hangUp(id), aId)
    } else {
      await targetLibp2p.hangUp(peerIdFromString(aId))
    }
    return ms
  }
  const webrtcToNode: number[] = []
  const wsToNode: number[] = []
  const webrtcToPage: number[] = []
  for (let i = 0; i < RUNS; i++) {
    webrtcToNode.push(await dial(`${wsAddr(boot)}/p2p-circuit/webrtc/p2p/${peerId}`, true))
    wsToNode.push(await dial(peerWs, false))
    webrtcToPage.push(await dial(sb.webrtcAddresses[0], true))
  }
  figures.push({
    name: `WebRTC dial page → Node peer (node-datachannel) via relay signalling (median of ${RUNS})`,
    value: median(webrtcToNode),
    unit: 'ms',
    baseline: { name: 'WebSocket dial page → same Node peer', value: median(wsToNode) }
  })
  figures.push({
    name: `WebRTC dial page → page via relay signalling (median of ${RUNS})`,
    value: median(webrtcToPage),
    unit: 'ms',
    baseline: { name: 'WebSocket dial page → Node peer', value: median(wsToNode) }
  })
  printFigures('Browser light client', figures)
  const retries = await a.page.evaluate(() => (globalThis as any).cortensor.client.status().webrtcRetries as number)
  process.stderr.write(`WebRTC dial attempts that stalled and were retried: ${retries} of ${2 * RUNS} dials\n`)
  process.stderr.write(`browser joins ${browserJoins.map(Math.round).join(' ')} ms (from script start ${scriptJoins.map(Math.round).join(' ')}; warm ${warmJoins.map(Math.round).join(' ')}); Node joins ${nodeJoins.map(Math.round).join(' ')} ms\n` +
    `WebRTC→node ${webrtcToNode.map(Math.round).join(' ')}; WS→node ${wsToNode.map(Math.round).join(' ')}; WebRTC→page ${webrtcToPage.map(Math.round).join(' ')} ms\n`)
} finally {
  clearInterval(publisher)
  await target?.stop()
  await browser?.close()
  await app?.close()
  await net.cleanup()
  cleanupDataChannels()
  await rm(outdir, { recursive: true, force: true })
}

// time to first token on a devnet: the page and a Node client send the same prompt through the same router
const TTFT_RUNS = 7
const TTFT_PROMPT = 'the man said that water was cold'
const devnetFigures: BenchFigure[] = []
let devnet: BrowserDevnet | undefined
let devnetBrowser: Browser | undefined
try {
  devnet = await startBrowserDevnet({ defaultMaxTokens: 24 })
  const dn = devnet
  const { net } = dn.ln
  devnetBrowser = await launchChromium()
  const opened = await openPage(devnetBrowser, dn.app.url)
  await waitFor('the page on the devnet', async () => (await opened.page.evaluate(() => (globalThis as any).cortensor.client?.status().state)) === 'connected', 30000)
  const pageTtft: number[] = []
  const nodeTtft: number[] = []
  const sdkTtft: number[] = []
  const pageVerify: number[] = []
  const nodeVerify: number[] = []
  const counts = { tokens: 0, unverified: 0 }
  // interleaved, each run waits for its task to settle, so every request meets the same quiet network
  for (let i = 0; i < TTFT_RUNS; i++) {
    const fromPage = await opened.page.evaluate(async ({ prompt, model, key }) => {
      const api = (globalThis as any).cortensor
      const r = await api.submit(prompt, model, key)
      const v = r.verification
      const t = performance.now()
      await api.verifySettlement({ rpc: api.config.rpc, hub: api.config.hub, taskId: r.cortensor.taskId, outputCid: r.cortensor.outputCid, txHash: r.cortensor.txHash, miners: r.cortensor.miners })
      return { first: r.firstTokenMs as number, chunks: r.chunks as number, ok: v?.ok === true, verifyMs: performance.now() - t, info: r.cortensor }
    }, { prompt: TTFT_PROMPT, model: net.modelId, key: dn.key })
    pageTtft.push(fromPage.first)
    pageVerify.push(fromPage.verifyMs)
    counts.tokens = fromPage.chunks
    if (!fromPage.ok) {
      counts.unverified++
    }
    const req: VerifyRequest = { rpc: net.rpcUrl, hub: net.hub, taskId: fromPage.info.taskId, outputCid: fromPage.info.outputCid, txHash: fromPage.info.txHash, miners: fromPage.info.miners }
    const tv = performance.now()
    await verifySettlement(req)
    nodeVerify.push(performance.now() - tv)

    const fromNode = await streamChatCompletion({ router: dn.routerUrl, prompt: TTFT_PROMPT, apiKey: dn.key, model: net.modelId })
    if (fromNode.firstTokenMs == null || !fromNode.settled) {
      throw new Error('the Node client got no token or no settlement')
    }
    nodeTtft.push(fromNode.firstTokenMs)

    const t0 = performance.now()
    const handle = await net.client.submit(TTFT_PROMPT, { maxTokens: 24 })
    let first: number | undefined
    for await (const token of handle.tokens) {
      void token // only the arrival time of the first token is measured
      first ??= performance.now() - t0
    }
    await handle.result
    if (first == null) {
      throw new Error('the SDK got no token')
    }
    sdkTtft.push(first)
  }
  await opened.page.evaluate(async () => (globalThis as any).cortensor.disconnect()).catch(() => {})
  await opened.context.close()
  devnetFigures.push({
    name: `browser time to first token: page → router (HTTP SSE) → miners, ${counts.tokens}-token answers (median of ${TTFT_RUNS})`,
    value: median(pageTtft),
    unit: 'ms',
    baseline: { name: 'a Node client, same prompt through the same router (the same chat.ts over fetch)', value: median(nodeTtft) }
  })
  devnetFigures.push({
    name: 'Node client through the router: time to first token',
    value: median(nodeTtft),
    unit: 'ms',
    baseline: { name: 'the client SDK on the router\'s own node (no HTTP)', value: median(sdkTtft) }
  })
  devnetFigures.push({
    name: 'light verification of a settlement in the page (chain id, transaction, receipt, 3 signature recoveries)',
    value: median(pageVerify),
    unit: 'ms',
    baseline: { name: 'the same verification in Node', value: median(nodeVerify) }
  })
  printFigures('Browser light client on a devnet (anvil, 3 miners, 2 oracles, a router; tiny model)', devnetFigures)
  process.stderr.write(`time to first token: page ${pageTtft.map(Math.round).join(' ')}; Node via router ${nodeTtft.map(Math.round).join(' ')}; SDK ${sdkTtft.map(Math.round).join(' ')} ms\n` +
    `verification: page ${pageVerify.map(Math.round).join(' ')}; Node ${nodeVerify.map(Math.round).join(' ')} ms; page results not verified: ${counts.unverified} of ${TTFT_RUNS}\n`)
} finally {
  await devnetBrowser?.close()
  await devnet?.stop()
  cleanupDataChannels()
}
