import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { getContractEvents } from 'viem/actions'
import { cortensorHubAbi, getNode, getTask } from '../../contracts/index.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'

describe('task lifecycle: client → chain → mesh → miners → oracles → chain', function () {
  this.timeout(180_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet

  before(async function () {
    // a wide assignment window, so tasks submitted together share one however slowly their submissions
    // reach the chain; the first settlement that needs its assignment on chain writes the whole batch.
    // A submission window of 100 ms, so submissions started together share a transaction however unevenly
    // their prompts are stored on a loaded machine
    ln = await startLifecycleNet({ assignBatchMs: 10_000, submitBatchMs: 100 })
  })

  after(async function () {
    await ln?.stop()
  })

  it('streams tokens to the client and settles the verified result on chain, paying the honest miners', async function () {
    const { net } = ln
    const task = await net.client.submit('the man said that water was cold', { maxTokens: 24 })
    const updates: string[] = []
    task.onUpdate(u => { updates.push(u.status) })
    const tokens: string[] = []
    for await (const t of task.tokens) {
      tokens.push(t.text)
    }
    const result = await task.result
    expect(tokens.length).to.be.greaterThan(0)
    expect(tokens.join('')).to.equal(result.text)
    expect(result.completionTokens).to.equal(tokens.length)
    expect(result.txHash).to.match(/^0x[0-9a-f]{64}$/)
    expect(result.miners).to.have.length(3)
    expect(result.miners.every(m => m.outcome === 'accepted')).to.equal(true)
    // the output the chain paid for is in Helia under the result's CID
    const doc = await net.clientNode.store.getJson<{ text: string, tokens: number[] }>(CID.parse(result.outputCid))
    expect(doc.text).to.equal(result.text)
    const onChain = await getTask(net.client.init.chain.wallet, { hub: net.hub, taskId: task.taskId })
    expect(onChain.status).to.equal('settled')
    for (const m of result.miners) {
      const info = await getNode(net.owner, { hub: net.hub, node: m.address as `0x${string}` })
      expect(info.earningsWei > 0n, `miner ${m.address} paid`).to.equal(true)
    }
    // every oracle, the followers too, learns the settlement from its own chain poller
    const deadline = Date.now() + 5000
    while (net.oracles.some(o => o.role.taskState(task.taskId)?.phase !== 'settled') && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    for (const o of net.oracles) {
      expect(o.role.taskState(task.taskId)?.phase).to.equal('settled')
    }
    expect(updates).to.include.members(['assigned', 'generating', 'validated', 'settled'])
    // the miners revealed (every output accepted) without joining the reveal and first-token topics, which the oracles
    // and the client did join (decision 0023)
    const oracleOnly = (topics: string[]): string[] => topics.filter(t => /\/1\/(reveal|first-token)$/.test(t)).map(t => t.slice(t.lastIndexOf('/') + 1)).sort()
    for (const m of net.miners) {
      expect(oracleOnly(m.node.libp2p.services.pubsub.getTopics())).to.deep.equal([])
    }
    for (const node of [...net.oracles.map(o => o.node), net.clientNode]) {
      expect(oracleOnly(node.libp2p.services.pubsub.getTopics())).to.deep.equal(['first-token', 'reveal'])
    }
    // the leader that validated applies the verdict to its pool
    const rep = Math.max(...net.oracles.map(o => o.role.pool.reputationOf(result.miners[0].address)))
    expect(rep).to.be.greaterThan(5000)
  })

  it('submits tasks made together in fewer transactions than tasks, writes their assignments in one, and every task settles', async function () {
    const { net } = ln
    const before = net.oracles.reduce((n, o) => n + o.role.stats.assignTransactions, 0)
    const submitsBefore = net.client.submitStats
    const tasks = await Promise.all([0, 1, 2].map(async i => net.client.submit(`together ${i}: the water was cold`, { maxTokens: 4 })))
    const results = await Promise.all(tasks.map(async t => t.result))
    for (const r of results) {
      expect(r.miners.every(m => m.outcome === 'accepted')).to.equal(true)
    }
    const ids = tasks.map(t => t.taskId)
    // each task has its own id and seed, and shares its submit transaction with another
    expect(new Set(ids).size).to.equal(3)
    const submitted = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', fromBlock: 0n, strict: true })
    const mine = submitted.filter(l => ids.includes(l.args.taskId))
    expect(mine).to.have.length(3)
    expect(new Set(mine.map(l => l.args.seed)).size).to.equal(3)
    const submitTxs = new Set(results.map(r => r.submitTxHash))
    expect(submitTxs).to.deep.equal(new Set(mine.map(l => l.transactionHash)))
    expect(submitTxs.size).to.be.lessThan(3)
    expect(net.client.submitStats).to.deep.equal({ transactions: submitsBefore.transactions + submitTxs.size, tasks: submitsBefore.tasks + 3 })
    const logs = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskAssigned', fromBlock: 0n, strict: true })
    const txOf = new Map(logs.filter(l => ids.includes(l.args.taskId)).map(l => [l.args.taskId, l.transactionHash]))
    expect([...txOf.keys()].sort()).to.deep.equal([...ids].sort())
    const sent = net.oracles.reduce((n, o) => n + o.role.stats.assignTransactions, 0) - before
    // the three announcements reach the leader before the first task settles: fewer transactions than tasks
    expect(new Set(txOf.values()).size).to.be.lessThan(3)
    expect(sent).to.equal(new Set(txOf.values()).size)
  })

  it('a submission whose caller gave up before it was sent is refused as cancelled and nothing reaches the chain', async function () {
    const { net } = ln
    const submitsBefore = net.client.submitStats
    const countBefore = (await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', fromBlock: 0n, strict: true })).length
    const controller = new AbortController()
    controller.abort()
    const err = await net.client.submit('a prompt nobody waits for', { maxTokens: 4, signal: controller.signal }).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('TaskFailedError')
    expect(err.code).to.equal('cancelled')
    expect(err.message).to.equal('cancelled by the caller before it was submitted')
    expect(net.client.submitStats).to.deep.equal(submitsBefore)
    const countAfter = (await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'TaskSubmitted', fromBlock: 0n, strict: true })).length
    expect(countAfter).to.equal(countBefore)
  })
})
