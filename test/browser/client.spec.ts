/**
 * The light client's pure parts, run in Node: page settings, transport
 * classification, the SSE reader against a stand-in router, the pool view,
 * the page server, and the client itself (it runs in Node as well) joining a
 * real bootstrap and re-dialling it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import Fastify from 'fastify'
import { hexToBytes } from 'viem'
import { RouterError, SseParser, infoFromRecord, normalizeInfo, streamChatCompletion } from '../../client/browser/chat.ts'
import { checkBootstrapAddr, parseIceServers, parsePageConfig } from '../../client/browser/config.ts'
import { LightClient, transportOf } from '../../client/browser/index.ts'
import { allowsPrivateAddresses } from '../../client/browser/options.ts'
import { PoolView } from '../../client/browser/pool.ts'
import { browserAppReply, browserBootstrapAddrs, registerBrowserApp } from '../../client/browser/serve.ts'
import { Heartbeat } from '../../protocols/messages/index.ts'
import { TEST_NETWORK, TestNet, tcpAddr, waitFor } from '../fixtures/nodes.ts'
import { MINERS, MODEL_ID, startTestRouter } from '../router/fixtures.ts'
import { TEST_MODEL, TEST_PREFIX, heartbeatOf, publishHeartbeat, startBootstrap, wsAddr } from './fixtures/mesh.ts'

const BOOT = '/ip4/127.0.0.1/tcp/4002/ws/p2p/16Uiu2HAmFCJJPH7vQi28DwtwoEk4HmQeM1xpffiwfrxfs6rt2Zs'

describe('browser light client parts', function () {
  describe('page settings', function () {
    it('reads the query string over the served defaults', function () {
      const { config, errors } = parsePageConfig(`?bootstrap=${encodeURIComponent(BOOT)}&router=http://127.0.0.1:5010/&models=tiny,small&ice=stun:stun.example:3478`,
        { network: 'devnet', router: 'http://ignored' })
      expect(errors).to.deep.equal([])
      expect(config).to.deep.equal({
        bootstrap: [BOOT],
        router: 'http://127.0.0.1:5010',
        network: 'devnet',
        models: ['tiny', 'small'],
        model: 'tiny',
        iceServers: [{ urls: 'stun:stun.example:3478' }],
        autoconnect: true
      })
    })

    it('falls back to the defaults and reports bad values without using them', function () {
      const { config, errors } = parsePageConfig('?bootstrap=/ip4/1.2.3.4/tcp/1/p2p/16Uiu2HAmFCJJPH7vQi28DwtwoEk4HmQeM1xpffiwfrxfs6rt2Zs&router=ftp://x&network=a/b&ice=ftp:x&connect=0',
        { bootstrap: [BOOT] })
      expect(config.bootstrap).to.deep.equal([])
      expect(config.router).to.equal(undefined)
      expect(config.network).to.equal('cortensor')
      expect(config.iceServers).to.deep.equal([])
      expect(config.autoconnect).to.equal(false)
      expect(errors).to.have.length(4)
      expect(errors[0]).to.include('not reachable from a browser')
      expect(parsePageConfig('', { bootstrap: [BOOT], iceServers: [{ urls: 'turn:t.example' }] }).config).to.deep.include({ bootstrap: [BOOT], iceServers: [{ urls: 'turn:t.example' }] })
    })

    it('reads the chain RPC and the hub for verifying settlements', function () {
      const hub = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
      expect(parsePageConfig('', { rpc: 'http://127.0.0.1:8545/', hub }).config).to.deep.include({ rpc: 'http://127.0.0.1:8545', hub })
      expect(parsePageConfig(`?rpc=${encodeURIComponent('https://rpc.example/v1')}&hub=${hub.toLowerCase()}`, { rpc: 'http://ignored', hub: '0x0' }).config)
        .to.deep.include({ rpc: 'https://rpc.example/v1', hub: hub.toLowerCase() })
      const bad = parsePageConfig('?rpc=ws://x&hub=0x1234', { rpc: 'http://127.0.0.1:8545', hub })
      expect(bad.config).to.not.have.any.keys('rpc', 'hub')
      expect(bad.errors).to.deep.equal(['rpc ws://x is not an http(s) URL', 'hub 0x1234 is not an address (0x and 40 hex digits)'])
      expect(parsePageConfig('').config).to.not.have.any.keys('rpc', 'hub')
    })

    it('parses ICE servers as URLs or JSON, with no public STUN by default', function () {
      expect(parsePageConfig('').config.iceServers).to.deep.equal([])
      expect(parseIceServers('[{"urls":"turn:t.example:3478","username":"u","credential":"p"}]')).to.deep.equal([{ urls: 'turn:t.example:3478', username: 'u', credential: 'p' }])
      expect(parseIceServers('stun:a:1, turns:b:2')).to.deep.equal([{ urls: 'stun:a:1' }, { urls: 'turns:b:2' }])
      expect(() => parseIceServers('[{"url":"x"}]')).to.throw(/JSON array/)
      expect(checkBootstrapAddr('/ip4/127.0.0.1/tcp/1/ws')).to.include('/p2p/')
      expect(checkBootstrapAddr('not a multiaddr')).to.include('not a multiaddr')
    })

    it('dials private addresses only when the bootstrap is private', function () {
      expect(allowsPrivateAddresses({ bootstrap: [BOOT] })).to.equal(true)
      expect(allowsPrivateAddresses({ bootstrap: [BOOT.replace('127.0.0.1', '8.8.8.8')] })).to.equal(false)
      expect(allowsPrivateAddresses({ bootstrap: [BOOT.replace('127.0.0.1', '8.8.8.8')], allowPrivateAddresses: true })).to.equal(true)
    })
  })

  it('classifies connections by transport', function () {
    const relayed = `${BOOT}/p2p-circuit/p2p/16Uiu2HAm8S64MxEXES1WkVnTohFsYtyPzErpUcX2qQ5jLFkVNJQ`
    expect(transportOf(BOOT)).to.equal('websocket')
    expect(transportOf(relayed)).to.equal('relay')
    expect(transportOf(relayed.replace('/p2p-circuit/', '/p2p-circuit/webrtc/'))).to.equal('webrtc')
    expect(transportOf('/ip4/127.0.0.1/udp/1/webrtc-direct')).to.equal('webrtc-direct')
    expect(transportOf('/ip4/127.0.0.1/tcp/1')).to.equal('tcp')
  })

  describe('router stream', function () {
    it('splits server-sent events on any line ending and across chunks', function () {
      const p = new SseParser()
      expect(p.push('data: a\r')).to.deep.equal([])
      expect(p.push('\ndata: b\r\n\r\n: comment\nevent: x\ndata:c')).to.deep.equal([{ event: 'message', data: 'a\nb' }])
      expect(p.push('\n\n')).to.deep.equal([{ event: 'x', data: 'c' }])
      expect(p.push('data: tail')).to.deep.equal([])
      expect(p.end()).to.deep.equal([{ event: 'message', data: 'tail' }])
    })

    it('streams tokens from the router, then follows the task to its settlement', async function () {
      const router = await startTestRouter()
      try {
        const tokens: string[] = []
        const infos: any[] = []
        const res = await streamChatCompletion({ router: `${router.base}/`, prompt: 'hi', model: MODEL_ID, apiKey: router.key, maxTokens: 8, followIntervalMs: 50 }, {
          onToken: (t) => tokens.push(t),
          onInfo: (i) => infos.push(i)
        })
        expect(tokens).to.deep.equal(['Hello', ',', ' world', '!'])
        expect(res.text).to.equal('Hello, world!')
        expect(res.finishReason).to.equal('stop')
        expect(res.settled).to.equal(true)
        expect(res.cortensor).to.deep.include({ taskId: '1', sessionId: '1', status: 'settled', outputCid: 'bafkreitest1', txHash: `0x${'1'.padStart(64, 'a')}` })
        expect(res.cortensor.miners).to.deep.equal(MINERS.map(address => ({ address, outcome: 'accepted' })))
        expect(infos[0]).to.deep.equal({ taskId: '1', sessionId: '1', status: 'generating' })
        expect(res.firstTokenMs).to.be.a('number')
        expect(res.totalMs).to.be.at.least(res.streamMs)
        expect(router.client.submits[0].prompt).to.include('hi')
        expect(router.client.submits[0].params.maxTokens).to.equal(8)
      } finally {
        await router.close()
      }
    })

    it('turns an error answer into a RouterError', async function () {
      const router = await startTestRouter()
      try {
        const err = await streamChatCompletion({ router: router.base, prompt: 'hi', model: MODEL_ID }).catch(e => e)
        expect(err).to.be.an.instanceOf(RouterError)
        expect(err.status).to.equal(401)
        expect(err.code).to.equal('missing_api_key')
      } finally {
        await router.close()
      }
    })

    it('reads the router\'s snake_case fields and task records', function () {
      expect(normalizeInfo({ task_id: '3', output_cid: 'bafy', tx_hash: '0x1', first_token_at_ms: null })).to.deep.equal({ taskId: '3', outputCid: 'bafy', txHash: '0x1' })
      expect(infoFromRecord({ taskId: '3', sessionId: '1', status: 'validated', miners: ['0xa'] })).to.deep.equal({ taskId: '3', sessionId: '1', status: 'validated', miners: [{ address: '0xa' }] })
    })
  })

  it('keeps the latest heartbeat per miner and forgets quiet ones', function () {
    const pool = new PoolView(1000)
    const hb = (seq: bigint, models = ['tiny']): Heartbeat => ({
      node: new Uint8Array(hexToBytes('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')),
      models,
      hardwareClass: 'cpu',
      level: 2,
      tokensPerSecondMilli: 12_500,
      loadPermille: 500,
      reservedBySession: 3n,
      timestampMs: 1n,
      seq
    })
    expect(pool.update(hb(2n), 'peer', 0)?.address).to.equal('0x70997970C51812dc3A010C7d01b50e0d17dc79C8')
    expect(pool.update(hb(1n, ['old']), 'peer', 10)).to.equal(undefined)
    expect(pool.miners(20)).to.deep.equal([{
      address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      peerId: 'peer',
      models: ['tiny'],
      hardwareClass: 'cpu',
      level: 2,
      tokensPerSec: 12.5,
      load: 0.5,
      reservedBySession: '3',
      lastSeenMs: 0,
      seq: '2'
    }])
    expect(pool.models(20)).to.deep.equal([{ id: 'tiny', miners: 1 }])
    expect(pool.miners(2000)).to.deep.equal([])
  })

  describe('page server', function () {
    it('serves only the built files and the defaults', async function () {
      const defaults = { bootstrap: [BOOT], network: 'devnet' }
      const cfg = await browserAppReply('/config.json', { defaults: () => defaults })
      expect(JSON.parse(String(cfg.body))).to.deep.equal(defaults)
      for (const path of ['../package.json', '..%2Fpackage.json', 'build.ts', '/etc/passwd']) {
        expect((await browserAppReply(path, { dir: '/nonexistent' })).status).to.equal(404)
      }
      const missing = await browserAppReply('/', { dir: '/nonexistent' })
      expect(missing.status).to.equal(404)
      expect(String(missing.body)).to.include('npm run build:browser')
    })

    it('mounts on a node\'s Fastify server', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'cortensor-page-files-'))
      const app = Fastify()
      try {
        await writeFile(join(dir, 'index.html'), '<!doctype html><title>page</title>')
        registerBrowserApp(app, { dir, defaults: ({ host }) => ({ bootstrap: [BOOT], router: `http://${host ?? ''}` }) })
        expect((await app.inject('/browser')).headers.location).to.equal('/browser/')
        const page = await app.inject('/browser/')
        expect(page.statusCode).to.equal(200)
        expect(page.headers['content-type']).to.include('text/html')
        expect(page.headers['x-content-type-options']).to.equal('nosniff')
        expect((await app.inject({ url: '/browser/config.json', headers: { host: '10.0.0.5:8090' } })).json()).to.deep.equal({ bootstrap: [BOOT], router: 'http://10.0.0.5:8090' })
        expect((await app.inject('/browser/page.js')).statusCode).to.equal(404)
        expect((await app.inject('/browser/%2e%2e/%2e%2e/package.json')).statusCode).to.equal(404)
      } finally {
        await app.close()
        await rm(dir, { recursive: true, force: true })
      }
    })

    it('offers a node\'s WebSocket addresses, the page\'s host first', function () {
      const id = '16Uiu2HAmFCJJPH7vQi28DwtwoEk4HmQeM1xpffiwfrxfs6rt2Zs'
      const addrs = [`/ip4/127.0.0.1/tcp/4001/p2p/${id}`, '/ip4/127.0.0.1/tcp/4002/ws', `/ip4/10.0.0.5/tcp/4002/ws/p2p/${id}`, `/ip4/10.0.0.5/tcp/4002/ws/p2p/${id}/p2p-circuit`]
      expect(browserBootstrapAddrs(addrs, id, '10.0.0.5:8090')).to.deep.equal([`/ip4/10.0.0.5/tcp/4002/ws/p2p/${id}`, `/ip4/127.0.0.1/tcp/4002/ws/p2p/${id}`])
    })
  })

  describe('light client in Node', function () {
    const net = new TestNet()
    let client: LightClient | undefined

    after(async function () {
      await client?.stop()
      await net.cleanup()
    })

    it('joins a bootstrap over WebSockets, follows gossip and re-dials a dropped bootstrap', async function () {
      const boot = await startBootstrap(net)
      const miner = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(boot)] })
      client = new LightClient({ bootstrap: [wsAddr(boot)], network: TEST_NETWORK, models: [TEST_MODEL], reconnect: { initialDelayMs: 50 } })
      const pools: number[] = []
      client.addEventListener('pool', (e) => pools.push(e.detail.length))
      await client.start()
      expect(client.status().state).to.equal('connected')
      expect(client.topics).to.include(`${TEST_PREFIX}/1/heartbeat/${TEST_MODEL}`).and.include(`${TEST_PREFIX}/1/verdict`)
      let seq = 0n
      await waitFor('a heartbeat in the pool', async () => {
        await publishHeartbeat(miner, ++seq)
        return client?.pool().length === 1
      }, 20000, 200)
      expect(client.pool()[0].address.toLowerCase()).to.equal(miner.peerIdentity.address.toLowerCase())
      expect(client.models()).to.deep.equal([{ id: TEST_MODEL, miners: 1 }])
      expect(pools[0]).to.equal(1)
      // a forged heartbeat (fields that fail the structural checks) never reaches the pool or the events
      const bad = { ...heartbeatOf(miner, 10_000n), models: [] }
      await miner.libp2p.services.pubsub.publish(`${TEST_PREFIX}/1/heartbeat/${TEST_MODEL}`, Heartbeat.encode(bad))
      await new Promise(resolve => setTimeout(resolve, 300))
      expect(client.pool()[0].seq).to.not.equal('10000')

      await boot.libp2p.hangUp(client.libp2p.peerId)
      await waitFor('the client back on the bootstrap', () => client?.status().reconnects === 1 && client.status().state === 'connected' ? true : undefined, 20000)
    })

    it('an unreachable bootstrap fails start() with BootstrapDialError, is re-dialled in the background, and stop() ends the retries', async function () {
      const nobody = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      const lone = new LightClient({ bootstrap: [`/ip4/127.0.0.1/tcp/9/ws/p2p/${nobody}`], network: TEST_NETWORK, reconnect: { initialDelayMs: 20, maxDelayMs: 40 } })
      try {
        const err = await lone.start().then(() => undefined, (e: Error) => e)
        expect(err?.name).to.equal('BootstrapDialError')
        expect(lone.status().state).to.equal('reconnecting')
        await waitFor('two re-dials', () => lone.status().reconnects >= 2 ? true : undefined, 20000, 10)
      } finally {
        await lone.stop()
      }
      const after = lone.status().reconnects
      await new Promise(resolve => setTimeout(resolve, 400))
      expect(lone.status().reconnects).to.equal(after)
      expect(lone.status().state).to.equal('stopped')
    })
  })
})
