import { expect } from 'aegir/chai'
import { TestNet, tcpAddr, waitFor } from '../fixtures/nodes.ts'
import type { CortensorNode } from '../../node/node.ts'

/** Prometheus text exposition format, line by line. */
const COMMENT = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/
// values as Prometheus parses them (Go's ParseFloat): NaN in any case (prom-client writes `Nan` for a
// histogram with no sample yet, e.g. the event-loop lag in a node's first second)
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-]Inf)( -?\d+)?$/

describe('bootstrap http: /health and /metrics', function () {
  const net = new TestNet()
  let boot: CortensorNode
  let base: string

  before(async function () {
    boot = await net.start({ roles: ['bootstrap'], httpPort: 0 })
    base = `http://127.0.0.1:${boot.httpPort}`
    const peer = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(boot)] })
    await waitFor('peer in routing table', () => boot.health().dht.routingTableSize >= 1 && peer.libp2p.getPeers().length > 0)
  })

  after(async function () {
    await net.cleanup()
  })

  it('GET /health reports identity, addresses, peers, DHT and uptime', async function () {
    const res = await fetch(`${base}/health`)
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/application\/json/)
    const body = await res.json()
    expect(body.status).to.equal('ok')
    expect(body.peerId).to.equal(boot.libp2p.peerId.toString())
    expect(body.address).to.equal(boot.peerIdentity.address)
    expect(body.roles).to.deep.equal(['bootstrap'])
    expect(body.addresses.length).to.be.greaterThanOrEqual(2)
    expect(body.connectedPeers).to.equal(1)
    expect(body.dht).to.deep.equal({ mode: 'server', routingTableSize: 1 })
    expect(body.uptimeSeconds).to.be.a('number')
  })

  it('GET /metrics is valid Prometheus text with libp2p and process metrics', async function () {
    const res = await fetch(`${base}/metrics`)
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/)
    const lines = (await res.text()).split('\n').filter(l => l !== '')
    const bad = lines.filter(l => !COMMENT.test(l) && !SAMPLE.test(l))
    expect(bad, bad.slice(0, 3).join('\n')).to.deep.equal([])
    const names = new Set(lines.filter(l => !l.startsWith('#')).map(l => l.split(/[{ ]/)[0]))
    expect([...names].some(n => n.startsWith('libp2p_'))).to.equal(true)
    expect(names.has('process_cpu_seconds_total') || names.has('process_cpu_user_seconds_total')).to.equal(true)
    expect(names.has('nodejs_heap_size_used_bytes')).to.equal(true)
  })

  it('answers an unknown route with a 404 JSON error body', async function () {
    const res = await fetch(`${base}/nope`)
    expect(res.status).to.equal(404)
    const body = await res.json()
    expect(body.error.code).to.equal('not_found')
  })

  it('serves libp2p metrics from a node restarted in the same process', async function () {
    const dataDir = await net.tempDir()
    const first = await net.start({ roles: ['bootstrap'], httpPort: 0, dataDir })
    await first.stop()
    const again = await net.start({ roles: ['bootstrap'], httpPort: 0, dataDir })
    const text = await (await fetch(`http://127.0.0.1:${again.httpPort}/metrics`)).text()
    expect(text).to.match(/^libp2p_/m)
  })

  it('refuses a second node on the same data dir, naming --data-dir', async function () {
    const err = await net.start({ dataDir: boot.config.dataDir }).then(() => undefined, (e: Error) => e)
    expect(err?.name).to.equal('ConfigError')
    expect(err?.message).to.match(/^--data-dir: .* is in use by another running node/)
  })
})
