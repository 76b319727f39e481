import * as dagJson from '@ipld/dag-json'
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { parseEther } from 'viem'
import { getContractEvents, readContract } from 'viem/actions'
import { createSession, cortensorHubAbi, getNode, getSession, getTask } from '../../contracts/index.ts'
import { assignedMiners, settledTaskIds } from '../../node/roles/shared/chain.ts'
import { publishMessage } from '../../protocols/gossip/index.ts'
import { addressToBytes } from '../../protocols/messages/index.ts'
import { ABANDON_REASONS } from '../../protocols/queue/types.ts'
import { startMinerProcess } from '../fixtures/miner-process.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { invalidDeliveries, scoreOf } from '../fixtures/rogue.ts'
import { TEST_TIMEOUTS, reportIfFailed, sayLine, slashesOf, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { OracleHandle } from '../../node/network.ts'
import type { Hex } from 'viem'

async function settlementsOf (ln: LifecycleNet, taskId: bigint): Promise<number> {
  const logs = await getContractEvents(ln.net.owner, { address: ln.net.hub, abi: cortensorHubAbi, eventName: 'TasksSettled', fromBlock: 0n, strict: true })
  return logs.filter(l => settledTaskIds(l.args.settled).includes(taskId)).length
}

const STAKE_WEI = parseEther('0.1')

describe('task lifecycle under faults', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })

  describe('a crashed miner process, a stopped leader, restarts, a task not on chain', function () {
    let ln: LifecycleNet

    before(async function () {
      // slow miners (40 ms per token) so nodes can be stopped mid-generation; one miner per task
      ln = await startLifecycleNet({ miners: 2, redundancy: 1, minerFaults: [{ tokenDelayMs: 40 }, { tokenDelayMs: 40 }] })
    })

    after(async function () {
      await ln?.stop()
    })

    it('a miner process killed with SIGKILL mid-stream is replaced on chain; the replacement is accepted, the stream resumes with the settled text; the dead miner gets missing and no pay', async function () {
      const { net, models } = ln
      // a miner as an operator runs it (`node register`, `node start --role miner`), 60 ms per token
      const crashing = await startMinerProcess(net, await models.model('tiny', 1), {
        env: { CORTENSOR_MINER_FAULTS: JSON.stringify({ tokenDelayMs: 60 }) },
        // it beats as often as the network's own miners (2 s): its death shows in the pools within 6 s, not 90
        args: ['--heartbeat-interval', '2'],
        onLine: (line) => { sayLine(`miner process: ${line}`) }
      })
      try {
        // the two in-process miners go for now, so the draw can only name the process
        const resting = [net.miners[0].role.address, net.miners[1].role.address]
        await net.stopMiner(0)
        await net.stopMiner(1)
        const outOf = (pool: OracleHandle['role']['pool'], address: string): boolean => {
          const e = pool.get(address)
          return e == null || !pool.healthy(e)
        }
        await waitFor('the stopped miners out of every pool', () => net.oracles.every(o => resting.every(a => outOf(o.role.pool, a))) &&
          !net.client.miners().some(m => resting.includes(m.address)), 15_000)

        const task = await net.client.submit('people call it a long day', { maxTokens: 40 })
        const tokens: string[] = []
        for await (const t of task.tokens) {
          tokens.push(t.text)
          if (tokens.length === 5) {
            expect(t.miner).to.equal(crashing.address)
            await crashing.kill('SIGKILL')
            expect(crashing.child.signalCode).to.equal('SIGKILL')
            // a miner the replacement can be drawn from
            await net.restartMiner(0)
          }
        }
        const result = await task.result
        expect(tokens.length).to.be.greaterThan(5)
        expect(tokens.join('')).to.equal(result.text)
        const replacement = net.miners[0].role.address
        expect(result.miners.find(m => m.address === crashing.address)?.outcome).to.equal('missing')
        expect(result.miners.find(m => m.address === replacement)?.outcome).to.equal('accepted')

        // the chain: the process was replaced by the restarted miner, which was paid; the process was not
        const chain = net.client.init.chain
        expect((await assignedMiners(chain, task.taskId, 0n)).map(a => a.toLowerCase())).to.deep.equal([replacement])
        const moves = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'MinerReassigned', args: { taskId: task.taskId }, fromBlock: 0n, strict: true })
        expect(moves.map(l => [l.args.previous.toLowerCase(), l.args.replacement.toLowerCase()])).to.deep.equal([[crashing.address, replacement]])
        expect((await getNode(net.owner, { hub: net.hub, node: crashing.address as Hex })).earningsWei).to.equal(0n)
        expect((await getNode(net.owner, { hub: net.hub, node: replacement as Hex })).earningsWei > 0n).to.equal(true)
        expect(await settlementsOf(ln, task.taskId)).to.equal(1)
      } finally {
        await crashing.stop()
      }
      await net.restartMiner(1)
      // the dead process leaves the pools before the next tests draw
      await waitFor('the dead process out of every pool', () => net.oracles.every(o => {
        const e = o.role.pool.get(crashing.address)
        return e == null || !o.role.pool.healthy(e)
      }), 15_000)
    })

    it('settles exactly once when the leader oracle stops mid-task', async function () {
      const { net } = ln
      const task = await net.client.submit('we work on the river near home', { maxTokens: 30 })
      await new Promise<void>(resolve => { task.onUpdate(u => { if (u.status === 'assigned') { resolve() } }) })
      const leader = (await Promise.all(net.oracles.map(async o => o.role.isLeader()))).indexOf(true)
      expect(leader).to.be.at.least(0)
      await net.stopOracle(leader)
      const result = await task.result
      expect(result.miners.filter(m => m.outcome === 'accepted')).to.have.length(1)
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

    it('refuses a well-formed announcement of a task id that is not on chain and scores its author down, not the peers that relayed it; honest tasks keep settling', async function () {
      const { net } = ln
      // its author is the session's owner (anyone else is refused earlier: only the owner may announce its tasks)
      const author = net.clientNode
      const oracle = net.oracles[0]
      // a direct connection: the oracle scores the author itself
      await author.libp2p.dial(oracle.node.libp2p.peerId)
      const topic = `/${author.config.network}/1/task/${net.modelId}`
      await waitFor('the oracle to be subscribed as seen by the author', () => author.libp2p.services.pubsub.getSubscribers(topic).some(p => p.equals(oracle.node.libp2p.peerId)))
      const taskId = await readContract(net.owner, { address: net.hub, abi: cortensorHubAbi, functionName: 'taskCount' }) + 1000n
      const block = dagJson.encode({ prompt: 'a task the chain never saw' })
      const relays = oracle.node.libp2p.getPeers().filter(p => !p.equals(author.libp2p.peerId))
      expect(relays.length).to.be.greaterThan(0)
      const relayed = relays.map(p => ({ invalid: invalidDeliveries(oracle.node, p), contradictions: oracle.node.contradictions.count(p.toString()) }))
      const before = scoreOf(oracle.node, author.libp2p.peerId)
      const refused = oracle.role.stats.contradictions.taskId ?? 0
      const recipients = await publishMessage(author.libp2p.services.pubsub, 'task', {
        sessionId: net.sessionId,
        taskId,
        promptCid: CID.createV1(dagJson.code, await sha256.digest(block)).bytes,
        promptBlock: Uint8Array.from(block),
        params: { modelId: net.modelId, maxTokens: 8, temperature: 0, topP: 0, topK: 0, seed: 0n, stop: [] },
        submitter: addressToBytes(author.peerIdentity.address),
        deadlineMs: BigInt(Date.now() + 60_000),
        redundancy: 1,
        seed: new Uint8Array(32).fill(7)
      }, { model: net.modelId, prefix: `/${author.config.network}` })
      expect(recipients).to.be.greaterThan(0)
      await waitFor('the oracle to refuse it', () => (oracle.role.stats.contradictions.taskId ?? 0) > refused, 10_000)
      expect(oracle.role.stats.contradictions.taskId).to.equal(refused + 1)
      // gossipsub recomputes scores on its heartbeat
      await waitFor('the author\'s score to drop', () => scoreOf(oracle.node, author.libp2p.peerId) < before, 10_000)
      expect(oracle.role.taskState(taskId)).to.equal(undefined)
      // the peers that relayed it (or could have) keep their standing
      relays.forEach((p, i) => {
        expect(invalidDeliveries(oracle.node, p)).to.equal(relayed[i].invalid)
        expect(oracle.node.contradictions.count(p.toString())).to.be.at.most(relayed[i].contradictions)
      })
      // honest tasks keep settling
      const task = await net.client.submit('a small boat on the lake', { maxTokens: 8 })
      const result = await task.result
      expect(result.miners.map(m => m.outcome)).to.deep.equal(['accepted'])
    })
  })

  describe('a task the network cannot finish', function () {
    let ln: LifecycleNet

    before(async function () {
      // both miners precommit and then never reveal (an injected fault: the same as each dying after its precommit)
      ln = await startLifecycleNet({ miners: 2, oracles: 1, redundancy: 2, minerFaults: [{ withholdReveal: true }, { withholdReveal: true }] })
    })

    after(async function () {
      await ln?.stop()
    })

    it('is given up on chain by the leader when its reveal window closes: the client is told why at once, the deposit returns, nobody is paid', async function () {
      const { net } = ln
      const before = await getSession(net.owner, { hub: net.hub, sessionId: net.sessionId })
      const t = Date.now()
      const task = await net.client.submit('a task whose miners never reveal', { maxTokens: 8 })
      const err = await task.result.then(() => undefined, (e: any) => e)
      const failedMs = Date.now() - t
      expect({ name: err?.name, code: err?.code, reason: err?.reason }).to.deep.equal({ name: 'TaskFailedError', code: 'abandoned', reason: 'insufficient-reveals' })
      expect(err.message).to.equal(`task ${task.taskId} was given up by the network: too few of its miners revealed an output (insufficient-reveals); its deposit was returned to the session`)
      // the chain says the same: given up (not settled), the reservation back with the session at once
      const logs = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskAbandoned', fromBlock: 0n, strict: true })
      expect(logs.map(l => [l.args.taskId, ABANDON_REASONS[l.args.reason]])).to.deep.equal([[task.taskId, 'insufficient-reveals']])
      expect((await getTask(net.owner, { hub: net.hub, taskId: task.taskId })).status).to.equal('expired')
      const after = await getSession(net.owner, { hub: net.hub, sessionId: net.sessionId })
      expect({ reserved: after.reservedWei, available: after.availableWei }).to.deep.equal({ reserved: 0n, available: before.availableWei })
      expect(await settlementsOf(ln, task.taskId)).to.equal(0)
      for (const m of net.miners) {
        expect((await getNode(net.owner, { hub: net.hub, node: m.role.address as Hex })).earningsWei).to.equal(0n)
      }
      expect(net.oracles[0].role.stats.abandoned).to.equal(1)
      sayLine(`task ${task.taskId} failed ${failedMs} ms after its submission (reveal window ${TEST_TIMEOUTS.revealMs} ms)`)
    })
  })

  describe('fraud', function () {
    let ln: LifecycleNet
    const HONEST = [0, 1]
    const MISMATCH = 2
    const OTHER_MODEL = 3
    const COPIER = 4
    const EQUIVOCATOR = 5

    before(async function () {
      ln = await startLifecycleNet({
        miners: 6,
        redundancy: 6,
        minerFaults: [undefined, undefined, { revealMismatch: true }, undefined, { copyOthers: true }, { equivocate: true }],
        minerModelPaths: [undefined, undefined, undefined, 'OTHER', undefined, undefined]
      })
    })

    after(async function () {
      await ln?.stop()
    })

    it('catches a copier, a reveal mismatch, another model and an equivocation; pays only the honest, slashes what is provable', async function () {
      const { net } = ln
      const address = (i: number): string => net.miners[i].role.address
      const task = await net.client.submit('the man said that water was very cold', { maxTokens: 20 })
      const result = await task.result
      const outcome = (i: number): string | undefined => result.miners.find(m => m.address === address(i))?.outcome
      for (const i of HONEST) {
        expect(outcome(i)).to.equal('accepted')
      }
      expect(outcome(MISMATCH)).to.equal('reveal-mismatch')
      expect(outcome(OTHER_MODEL)).to.equal('rejected-replay')
      // the copier's re-signed commitment was refused (ContradictsRecordError on 'commitment'): it never precommitted
      expect(outcome(COPIER)).to.equal('missing')
      // only the copier listens to others' reveals (to copy them); honest miners publish theirs without joining the topic
      const listensToReveals = (i: number): boolean => net.miners[i].node.libp2p.services.pubsub.getTopics().some(t => t.endsWith('/1/reveal'))
      expect(net.miners.map((_, i) => listensToReveals(i))).to.deep.equal(net.miners.map((_, i) => i === COPIER))
      for (const o of net.oracles) {
        expect(o.role.stats.contradictions.commitment ?? 0).to.be.greaterThan(0)
        expect(o.node.contradictions.count(net.miners[COPIER].node.libp2p.peerId.toString())).to.be.greaterThan(0)
      }

      // reputation: a reveal that does not hash back to the commitment drops it to 0
      await waitFor('the mismatching miner\'s reputation to drop to 0', () => net.oracles.every(o => o.role.pool.reputationOf(address(MISMATCH)) === 0), 15_000)

      // the chain: the replay failure and the equivocation are provable and slashed, once each; a mismatch is not provable
      await waitFor('two slashes', async () => (await slashesOf(ln)).length >= 2, 20_000)
      expect((await slashesOf(ln)).sort((a, b) => a.reason - b.reason)).to.deep.equal([
        { miner: address(EQUIVOCATOR), taskId: task.taskId, reason: 1 },
        { miner: address(OTHER_MODEL), taskId: task.taskId, reason: 2 }
      ])
      const node = async (i: number): Promise<{ stakeWei: bigint, earningsWei: bigint }> => getNode(net.owner, { hub: net.hub, node: address(i) as Hex })
      for (const i of HONEST) {
        expect((await node(i)).earningsWei > 0n).to.equal(true)
        expect((await node(i)).stakeWei).to.equal(STAKE_WEI)
      }
      for (const i of [MISMATCH, OTHER_MODEL, COPIER, EQUIVOCATOR]) {
        expect((await node(i)).earningsWei, `miner ${i} paid`).to.equal(0n)
      }
      for (const i of [MISMATCH, COPIER]) {
        expect((await node(i)).stakeWei).to.equal(STAKE_WEI)
      }
      for (const i of [OTHER_MODEL, EQUIVOCATOR]) {
        expect((await node(i)).stakeWei < STAKE_WEI).to.equal(true)
      }
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
  })
})
