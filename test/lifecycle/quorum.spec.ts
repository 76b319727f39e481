/**
 * A replay quorum above one: the hub slashes a failed replay only with
 * signatures of `replayQuorum` distinct oracles, so the oracles that did not
 * lead replay the disputed output themselves and gossip their signed
 * replay verdicts; the leader slashes once it holds enough of them.
 */
import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { getContractEvents } from 'viem/actions'
import { cortensorHubAbi, getNode } from '../../contracts/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { Hex } from 'viem'

describe('task lifecycle with a replay quorum of two oracles', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet

  before(async function () {
    ln = await startLifecycleNet({ miners: 3, oracles: 2, hubConfig: { replayQuorum: 2 }, minerModelPaths: [undefined, undefined, 'OTHER'] })
  })

  after(async function () {
    await ln?.stop()
  })

  it('slashes a miner running another model with both oracles\' replay signatures', async function () {
    const { net } = ln
    const other = net.miners[2].role.address
    const task = await net.client.submit('a small boat on the river at night', { maxTokens: 16 })
    const result = await task.result
    expect(result.miners.find(m => m.address === other)?.outcome).to.equal('rejected-replay')
    expect(result.miners.filter(m => m.outcome === 'accepted')).to.have.length(2)

    // both oracles replayed the disputed output: the leader and the follower that attested
    await waitFor('the slash', () => net.oracles.some(o => o.role.stats.slashed > 0), 60_000, 100)
    expect(net.oracles.every(o => o.role.stats.replays > 0)).to.equal(true)
    const slashes = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'NodeSlashed', fromBlock: 0n })
    expect(slashes.map(e => (e.args.node as string).toLowerCase())).to.deep.equal([other.toLowerCase()])
    const info = await getNode(net.owner, { hub: net.hub, node: other as Hex })
    expect(info.stakeWei < parseEther('0.1')).to.equal(true)
    expect(info.earningsWei).to.equal(0n)
  })
})
