import { expect } from 'aegir/chai'
import { addOracle, getLeader, getOracles, heartbeat, removeOracle } from '../../contracts/index.ts'
import { expectRule, startFixture } from './fixture.ts'
import type { Fixture } from './fixture.ts'
import type { Hex } from 'viem'

const WINDOW_S = 60
const TIMEOUT_S = 30

describe('contracts: oracle set and leader rotation', function () {
  let f: Fixture
  let snap: Hex

  before(async function () { f = await startFixture({ leaderWindowS: WINDOW_S, heartbeatTimeoutS: TIMEOUT_S }) })
  after(async function () { await f?.stop() })
  beforeEach(async function () { snap = await f.snapshot() })
  afterEach(async function () { await f.revert(snap) })

  async function now (): Promise<number> {
    return Number((await f.user.getBlock()).timestamp)
  }

  /** Move to the start of the next window whose leader index is `index` (of n oracles). */
  async function toWindowOf (index: number, n: number): Promise<void> {
    let t = await now()
    let target = (Math.floor(t / WINDOW_S) + 1) * WINDOW_S
    while (Math.floor(target / WINDOW_S) % n !== index) { target += WINDOW_S }
    await f.test.setNextBlockTimestamp({ timestamp: BigInt(target + 1) })
    await f.test.mine({ blocks: 1 })
    t = await now()
    expect(Math.floor(t / WINDOW_S) % n).to.equal(index)
  }

  it('manages the set: owner only, no duplicates, heartbeats from oracles only', async function () {
    const a = f.oracle.account.address
    const b = f.oracle2.account.address
    await expectRule(addOracle(f.user, { hub: f.hub, oracle: b }), 'NotOwner')
    await expectRule(addOracle(f.owner, { hub: f.hub, oracle: a }), 'OracleExists')
    await expectRule(addOracle(f.owner, { hub: f.hub, oracle: '0x0000000000000000000000000000000000000000' }), 'ZeroAddress')
    await addOracle(f.owner, { hub: f.hub, oracle: b })
    expect(await getOracles(f.user, { hub: f.hub })).to.deep.equal([a, b])
    await expectRule(heartbeat(f.user, { hub: f.hub }), 'NotOracle')
    const res = await heartbeat(f.oracle2, { hub: f.hub })
    expect(res.logs.some(l => l.eventName === 'OracleHeartbeat')).to.equal(true)
    await expectRule(removeOracle(f.user, { hub: f.hub, oracle: a }), 'NotOwner')
    await removeOracle(f.owner, { hub: f.hub, oracle: a })
    await expectRule(removeOracle(f.owner, { hub: f.hub, oracle: a }), 'NotOracle')
    expect(await getOracles(f.user, { hub: f.hub })).to.deep.equal([b])
  })

  it('caps the set at 16 oracles', async function () {
    for (let i = 1; i < 16; i++) {
      await addOracle(f.owner, { hub: f.hub, oracle: `0x${(1000 + i).toString(16).padStart(40, '0')}` })
    }
    await expectRule(addOracle(f.owner, { hub: f.hub, oracle: `0x${'99'.repeat(20)}` }), 'TooManyOracles')
  })

  it('rotates the leader round robin per window', async function () {
    const a = f.oracle.account.address
    const b = f.oracle2.account.address
    await addOracle(f.owner, { hub: f.hub, oracle: b })
    await toWindowOf(0, 2)
    await heartbeat(f.oracle, { hub: f.hub })
    await heartbeat(f.oracle2, { hub: f.hub })
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(a)
    await toWindowOf(1, 2)
    await heartbeat(f.oracle, { hub: f.hub })
    await heartbeat(f.oracle2, { hub: f.hub })
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(b)
  })

  it('hands over to the next oracle when the leader misses its heartbeat, and fails with none alive', async function () {
    const a = f.oracle.account.address
    const b = f.oracle2.account.address
    await addOracle(f.owner, { hub: f.hub, oracle: b })
    await toWindowOf(0, 2) // a's window
    await heartbeat(f.oracle, { hub: f.hub }) // a's last heartbeat
    await heartbeat(f.oracle2, { hub: f.hub })
    await f.increaseTime(TIMEOUT_S - 5)
    await heartbeat(f.oracle2, { hub: f.hub })
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(a) // a's heartbeat is still fresh enough
    await f.increaseTime(10)
    await heartbeat(f.oracle2, { hub: f.hub })
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(b) // a missed it: b takes over a's window
    await heartbeat(f.oracle, { hub: f.hub })
    expect(await getLeader(f.user, { hub: f.hub })).to.equal(a) // a is back
    await f.increaseTime(TIMEOUT_S + 1)
    await expectRule(getLeader(f.user, { hub: f.hub }), 'NoLiveOracle')
  })
})
