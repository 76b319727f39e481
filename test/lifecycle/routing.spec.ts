/**
 * Routing by measured capability on a real network: two fast miners, a slow
 * one (an engine really throttled, one sequence) and a liar (the same slow
 * engine, advertising 3000 tokens/s); two oracles, so every round-0 draw of
 * the leader is checked by the follower from its own view.
 */
import { expect } from 'aegir/chai'
import { getSession } from '../../contracts/index.ts'
import { drawRecords } from '../../node/roles/oracle/draws.ts'
import { FAST_MIN_TOKENS_PER_SEC, routedDraw, slaFor } from '../../protocols/selection/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { openSlaSession, reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { TaskResult } from '../../client/index.ts'

/** the slow engines' speed: 48 tokens take over 3 s, far below the fast SLA */
const SLOW_TOKENS_PER_SEC = 15
const LIAR_CLAIM_TOKENS_PER_SEC = 3000
const MAX_TOKENS = 48

describe('routing: measured capability, SLA, load', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet
  let fast: string[]
  let slow: string
  let liar: string

  const openSession = async (slaClass: number, redundancy: number): Promise<bigint> => openSlaSession(ln, slaClass, redundancy)
  const run = async (sessionId: bigint, prompt: string, maxTokens = MAX_TOKENS): Promise<TaskResult> =>
    (await ln.net.client.submit(prompt, { maxTokens, sessionId })).result
  const minersOf = (r: TaskResult): string[] => r.miners.map(m => m.address).sort()
  /** every miner free again (reservations end once their session is idle for reservationIdleMs) */
  const allFree = async (): Promise<void> => {
    await waitFor('every miner free in the oracles\' pools', () => ln.net.oracles.every(o => ln.net.miners.every(m => o.role.pool.get(m.role.address)?.heartbeat.reservedBySession === 0n)), 30_000, 100)
  }

  before(async function () {
    ln = await startLifecycleNet({
      miners: 4,
      oracles: 2,
      redundancy: 1,
      heartbeatIntervalMs: 1000,
      reservationIdleMs: 1000,
      minerSequences: [undefined, undefined, 1, undefined],
      minerFaults: [undefined, undefined, { throttleTokensPerSec: SLOW_TOKENS_PER_SEC }, { throttleTokensPerSec: SLOW_TOKENS_PER_SEC, claimTokensPerSec: LIAR_CLAIM_TOKENS_PER_SEC }]
    })
    const addresses = ln.net.miners.map(m => m.role.address)
    fast = addresses.slice(0, 2).sort()
    slow = addresses[2]
    liar = addresses[3]
  })

  after(async function () {
    await ln?.stop()
  })

  it('miners advertise their measured speed, first-token time and hardware', async function () {
    const pool = ln.net.oracles[0].role.pool
    const hb = await waitFor('every miner\'s heartbeat with its capability', () => {
      const list = ln.net.miners.map(m => pool.get(m.role.address)?.heartbeat)
      return list.every(h => h?.hardware != null) ? list : undefined
    }, 30_000, 100)
    for (const h of hb) {
      expect(h?.hardware?.backend).to.equal('cpu')
      expect(h?.hardware?.threads).to.equal(1)
      expect(h?.firstTokenMs).to.be.a('number')
    }
    expect(hb[2]?.hardware?.sequences).to.equal(1)
    expect(hb[0]?.hardware?.sequences).to.equal(2)
    // the throttled engine is measured slow at start; the liar says what it was told to
    expect(hb[2]!.tokensPerSecondMilli / 1000).to.be.at.most(SLOW_TOKENS_PER_SEC + 1)
    expect(hb[0]!.tokensPerSecondMilli / 1000).to.be.greaterThan(SLOW_TOKENS_PER_SEC * 10)
    expect(hb[3]!.tokensPerSecondMilli / 1000).to.equal(LIAR_CLAIM_TOKENS_PER_SEC)
  })

  it('a miner advertising 10× its speed is demoted after a few tasks; a fast-SLA session then gets only fast miners', async function () {
    const session = await openSession(2, 2)
    // the slow miner fails the SLA on its own benchmark; the liar passes on its claim until measured
    const oracle = ln.net.oracles[0].role
    const liarSpeed = (): number | undefined => oracle.pool.delivery.tokensPerSec(liar, 1n << 60n)
    const seen = new Set<string>()
    for (let i = 0; i < 10 && liarSpeed() == null; i++) {
      const r = await run(session, `fast session task ${i}`)
      minersOf(r).forEach(m => seen.add(m))
      expect(minersOf(r)).to.not.include(slow)
    }
    expect(seen).to.include(liar)
    const measured = liarSpeed()
    expect(measured, 'the liar\'s delivered speed, measured').to.be.a('number')
    expect(measured).to.be.lessThan(SLOW_TOKENS_PER_SEC)
    for (const m of fast) {
      expect(oracle.pool.delivery.tokensPerSec(m, 1n << 60n) ?? Infinity).to.be.greaterThan(FAST_MIN_TOKENS_PER_SEC)
    }
    // every oracle holds the same measurements: the leader's, from its verdicts
    // (the other oracle applies the verdict when its gossip arrives)
    const other = await waitFor('the other oracle\'s measurement of the liar', () => ln.net.oracles[1].role.pool.delivery.tokensPerSec(liar, 1n << 60n), 10_000, 20)
    expect(other).to.equal(measured)
    for (let i = 0; i < 3; i++) {
      const r = await run(session, `fast session after the demotion ${i}`)
      expect(minersOf(r)).to.deep.equal(fast)
      expect(r.miners.every(m => m.outcome === 'accepted')).to.equal(true)
    }
  })

  it('a standard session gets fast and slow miners alike', async function () {
    await allFree()
    const session = await openSession(1, 3)
    const r = await run(session, 'a standard session asks', 16)
    // three places, two fast miners: a standard session takes the slow ones too
    expect(minersOf(r).filter(m => !fast.includes(m))).to.have.length.greaterThan(0)
    expect(r.miners.every(m => m.outcome === 'accepted')).to.equal(true)
  })

  it('a busy miner (every sequence in use) is skipped while others can take the task, and drawn when it is needed', async function () {
    await allFree()
    const oracles = ln.net.oracles.map(o => o.role)
    const slowBusy = (): boolean => oracles.every(o => o.pool.get(slow)?.heartbeat.loadPermille === 1000)
    // the slow miner has one sequence: a long task on it keeps it busy for seconds. Draws are weighted by
    // speed, so a three-miner draw rarely picks it; a session asking for all four miners always does
    const everyone = await openSession(1, 4)
    const handle = await ln.net.client.submit('a long task on every miner', { maxTokens: 120, sessionId: everyone })
    const slots = await waitFor('the long task drawn', () => {
      const miners = oracles[0].taskState(handle.taskId)?.slots.map(x => x.miner) ?? []
      return miners.length > 0 ? miners : undefined
    }, 60_000, 20)
    expect(slots, 'the long task drawn onto the slow miner').to.include(slow)
    await waitFor('the slow miner busy in every oracle\'s pool', slowBusy, 30_000, 20)
    // every miner now serves this session (the liar works on the long task too, so no other session could
    // draw three): each oracle's draw for the session, from the load its heartbeats report, is the one a
    // task of the session would get
    for (const oracle of oracles) {
      const records = drawRecords(oracle.pool, { queued: { sessionId: everyone }, record: {} } as any)
      for (let i = 0; i < 16; i++) {
        const req = { model: ln.net.modelId, sla: slaFor(1), seed: new Uint8Array(32).fill(i), count: 3 }
        const three = routedDraw(records, req)
        // three places, three miners not busy: the busy one is left out
        expect(three.miners.slice().sort()).to.deep.equal([...fast, liar].sort())
        expect(three.busyAllowed).to.equal(false)
        // four places: the busy miner is drawn, since the task cannot be served otherwise
        const four = routedDraw(records, { ...req, count: 4 })
        expect(four.miners).to.include(slow)
        expect(four.busyAllowed).to.equal(true)
      }
    }
    const long = await handle.result
    expect(long.miners.every(m => m.outcome === 'accepted')).to.equal(true)
  })

  it('an SLA nobody meets (GPU only) is refused at once with NoEligibleMinerError naming the gpu filter; nothing is submitted', async function () {
    await allFree()
    const session = await openSession(3, 1)
    const chain = ln.net.client.init.chain
    const before = await getSession(chain.wallet, { hub: ln.net.hub, sessionId: session })
    const t0 = Date.now()
    const err = await ln.net.client.submit('a GPU session asks', { maxTokens: 8, sessionId: session }).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('NoEligibleMinerError')
    expect(err.reason).to.equal('sla-unmet')
    expect(err.filter).to.equal('gpu')
    expect(err.message).to.include('SLA gpu')
    // refused from the pool view at once, not after the client's wait for free miners (10 s)
    expect(Date.now() - t0).to.be.lessThan(5000)
    const after = await getSession(chain.wallet, { hub: ln.net.hub, sessionId: session })
    expect(after.availableWei).to.equal(before.availableWei)
  })

  it('two sessions on the small pool are both served', async function () {
    await allFree()
    const [a, b] = [await openSession(1, 2), await openSession(1, 2)]
    const results = await Promise.all([run(a, 'session a asks', 16), run(b, 'session b asks', 16), run(a, 'session a asks again', 16), run(b, 'session b asks again', 16)])
    for (const r of results) {
      expect(r.miners.filter(m => m.outcome === 'accepted')).to.have.length(2)
    }
    expect(results.map(r => r.sessionId)).to.deep.equal([a, b, a, b].map(String))
  })

  it('followers verified every round-0 draw, and every one matched', function () {
    const oracles = ln.net.oracles.map(o => o.role.stats)
    const assigned = oracles.reduce((n, s) => n + s.assigned, 0)
    const checked = oracles.reduce((n, s) => n + s.selectionChecks, 0)
    expect(assigned).to.be.greaterThan(10)
    // each round-0 assignment is checked by the oracle that did not make it
    expect(checked).to.be.at.least(assigned)
    expect(oracles.map(s => s.selectionMismatches)).to.deep.equal([0, 0])
    // reproduced, but for draws the pool at the announcement could not fill (all miners reserved then)
    const redraws = oracles.reduce((n, s) => n + s.selectionRedraws, 0)
    expect(redraws).to.be.lessThan(checked / 2)
  })
})
