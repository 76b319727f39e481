/**
 * Sampling that miners cannot predict: a task whose miners agree is settled
 * without a replay, and only then does the hash of its settlement block
 * decide whether its output is replayed (the audit). Every oracle draws the
 * same decision from the same log and replays on its own, so a cheat that
 * agrees with itself (redundancy 1) is caught after settlement and slashed
 * with the oracles' signatures. And an oracle that cannot replay never
 * votes an output valid.
 */
import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { getContractEvents } from 'viem/actions'
import { cortensorHubAbi, getNode, getSession, getTask } from '../../contracts/index.ts'
import { settledTaskIds } from '../../node/roles/shared/chain.ts'
import { ABANDON_REASONS } from '../../protocols/queue/types.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { Hex } from 'viem'

const STAKE = parseEther('0.1')

describe('task lifecycle: audits after settlement', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })

  describe('every agreeing task sampled (rate 1), redundancy 1, one miner of two running another model', function () {
    let ln: LifecycleNet

    before(async function () {
      ln = await startLifecycleNet({ miners: 2, oracles: 2, redundancy: 1, sampleRate: 1, hubConfig: { replayQuorum: 2 }, minerModelPaths: [undefined, 'OTHER'] })
    })

    after(async function () {
      await ln?.stop()
    })

    it('pays the cheat at settlement, then both oracles audit it from the settlement block and the hub slashes it; the honest miner\'s output replays', async function () {
      const { net } = ln
      const honest = net.miners[0].role.address
      const cheat = net.miners[1].role.address
      // redundancy 1: each task goes to one of the two miners; submit until both served one
      const served = new Map<string, bigint>()
      // every task the cheat served: each is audited and slashed
      const cheatTasks: bigint[] = []
      for (let i = 0; i < 10 && served.size < 2; i++) {
        const task = await net.client.submit(`a quiet evening number ${i} by the old river`, { maxTokens: 12 })
        const result = await task.result
        expect(result.miners).to.have.length(1)
        // alone on its task, each miner agrees with itself: accepted and paid at settlement
        expect(result.miners[0].outcome).to.equal('accepted')
        served.set(result.miners[0].address, task.taskId)
        if (result.miners[0].address === cheat) {
          cheatTasks.push(task.taskId)
        }
      }
      expect([...served.keys()].sort()).to.deep.equal([honest, cheat].sort())

      await waitFor('the cheat\'s slashes, one per task it served', async () => {
        const slashes = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'NodeSlashed', fromBlock: 0n })
        return slashes.length >= cheatTasks.length
      }, 60_000, 200)
      const slashes = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'NodeSlashed', fromBlock: 0n, strict: true })
      expect(slashes.map(e => [e.args.node.toLowerCase(), e.args.taskId]).sort((a, b) => Number(a[1]) - Number(b[1]))).to.deep.equal(cheatTasks.map(id => [cheat, id]))
      const cheatInfo = await getNode(net.owner, { hub: net.hub, node: cheat as Hex })
      expect(cheatInfo.stakeWei < STAKE).to.equal(true)
      expect(cheatInfo.earningsWei > 0n).to.equal(true)
      const honestInfo = await getNode(net.owner, { hub: net.hub, node: honest as Hex })
      expect(honestInfo.stakeWei).to.equal(STAKE)
      expect(honestInfo.earningsWei > 0n).to.equal(true)

      // each oracle drew from the block of the task's TasksSettled log, the same block for both
      const settledLogs = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TasksSettled', fromBlock: 0n, strict: true })
      const blockOf = (id: bigint): string | undefined => settledLogs.find(l => settledTaskIds(l.args.settled).includes(id))?.blockHash ?? undefined
      for (const id of served.values()) {
        await waitFor(`both oracles' audit of task ${id}`, () => net.oracles.every(o => o.role.auditOf(id) != null), 20_000)
        for (const o of net.oracles) {
          expect(o.role.auditOf(id)?.block).to.equal(blockOf(id))
          expect(o.role.auditOf(id)?.due).to.equal(true)
        }
      }
      const cheatTask = served.get(cheat) as bigint
      const honestTask = served.get(honest) as bigint
      await waitFor('both oracles\' audit replays', () => net.oracles.every(o => o.role.auditOf(cheatTask)?.failed != null && o.role.auditOf(honestTask)?.failed != null), 30_000)
      for (const o of net.oracles) {
        expect(o.role.auditOf(cheatTask)?.failed).to.deep.equal([cheat])
        expect(o.role.auditOf(honestTask)?.failed).to.deep.equal([])
        expect(o.role.stats.audits).to.be.at.least(2)
      }
    })
  })

  describe('oracles without a model', function () {
    let ln: LifecycleNet

    before(async function () {
      ln = await startLifecycleNet({ miners: 2, oracles: 1, redundancy: 2, oraclesWithoutModel: true, minerModelPaths: [undefined, 'OTHER'] })
    })

    after(async function () {
      await ln?.stop()
    })

    it('call a task whose outputs differ unverifiable: the client is told so, nobody is paid or marked failed, nothing settles', async function () {
      const { net } = ln
      const task = await net.client.submit('the bridge over the water at noon', { maxTokens: 12 })
      const err = await task.result.then(() => undefined, (e: any) => e)
      expect(err?.name).to.equal('TaskFailedError')
      expect(err?.code).to.equal('unverifiable')
      expect(net.oracles[0].role.stats.validated).to.equal(1)
      expect(net.oracles[0].role.stats.settleTransactions).to.equal(0)
      // give a (wrong) settlement time to happen, then read the chain: no settlement names the task
      await new Promise(resolve => setTimeout(resolve, 2000))
      const settled = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TasksSettled', fromBlock: 0n, strict: true })
      expect(settled.flatMap(l => settledTaskIds(l.args.settled))).to.not.include(task.taskId)
      // given up on chain by the leader at once (reason 'unverifiable'), its reservation back with the session
      await waitFor('the task given up on chain', async () => (await getTask(net.owner, { hub: net.hub, taskId: task.taskId })).status === 'expired', 10_000, 100)
      const abandoned = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskAbandoned', fromBlock: 0n, strict: true })
      expect(abandoned.map(l => [l.args.taskId, ABANDON_REASONS[l.args.reason]])).to.deep.equal([[task.taskId, 'unverifiable']])
      expect((await getSession(net.owner, { hub: net.hub, sessionId: net.sessionId })).reservedWei).to.equal(0n)
      for (const m of net.miners) {
        const info = await getNode(net.owner, { hub: net.hub, node: m.role.address as Hex })
        expect(info.earningsWei).to.equal(0n)
        expect(info.tasksFailed).to.equal(0)
      }
    })
  })
})
