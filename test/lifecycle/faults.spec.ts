import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { getContractEvents } from 'viem/actions'
import { createSession, cortensorHubAbi, getNode } from '../../contracts/index.ts'
import { settledTaskIds } from '../../node/roles/chain.ts'
import { publishMessage } from '../../protocols/gossip/index.ts'
import { addressToBytes } from '../../protocols/messages/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { Hex } from 'viem'

async function settlementsOf (ln: LifecycleNet, taskId: bigint): Promise<number> {
  const logs = await getContractEvents(ln.net.owner, { address: ln.net.hub, abi: cortensorHubAbi, eventName: 'TasksSettled', fromBlock: 0n, strict: true })
  return logs.filter(l => settledTaskIds(l.args.settled).includes(taskId)).length
}

describe('task lifecycle under faults', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })

  describe('a killed miner, a stopped leader, restarts', function () {
    let ln: LifecycleNet

    before(async function () {
      // slow miners (40 ms per token) so nodes can be stopped mid-generation
      ln = await startLifecycleNet({ miners: 4, redundancy: 3, minerFaults: [0, 1, 2, 3].map(() => ({ tokenDelayMs: 40 })) })
    })

    after(async function () {
      await ln?.stop()
    })

    it('reassigns the task of a miner stopped after it acked; the client keeps streaming from another miner', async function () {
      const { net } = ln
      const task = await net.client.submit('people call it a long day', { maxTokens: 40 })
      const tokens: string[] = []
      let killed: number | undefined
      for await (const t of task.tokens) {
        tokens.push(t.text)
        if (killed == null && tokens.length === 5) {
          // kill the very miner the client streams from (the one this token came from: the client may have moved
          // on from the miner it started with), without a goodbye
          killed = net.miners.findIndex(m => m.role.address === t.miner)
          await net.stopMiner(killed)
        }
      }
      const result = await task.result
      expect(tokens.join('')).to.equal(result.text)
      const dead = net.miners[killed as number].role.address
      expect(result.miners.map(m => m.address)).to.include(dead)
      expect(result.miners.find(m => m.address === dead)?.outcome).to.equal('missing')
      // the two survivors always finish; the replacement finishes too unless the machine is too loaded to meet its ack deadline
      expect(result.miners.filter(m => m.outcome === 'accepted').length).to.be.at.least(2)
      expect(result.miners.length).to.equal(4)
      expect(net.oracles.reduce((n, o) => n + o.role.stats.reassigned, 0)).to.be.greaterThan(0)
      // each oracle lowers it when it handles the verdict, which can trail the client's settled result
      await waitFor('the dead miner\'s reputation to drop', () => net.oracles[0].role.pool.reputationOf(dead) < 5000, 15_000)
      const info = await getNode(net.owner, { hub: net.hub, node: dead as Hex })
      expect(info.earningsWei).to.equal(0n)
      await net.restartMiner(killed as number)
    })

    it('settles exactly once when the leader oracle stops mid-task', async function () {
      const { net } = ln
      const task = await net.client.submit('we work on the river near home', { maxTokens: 30 })
      await new Promise<void>(resolve => { task.onUpdate(u => { if (u.status === 'assigned') { resolve() } }) })
      const leader = (await Promise.all(net.oracles.map(async o => o.role.isLeader()))).indexOf(true)
      expect(leader).to.be.at.least(0)
      await net.stopOracle(leader)
      const result = await task.result
      expect(result.miners.filter(m => m.outcome === 'accepted').length).to.be.greaterThan(0)
      expect(net.oracles[1 - leader].role.stats.settled).to.be.greaterThan(0)
      expect(await settlementsOf(ln, task.taskId)).to.equal(1)
      await net.restartOracle(leader)
    })

    it('loses no accepted task when a miner and an oracle restart mid-task', async function () {
      const { net } = ln
      const task = await net.client.submit('one small city under light', { maxTokens: 30 })
      await new Promise<void>(resolve => { task.onUpdate(u => { if (u.status === 'generating') { resolve() } }) })
      // the client may already stream from the miner its own draw predicts before the assignment reaches oracle 1
      const victim = await waitFor('oracle 1 to know the assigned miner', () => {
        const state = net.oracles[1].role.taskState(task.taskId)
        const i = net.miners.findIndex(m => state?.slots.some(s => s.miner === m.role.address && s.status !== 'reassigned'))
        return i >= 0 ? i : undefined
      }, 10_000)
      const address = net.miners[victim].role.address
      await net.stopMiner(victim)
      await net.stopOracle(1)
      await net.restartMiner(victim)
      await net.restartOracle(1)
      const result = await task.result
      expect(result.miners.find(m => m.address === address)?.outcome).to.equal('accepted')
      await waitFor('the restarted oracle to see the settlement', () => net.oracles[1].role.taskState(task.taskId)?.phase === 'settled', 20_000)
    })
  })

  describe('fraud', function () {
    let ln: LifecycleNet

    before(async function () {
      ln = await startLifecycleNet({ miners: 5, redundancy: 5, minerFaults: [undefined, undefined, { revealMismatch: true }, undefined, { copyOthers: true }], minerModelPaths: [undefined, undefined, undefined, 'OTHER', undefined] })
    })

    after(async function () {
      await ln?.stop()
    })

    it('catches a copier, a miner revealing something else, and a miner running another model; pays only the honest', async function () {
      const { net } = ln
      const task = await net.client.submit('the man said that water was very cold', { maxTokens: 20 })
      const result = await task.result
      const outcome = (i: number): string | undefined => result.miners.find(m => m.address === net.miners[i].role.address)?.outcome
      expect(outcome(0)).to.equal('accepted')
      expect(outcome(1)).to.equal('accepted')
      expect(outcome(2)).to.be.oneOf(['reveal-mismatch', 'missing'])
      expect(outcome(3)).to.equal('rejected-replay')
      expect(outcome(4)).to.be.oneOf(['missing', undefined])
      const paid = async (i: number): Promise<bigint> => (await getNode(net.owner, { hub: net.hub, node: net.miners[i].role.address as Hex })).earningsWei
      expect(await paid(0) > 0n).to.equal(true)
      expect(await paid(2)).to.equal(0n)
      expect(await paid(3)).to.equal(0n)
      expect(await paid(4)).to.equal(0n)
      // the replay failure is provable: the other-model miner's stake was slashed
      await waitFor('slash', () => net.oracles.some(o => o.role.stats.slashed > 0), 15_000)
      const other = await getNode(net.owner, { hub: net.hub, node: net.miners[3].role.address as Hex })
      expect(other.stakeWei < parseEther('0.1')).to.equal(true)
    })

    it('refuses a task on a session without enough deposit, before it reaches the mesh', async function () {
      const { net } = ln
      const { sessionId } = await createSession(net.client.init.chain.wallet, {
        hub: net.hub,
        modelId: net.modelId as Hex,
        redundancy: 5,
        minMiners: 1,
        maxMiners: 5,
        validationMode: 0,
        slaClass: 1,
        reservePeriodS: 3600,
        maxTasks: 10,
        pricePerTokenWei: 10n ** 9n,
        depositWei: 1000n
      })
      const err = await net.client.submit('too poor', { maxTokens: 20, sessionId }).then(() => null, (e: Error) => e)
      expect(err?.name).to.equal('ContractRuleError')
      expect((err as any).rule).to.equal('InsufficientDeposit')
      expect(err?.message).to.match(/deposit/i)
    })

    it('rejects a forged task announcement and lowers its sender\'s score; honest traffic is unaffected', async function () {
      const { net } = ln
      const rogue = net.miners[4].node
      const oracle = net.oracles[0].node
      const score = (): number => (oracle.libp2p.services.pubsub as unknown as { getScore(p: string): number }).getScore(rogue.libp2p.peerId.toString())
      // a direct connection: the oracle scores the peer that hands it the message
      await rogue.libp2p.dial(oracle.libp2p.peerId)
      const topic = `/${rogue.config.network}/1/task/${net.modelId}`
      await waitFor('the oracle to be subscribed as seen by the rogue', () => rogue.libp2p.services.pubsub.getSubscribers(topic).some(p => p.equals(oracle.libp2p.peerId)))
      const before = score()
      await publishMessage(rogue.libp2p.services.pubsub, 'task', {
        sessionId: net.sessionId,
        taskId: 999_999n,
        promptCid: new Uint8Array(0),
        params: { modelId: net.modelId, maxTokens: 8, temperature: 0, topP: 0, topK: 0, seed: 0n, stop: [] },
        submitter: addressToBytes(rogue.peerIdentity.address),
        deadlineMs: BigInt(Date.now() + 60_000),
        redundancy: 1
      }, { model: net.modelId, prefix: `/${rogue.config.network}` })
      await waitFor('score drop', () => score() < before, 10_000)
      expect(net.oracles[0].role.taskState(999_999n)).to.equal(undefined)
      // honest gossip still flows: a fresh heartbeat from an honest miner reaches the oracle
      const honest = net.miners[0].role.address
      const seen = net.oracles[0].role.pool.get(honest)?.lastSeenMs ?? 0
      await waitFor('a fresh heartbeat from an honest miner', () => (net.oracles[0].role.pool.get(honest)?.lastSeenMs ?? 0) > seen, 10_000)
    })
  })
})
