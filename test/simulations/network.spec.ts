import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { Heartbeat } from '../../protocols/messages/index.ts'
import { buildTopic } from '../../protocols/topics.ts'
import * as C from '../../simulations/network-constants.ts'
import { framed, lookupQueries, messagesPerTask, networkLoad, wireSizes } from '../../simulations/network.ts'

const varint = (n: number): number => n < 0x80 ? 1 : n < 0x4000 ? 2 : 3
/** a protobuf length-delimited field: tag, length, bytes */
const field = (len: number): number => 1 + varint(len) + len

describe('simulations/network (load model)', () => {
  it('sizes a heartbeat as gossipsub carries it: the signed message in an RPC, a length prefix, yamux and noise', () => {
    const model = `0x${'ab'.repeat(32)}`
    const now = BigInt(Date.UTC(2026, 0, 1))
    const data = Heartbeat.encode({ node: new Uint8Array(20), models: [model], hardwareClass: 'gpu', level: 2, tokensPerSecondMilli: 42_000, loadPermille: 333, reservedBySession: 1000n, reservedUntilMs: now, timestampMs: now, seq: 100_000n, contextTokens: 8192, intervalMs: 60_000 })
    // Message { from, data, seqno, topic, signature } inside RPC { messages }
    const message = field(C.PEER_ID_BYTES) + field(data.byteLength) + field(8) + field(buildTopic('heartbeat', model).length) + field(C.GOSSIP_SIGNATURE_BYTES)
    const rpc = field(message)
    const payload = rpc + varint(rpc)
    const size = wireSizes({ redundancy: 3, promptBytes: 1024 }).heartbeat
    expect(size.payload).to.equal(payload)
    expect(size.wire).to.equal(payload + 12 + 18)
  })

  it('heartbeats alone: each node gets each other miner\'s heartbeat from D − 1 mesh peers and floods its own to every topic peer', () => {
    for (const [nodes, D, H, connections] of [[10_000, 6, 60, 16], [100_000, 8, 300, 32], [2_000, 4, 10, 8]]) {
      const load = networkLoad({ nodes, models: 1, oracles: 7, routers: 10, meshDegree: D, heartbeatIntervalS: H, connections, taskRatePerS: 0, dht: false, ihave: false })
      const hb = load.sizes.heartbeat.wire
      const others = (nodes - 1) / H
      const miner = load.roles.miner.sources.heartbeat
      // closed form: per-node bytes in = (N_topic − 1) × size × (D − 1) / interval
      expect(miner.bytesIn).to.be.closeTo(others * hb * (D - 1), 1e-6)
      expect(miner.bytesOut).to.be.closeTo(others * hb * (D - 1) + connections * hb / H, 1e-6)
      expect(miner.firstSeen).to.be.closeTo(others, 1e-9)
      // an oracle publishes none: it receives every miner's
      expect(load.roles.oracle.sources.heartbeat.bytesIn).to.be.closeTo(nodes / H * hb * (D - 1), 1e-6)
      // nothing else when idle without the DHT and IHAVE
      const t = load.roles.miner.total
      expect(t.bytesIn + t.bytesOut).to.be.closeTo(miner.bytesIn + miner.bytesOut, 1e-6)
    }
  })

  it('IHAVE: each gossip heartbeat, the last 3 s of message ids to max(Dlazy, 25 % of the non-mesh peers)', () => {
    const nodes = 50_000
    const H = 100
    const connections = 64
    const load = networkLoad({ nodes, models: 1, heartbeatIntervalS: H, connections, taskRatePerS: 0, dht: false })
    const sizes = load.sizes
    const targets = Math.max(C.GOSSIP_D_LAZY, Math.ceil(0.25 * (connections - C.GOSSIP_D)))
    const ids = (nodes / H) * 3
    // 500 heartbeats/s: an IHAVE goes out every gossip heartbeat (1 − e^−1500 = 1)
    const perS = targets * (ids * sizes.ihavePerId + sizes.ihaveBase.payload + framed(0))
    expect(load.roles.miner.sources.ihave.bytesOut).to.be.closeTo(perS, perS * 1e-9)
    expect(load.roles.miner.sources.ihave.bytesIn).to.equal(load.roles.miner.sources.ihave.bytesOut)
  })

  it('task messages on the topics protocols/topics.ts scopes globally reach every node; split per model they do not', () => {
    const rate = 10
    const global = networkLoad({ nodes: 10_000, models: 100, taskRatePerS: rate, dht: false, ihave: false })
    const split = networkLoad({ nodes: 10_000, models: 100, taskRatePerS: rate, dht: false, ihave: false, splitAllTopics: true })
    const perTask = messagesPerTask(3)
    // a miner checks every precommit of the network, or only its model's
    expect(global.roles.miner.sources.precommit.firstSeen).to.be.closeTo(rate * perTask.precommit * (1 - 1 / 10_000), 1e-9)
    expect(split.roles.miner.sources.precommit.firstSeen).to.be.closeTo(rate * perTask.precommit * (1 - 100 / 10_000) / 100, 1e-9)
    // task announcements are per model in both layouts
    expect(split.roles.miner.sources.task.firstSeen).to.be.closeTo(global.roles.miner.sources.task.firstSeen, 1e-12)
  })

  it('miners publish their reveals to a few joined peers and receive nobody\'s; oracles receive every reveal and first-token report', () => {
    const rate = 10
    const load = networkLoad({ nodes: 10_000, taskRatePerS: rate, dht: false, ihave: false })
    const perTask = messagesPerTask(3)
    const miner = load.roles.miner.sources
    // its own reveals (3 per task spread over 10,000 miners) to 2 connected peers that joined, nothing in
    expect({ in: miner.reveal.msgsIn, firstSeen: miner.reveal.firstSeen, cpu: miner.reveal.cpuMs }).to.deep.equal({ in: 0, firstSeen: 0, cpu: (rate * perTask.reveal / 10_000) * 2 * C.WIRE_MESSAGE_MS })
    expect(miner.reveal.msgsOut).to.be.closeTo(rate * perTask.reveal / 10_000 * 2, 1e-12)
    expect(miner['first-token'].msgsIn + miner['first-token'].msgsOut).to.equal(0)
    // an oracle checks every one once
    expect(load.roles.oracle.sources.reveal.firstSeen).to.be.closeTo(rate * perTask.reveal, 1e-9)
    expect(load.roles.oracle.sources['first-token'].firstSeen).to.be.closeTo(rate * perTask['first-token'], 1e-9)
    // announcing each task's blocks on the DHT (`--announce-blocks`) costs every miner more
    const dht = (announceBlocks: boolean): number => networkLoad({ nodes: 10_000, taskRatePerS: rate, announceBlocks }).roles.miner.sources.dht.cpuMs
    expect(dht(true)).to.be.above(dht(false))
  })

  it('a DHT lookup queries α per halving of the distance, then the K closest; the DHT cost grows with log N', () => {
    expect(lookupQueries(20 * 1024)).to.equal(3 * 10 + 20)
    expect(lookupQueries(100_000)).to.be.above(lookupQueries(10_000))
    const a = networkLoad({ nodes: 10_000 }).roles.miner.sources.dht
    const b = networkLoad({ nodes: 100_000 }).roles.miner.sources.dht
    expect(b.bytesIn).to.be.above(a.bytesIn)
    expect(b.bytesIn / a.bytesIn).to.be.below(2)
  })

  /**
   * `npm run bench -- cost` on the development machine (3 miners, 2 oracles,
   * a router and a bootstrap, each in its own process): an idle miner's and
   * oracle's gossip (`/meshsub/1.2.0`, stream bytes in + out), with
   * heartbeats every 2 s (before they went to 10 s) and every 10 s. The
   * model, on the same layout (7 gossip nodes, all connected, so everyone
   * else is in the mesh), predicts each within a third: what it leaves out
   * (subscription and mesh-maintenance RPCs) is small.
   */
  it('predicts the gossip bytes of the cost benchmark\'s idle miner and oracle', () => {
    const measured = [
      { heartbeatS: 2, miner: 5602, oracle: 6414 },
      { heartbeatS: 10, miner: 1098, oracle: 1292 }
    ]
    for (const m of measured) {
      const load = networkLoad({ nodes: 3, oracles: 2, routers: 2, heartbeatIntervalS: m.heartbeatS, connections: 6, taskRatePerS: 0, dht: false })
      for (const role of ['miner', 'oracle'] as const) {
        const s = load.roles[role].sources
        const predicted = s.heartbeat.payloadBytes + s.ihave.payloadBytes
        expect(predicted / m[role], `${role}, heartbeats every ${m.heartbeatS} s`).to.be.within(2 / 3, 1.5)
      }
    }
  })

  describe('cortensor sim network (CLI)', function () {
    this.timeout(120_000)
    let dir: string
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cortensor-simnet-')) })
    afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

    const cortensor = (...args: string[]): { status: number | null, stdout: string, stderr: string } => {
      const res = spawnSync(process.execPath, ['bin/cortensor.js', ...args], { encoding: 'utf8', timeout: 120_000 })
      return { status: res.status, stdout: res.stdout, stderr: res.stderr.split('\n').filter(l => !/ExperimentalWarning|--trace-warnings/.test(l)).join('\n') }
    }

    it('prints the per-node and per-task tables and, with --sweep, the recommendation and network.csv', () => {
      const r = cortensor('sim', 'network', '--nodes', '1000,10000', '--models', '10', '--sweep', '--out', dir)
      expect(r.status, r.stderr).to.equal(0)
      expect(r.stdout).to.include('| 10000 | idle | miner |')
      expect(r.stdout).to.include('The oracle\'s work per task')
      expect(r.stdout).to.include('Shortest heartbeat period')
      expect(existsSync(join(dir, 'network.csv'))).to.equal(true)
      expect(readFileSync(join(dir, 'network.csv'), 'utf8').split('\n')[0]).to.include('heartbeat_s')
    })

    it('a bad flag exits 2 with one line naming it', () => {
      for (const [flag, value] of [['--mesh-degree', '0'], ['--nodes', '10k'], ['--heartbeat-s', 'soon']]) {
        const r = cortensor('sim', 'network', flag, value)
        expect(r.status).to.equal(2)
        expect(r.stderr.trim().split('\n')).to.have.length(1)
        expect(r.stderr).to.include(flag)
      }
    })
  })
})
