import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { NoEligibleMinerError } from '../../client/index.ts'
import { createSession, getSession } from '../../contracts/index.ts'
import { resolveConfig } from '../../node/config.ts'
import { CortensorNode } from '../../node/node.ts'
import { createChainContext } from '../../node/roles/shared/chain.ts'
import { PoolView } from '../../node/roles/shared/pool.ts'
import { installGossip, defaultValidators } from '../../protocols/gossip/index.ts'
import { findPoolMiners } from '../../protocols/pool/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { Hex } from 'viem'

const verbose = process.env.CORTENSOR_TEST_VERBOSE != null

/** A session of the network's client with its own terms (startNetwork makes one long session only). */
async function openSession (ln: LifecycleNet, terms: { redundancy: number, reservePeriodS: number, maxTasks: number }): Promise<bigint> {
  const { net } = ln
  const chain = net.client.init.chain
  const { sessionId } = await chain.serial(async () => createSession(chain.wallet, {
    hub: net.hub,
    modelId: net.modelId as Hex,
    redundancy: terms.redundancy,
    minMiners: 1,
    maxMiners: terms.redundancy,
    validationMode: 0,
    slaClass: 1,
    reservePeriodS: terms.reservePeriodS,
    maxTasks: terms.maxTasks,
    pricePerTokenWei: 10n ** 9n,
    // enough for thousands of short tasks; the client's account funds every session of the suite
    depositWei: parseEther('0.01')
  }))
  return sessionId
}

/** What each miner says from now on, by address (its lines still go where they went). */
function captureLines (ln: LifecycleNet): Map<string, string[]> {
  const lines = new Map<string, string[]>()
  for (const m of ln.net.miners) {
    const own: string[] = []
    lines.set(m.role.address, own)
    const prev = m.role.init.onLine
    m.role.init.onLine = (l) => { own.push(l); prev?.(l) }
  }
  return lines
}

/** A node that is neither miner nor oracle: no heartbeat has ever reached it. */
async function freshNode (ln: LifecycleNet, dir: string): Promise<CortensorNode> {
  const config = await resolveConfig({
    env: {},
    flags: { role: ['oracle'], network: ln.net.clientNode.config.network, dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [ln.net.bootstrapAddr] }
  })
  const node = new CortensorNode(config)
  await node.start()
  return node
}

