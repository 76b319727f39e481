import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { bytesToHex } from 'viem'
import { STREAM_OPEN_TIMEOUT_MS } from '../../client/index.ts'
import { submitTask } from '../../contracts/actions/tasks.ts'
import { taskParamsDigest } from '../../protocols/blocks/index.ts'
import { publishMessage } from '../../protocols/gossip/index.ts'
import { addressToBytes } from '../../protocols/messages/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { TaskHandle } from '../../client/types.ts'

/** Drain a task's tokens; resolves with their text and the time of the first one. */
async function drain (task: TaskHandle): Promise<{ text: string, firstAtMs: number }> {
  let text = ''
  let firstAtMs = 0
  for await (const t of task.tokens) {
    if (firstAtMs === 0) {
      firstAtMs = Date.now()
    }
    text += t.text
  }
  return { text, firstAtMs }
}

describe('starting a task on the selection drawn ahead of the assignment', function () {
  this.timeout(180_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet

  before(async function () {
    // miner 2's own draw always names it (a wrong pool view): it starts every task, assigned or not
    ln = await startLifecycleNet({ miners: 3, redundancy: 1, minerFaults: [undefined, undefined, { misdraw: true }] })
  })

  after(async function () {
    await ln?.stop()
  })

  it('the assigned miner has started on its own draw, and its work is what the client streams and the chain settles', async function () {
    const { net } = ln
    const honest = net.miners.slice(0, 2)
    for (let i = 0; i < 3; i++) {
      const task = await net.client.submit(`the river near home ${i}`, { maxTokens: 16 })
      const { text } = await drain(task)
      const result = await task.result
      expect(text).to.equal(result.text)
      expect(result.miners).to.have.length(1)
      expect(result.miners[0].outcome).to.equal('accepted')
    }
    // the honest miners' views agree with the leader's: each start they made was confirmed
    const started = honest.reduce((n, m) => n + m.role.speculation.started, 0)
    const confirmed = honest.reduce((n, m) => n + m.role.speculation.confirmed, 0)
    expect(confirmed).to.equal(started)
    const servedByHonest = net.miners.slice(0, 2).reduce((n, m) => n + m.role.speculation.confirmed, 0)
    expect(servedByHonest + net.miners[2].role.speculation.confirmed).to.equal(3)
  })

  it('a miner whose own draw is wrong drops the work when the assignment names another; nothing of it is streamed or paid', async function () {
    const { net } = ln
    const wrong = net.miners[2].role
    let result
    let text = ''
    // the leader picks miner 2 one time in three: go on until a task goes to another miner
    for (let i = 0; i < 12; i++) {
      const task = await net.client.submit(`one small city under light ${i}`, { maxTokens: 16 })
      text = (await drain(task)).text
      result = await task.result
      if (result.miners[0].address !== wrong.address) {
        break
      }
    }
    expect(result?.miners[0].address).to.not.equal(wrong.address)
    expect(text).to.equal(result?.text)
    await waitFor('the dropped work to be counted', () => wrong.speculation.dropped > 0)
    expect(wrong.speculation.started).to.equal(wrong.speculation.confirmed + wrong.speculation.dropped)
  })

  it('the client\'s own draw names a miner that does not exist: it gives the guess up on the assignment and streams from the assigned miner', async function () {
    const { net } = ln
    // the client's view holds only a miner nobody runs, so its draw cannot name anyone else
    const ghostKey = await generateKeyPair('secp256k1')
    const ghost = peerIdFromPrivateKey(ghostKey)
    const ghostAddress = '0x000000000000000000000000000000000000dead'
    for (const m of net.client.pool.list()) {
      net.client.pool.forget(m.address)
    }
    net.client.pool.onHeartbeat({
      node: addressToBytes(ghostAddress),
      models: [net.modelId],
      hardwareClass: 'cpu',
      level: 0,
      tokensPerSecondMilli: 100_000,
      loadPermille: 0,
      reservedBySession: 0n,
      timestampMs: BigInt(Date.now()),
      seq: 0n
    }, ghost)
    const submittedAtMs = Date.now()
    const task = await net.client.submit('a long day on the water', { maxTokens: 16 })
    const { text, firstAtMs } = await drain(task)
    const result = await task.result
    expect(text).to.equal(result.text)
    expect(result.miners[0].address).to.not.equal(ghostAddress)
    // given up when the assignment came, not when the stream-open timeout fired
    expect(firstAtMs - submittedAtMs).to.be.lessThan(STREAM_OPEN_TIMEOUT_MS)
    net.client.pool.forget(ghostAddress)
  })

  it('an announcement whose seed is not the chain\'s is rejected and its sender scored down; work started on it is dropped', async function () {
    const { net } = ln
    const client = net.clientNode
    const oracle = net.oracles[0].node
    const score = (): number => (oracle.libp2p.services.pubsub as unknown as { getScore(p: string): number }).getScore(client.libp2p.peerId.toString())
    await client.libp2p.dial(oracle.libp2p.peerId)
    const promptCid = await client.store.putJson({ prompt: 'a forged seed' })
    const chain = net.client.init.chain
    const params = { modelId: net.modelId, maxTokens: 8, temperature: 0, topP: 0, topK: 0, seed: 0n, stop: [] }
    // everything else as submitted: only the seed is false
    const submitted = await chain.serial(async () => submitTask(chain.wallet, { hub: net.hub, sessionId: net.sessionId, promptDigest: bytesToHex(promptCid.multihash.digest), maxTokens: 8, paramsDigest: taskParamsDigest(params) }))
    const before = score()
    const wrong = net.miners[2].role.speculation
    const { started, dropped } = wrong
    await publishMessage(client.libp2p.services.pubsub, 'task', {
      sessionId: net.sessionId,
      taskId: submitted.taskId,
      promptCid: promptCid.bytes,
      params,
      submitter: addressToBytes(chain.address),
      deadlineMs: BigInt(Date.now() + 60_000),
      redundancy: 1,
      seed: new Uint8Array(32).fill(1)
    }, { model: net.modelId, prefix: `/${client.config.network}` })
    await waitFor('score drop', () => score() < before, 10_000)
    expect(net.oracles[0].role.taskState(submitted.taskId)).to.equal(undefined)
    // miner 2 starts every task it hears of; no assignment comes for this one, so its work is dropped
    await waitFor('miner 2 to start', () => wrong.started > started)
    await waitFor('miner 2 to drop it', () => wrong.dropped > dropped, 15_000)
  })
})