describe('node pool: DHT pool keys and ephemeral reservations', function () {
  this.timeout(300_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet
  let dir: string

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-pool-'))
    // reservations end on their terms only, until the idle test shortens the idle end
    ln = await startLifecycleNet({ miners: 4, oracles: 1, redundancy: 1, reservationIdleMs: 600_000 })
    // startNetwork gives miners no chain reader: attach one, so they read session terms and their level
    for (const m of ln.net.miners) {
      m.role.init.chain = await createChainContext({ rpcUrl: ln.net.rpcUrl, hub: ln.net.hub, privateKey: m.node.peerIdentity.privateKey })
    }
  })

  after(async function () {
    await ln?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('finds the miners of a model on the DHT, with no heartbeat seen, and none under another model\'s key', async function () {
    const { net } = ln
    const node = await freshNode(ln, join(dir, 'lookup'))
    try {
      const network = node.config.network
      const miners = net.miners.map(m => m.node.libp2p.peerId.toString()).sort()
      // the miners provide their keys once their routing tables have peers: wait until all are found
      const found = await waitFor('all miners under the model\'s pool key', async () => {
        const list = await findPoolMiners(node.libp2p, network, { model: net.modelId }, { timeoutMs: 5000 })
        return list.length >= miners.length ? list : undefined
      }, 90_000, 500)
      expect(found.map(m => m.peerId.toString()).sort()).to.deep.equal(miners)
      const t0 = performance.now()
      const again = await findPoolMiners(node.libp2p, network, { model: net.modelId })
      const ms = performance.now() - t0
      if (verbose) {
        process.stderr.write(`pool lookup on loopback: ${again.length} miners in ${ms.toFixed(0)} ms\n`)
      }
      expect(again.map(m => m.peerId.toString()).sort()).to.deep.equal(miners)
      // the narrower keys a miner provides: its hardware class, its level, both
      const { hardwareClass, level } = net.miners[0].role.advert
      const narrow = await findPoolMiners(node.libp2p, network, { model: net.modelId, hardwareClass, level })
      expect(narrow.map(m => m.peerId.toString()).sort()).to.deep.equal(miners)
      expect(await findPoolMiners(node.libp2p, network, { model: net.modelId, level: level + 1 }, { timeoutMs: 5000 })).to.deep.equal([])
      expect(await findPoolMiners(node.libp2p, network, { model: '0x' + '00'.repeat(32) }, { timeoutMs: 5000 })).to.deep.equal([])
      expect(await findPoolMiners(node.libp2p, 'another-network', { model: net.modelId }, { timeoutMs: 5000 })).to.deep.equal([])

      // a view with no miner in it looks the pool up on the DHT (before any heartbeat can reach it),
      // then fills from the heartbeats that follow
      const view = new PoolView(2000)
      const lookups: number[] = []
      const discovery = view.discover({ libp2p: node.libp2p, network, models: [net.modelId], onLookup: (_, m) => { lookups.push(m.length) } })
      let uninstall: (() => void) | undefined
      try {
        await waitFor('the first DHT lookup of the empty view', () => lookups.length > 0, 60_000, 100)
        expect(lookups[0]).to.equal(miners.length)
        uninstall = installGossip(node.libp2p.services.pubsub, {
          prefix: `/${network}`,
          models: [net.modelId],
          validators: defaultValidators(),
          handlers: {
            task: () => {},
            assignment: () => {},
            ack: () => {},
            decline: () => {},
            precommit: () => {},
            reveal: () => {},
            verdict: () => {},
            'first-token': () => {},
            heartbeat: (m, meta) => { if (meta.from != null) { view.onHeartbeat(m, meta.from) } }
          }
        })
        await waitFor('every miner in the fresh view', () => view.serving(net.modelId).length === miners.length, 60_000, 100)
      } finally {
        discovery.stop()
        uninstall?.()
      }
    } finally {
      await node.stop()
    }
  })

  it('a miner reserved by session A is not drawn for session B, whose task completes on the others; it serves again once A\'s reserve period ends, and a session\'s task budget frees it too', async function () {
    const { net } = ln
    const oracle = net.oracles[0].role
    const A = await openSession(ln, { redundancy: 1, reservePeriodS: 30, maxTasks: 1000 })
    const B = await openSession(ln, { redundancy: 3, reservePeriodS: 3600, maxTasks: 1000 })
    const C = await openSession(ln, { redundancy: 1, reservePeriodS: 3600, maxTasks: 1 })
    const reservedBy = (address: string): bigint | undefined => oracle.pool.get(address)?.heartbeat.reservedBySession
    // what each miner says about its reservations
    const lines = captureLines(ln)

    const taskA = await net.client.submit('the first session asks', { maxTokens: 8, sessionId: A })
    // the leader's pool (its selection input) learns the reservation from the miner's heartbeat
    const x = await waitFor('a miner reserved by session A in the leader\'s pool', () => oracle.pool.list().find(e => e.heartbeat.reservedBySession === A), 60_000, 50)
    const miner = net.miners.find(m => m.role.address === x.address)
    expect(miner?.role.reservedFor?.sessionId).to.equal(A)

    const taskB = await net.client.submit('the second session asks', { maxTokens: 8, sessionId: B })
    let reservedAtAssignment: bigint | undefined
    taskB.onUpdate(u => {
      if (u.status === 'assigned' && reservedAtAssignment == null) {
        reservedAtAssignment = reservedBy(x.address) ?? 0n
      }
    })
    const [resultA, resultB] = await Promise.all([taskA.result, taskB.result])
    expect(resultA.miners.map(m => m.address)).to.deep.equal([x.address])
    expect(resultA.miners[0].outcome).to.equal('accepted')
    // the premise: the reservation still held when B's task was drawn
    expect(reservedAtAssignment).to.equal(A)
    expect(resultB.miners).to.have.length(3)
    expect(resultB.miners.map(m => m.address)).to.not.include(x.address)
    expect(resultB.miners.every(m => m.outcome === 'accepted')).to.equal(true)
    // the three others are now B's for an hour
    for (const m of resultB.miners) {
      expect(net.miners.find(h => h.role.address === m.address)?.role.reservedFor?.sessionId).to.equal(B)
    }

    // A's reserve period (30 s from the miner's ack) ends: the miner frees itself and says so in its heartbeat
    await waitFor('the miner freed after session A\'s reserve period', () => reservedBy(x.address) === 0n, 120_000, 100)
    expect(miner?.role.reservedFor).to.equal(undefined)
    expect(lines.get(x.address)).to.include(`reservation for session ${A} ended (its reserve period is over): free for any session`)

    // the only miner session C can get is that one (every other is B's); C's budget is one task
    const resultC = await (await net.client.submit('a third session asks', { maxTokens: 8, sessionId: C })).result
    expect(resultC.miners.map(m => m.address)).to.deep.equal([x.address])
    expect(resultC.miners[0].outcome).to.equal('accepted')
    // C's only task is done: the miner is free again although C's reserve period has an hour to go
    await waitFor('the miner freed once session C\'s task budget is spent', () => reservedBy(x.address) === 0n, 60_000, 100)
    expect(lines.get(x.address)).to.include(`reserved for session ${C}`)
    expect(lines.get(x.address)).to.include(`reservation for session ${C} ended (its task budget is spent): free for any session`)
    // B's miners never served another session meanwhile
    for (const m of resultB.miners) {
      expect(lines.get(m.address)?.filter(l => l.startsWith('reserved for session ') && !l.startsWith(`reserved for session ${B}`))).to.deep.equal([])
    }
  })

  it('a task no miner is free for is refused at once, saying which session holds them; a reservation ends once its session has sent no task for a while, and the next session is served', async function () {
    const { net } = ln
    const oracle = net.oracles[0].role
    const IDLE_S = 3
    const lines = captureLines(ln)
    const setIdle = (ms: number): void => { for (const m of net.miners) { m.role.init.reservationIdleMs = ms } }
    const free = (): boolean => net.miners.every(m => m.role.reservedFor == null && oracle.pool.get(m.role.address)?.heartbeat.reservedBySession === 0n)
    // whatever the test above left reserved ends once it has been idle that long
    setIdle(IDLE_S * 1000)
    await waitFor('every miner free', free, 60_000, 100)
    setIdle(600_000)

    // D takes the whole pool for an hour, with budget to spare
    const D = await openSession(ln, { redundancy: 4, reservePeriodS: 3600, maxTasks: 1000 })
    const E = await openSession(ln, { redundancy: 1, reservePeriodS: 3600, maxTasks: 1000 })
    const resultD = await (await net.client.submit('a session that takes every miner', { maxTokens: 8, sessionId: D })).result
    expect(resultD.miners.map(m => m.outcome)).to.deep.equal(['accepted', 'accepted', 'accepted', 'accepted'])
    await waitFor('the client\'s view of D\'s reservations', () => net.client.miners().every(m => m.reservedBySession === D.toString()), 30_000, 100)

    // E asks while D holds every miner: refused before anything is paid, naming D
    const { taskCount } = await getSession(net.owner, { hub: net.hub, sessionId: E })
    net.client.init.eligibleWaitMs = 500
    const err = await net.client.submit('the next session asks', { maxTokens: 8, sessionId: E }).then(() => null, (e: Error) => e)
    net.client.init.eligibleWaitMs = undefined
    expect(err).to.be.instanceOf(NoEligibleMinerError)
    const refusal = err as NoEligibleMinerError
    expect(refusal.reason).to.equal('miners-reserved')
    expect([refusal.needed, refusal.serving, refusal.available]).to.deep.equal([1, 4, 0])
    expect(refusal.message).to.include(`reserved by session ${D} (4 miners`)
    expect((await getSession(net.owner, { hub: net.hub, sessionId: E })).taskCount).to.equal(taskCount)

    // once D has been idle IDLE_S seconds its miners free themselves, and E's task is served
    setIdle(IDLE_S * 1000)
    const resultE = await (await net.client.submit('the next session asks again', { maxTokens: 8, sessionId: E })).result
    expect(resultE.miners).to.have.length(1)
    expect(resultE.miners[0].outcome).to.equal('accepted')
    expect(lines.get(resultE.miners[0].address)).to.include(`reservation for session ${D} ended (the session sent no task for ${IDLE_S} s): free for any session`)
    expect(lines.get(resultE.miners[0].address)).to.include(`reserved for session ${E}`)
  })
})
