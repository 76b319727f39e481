/**
 * One oracle set validating two models: miners of model A and miners of
 * model B (one of them running a third model under B's id), an oracle in
 * this process and one started as an operator does (`cortensor node start
 * --role oracle --model A --model B`), the hub's replay quorum two. A task
 * of each model settles with accepted outputs; the cheat on B is rejected by
 * the replay with B's engine (the honest B output replays there, so no
 * other engine judged it), and slashed on chain with both oracles'
 * signatures. A's agreeing task is audited after settlement with A's engine
 * by both oracles. An oracle given the same model twice exits naming
 * `--model`.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { createTaskClient } from '../../client/index.ts'
import { writeDeployment } from '../../contracts/deploy.ts'
import { addOracle, createSession, getNode } from '../../contracts/index.ts'
import { resolveConfig } from '../../node/config.ts'
import { modelIdOf } from '../../node/inference/index.ts'
import { localSession } from '../../node/network.ts'
import { CortensorNode } from '../../node/node.ts'
import { createChainContext } from '../../node/roles/shared/chain.ts'
import { buildTopic } from '../../protocols/topics.ts'
import { stopChild, untilReady } from '../fixtures/child.ts'
import { runCli, spawnCli } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { modelDir } from '../inference/fixtures.ts'
import { reportIfFailed, sayLine, slashesOf, startLifecycleNet } from './fixtures.ts'
import type { LifecycleNet } from './fixtures.ts'
import type { CortensorTaskClient } from '../../client/index.ts'
import type { ModelDir } from '../inference/fixtures.ts'
import type { ChildProcess } from 'node:child_process'
import type { Hex } from 'viem'

const NETWORK = 'cortensor-devnet'

describe('task lifecycle: one oracle set validating two models', function () {
  this.timeout(300_000)
  afterEach(function () { reportIfFailed(this) })

  let ln: LifecycleNet
  let models: ModelDir
  let dir: string
  let pathA: string
  let pathB: string
  let modelA: string
  let modelB: string
  let chainFlags: string[]
  let oracleProcess: ChildProcess | undefined
  const processLines: string[] = []
  let clientNode: CortensorNode | undefined
  let clientB: CortensorTaskClient | undefined

  before(async function () {
    models = await modelDir()
    dir = await mkdtemp(join(tmpdir(), 'cortensor-models-'))
    // the lifecycle net's model is tiny seed 1 (A); B is tiny seed 2, the cheat's tiny seed 99
    pathA = await models.model('tiny', 1)
    pathB = await models.model('tiny', 2)
    const other = await models.model('tiny', 99)
    ;[modelA, modelB] = await Promise.all([modelIdOf(pathA), modelIdOf(pathB)])
    ln = await startLifecycleNet({
      miners: 2,
      oracles: 1,
      redundancy: 2,
      sampleRate: 1,
      hubConfig: { replayQuorum: 2 },
      moreModels: [{ modelPath: pathB, miners: 2, minerModelPaths: [undefined, other] }]
    })
    const { net } = ln
    expect(net.modelId).to.equal(modelA)
    const deployment = join(dir, 'deployment.json')
    await writeDeployment(deployment, net.deployment)
    chainFlags = ['--rpc', net.rpcUrl, '--deployment', deployment]

    // the second oracle, as an operator starts it: funded, in the hub's oracle set, both models
    const oracleDir = join(dir, 'oracle')
    const id = await runCli(['id', '--data-dir', oracleDir, '--json'])
    expect(id.code, id.stderr).to.equal(0)
    const { address, peerId } = JSON.parse(id.stdout)
    const o = net.owner as any
    await o.waitForTransactionReceipt({ hash: await o.sendTransaction({ to: address, value: parseEther('10') }), pollingInterval: 50 })
    await addOracle(net.owner, { hub: net.hub, oracle: address })
    oracleProcess = spawnCli(['node', 'start', '--role', 'oracle', '--network', NETWORK, '--data-dir', oracleDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', net.bootstrapAddr,
      '--model', pathA, '--model', pathB, '--sample-rate', '1', '--threads', '1', ...chainFlags])
    await untilReady(oracleProcess, 'oracle process', /ready: oracle node/, (line) => { processLines.push(line); sayLine(`oracle process: ${line}`) })
    // it follows the tasks of both models: subscribed to both task topics
    const pubsub = net.bootstrap.libp2p.services.pubsub
    for (const model of [modelA, modelB]) {
      const topic = buildTopic('task', model, { prefix: `/${NETWORK}` })
      await waitFor(`the oracle process on ${topic}`, () => pubsub.getSubscribers(topic).some(p => p.toString() === peerId), 30_000, 100)
    }

    // a client of its own for a session of model B, redundancy 2 (both B miners)
    const config = await resolveConfig({ env: {}, flags: { role: ['router'], network: NETWORK, dataDir: join(dir, 'client-b'), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [net.bootstrapAddr] } })
    clientNode = new CortensorNode(config)
    await clientNode.start()
    await o.waitForTransactionReceipt({ hash: await o.sendTransaction({ to: clientNode.peerIdentity.address, value: parseEther('10') }), pollingInterval: 50 })
    const chain = await createChainContext({ rpcUrl: net.rpcUrl, hub: net.hub, privateKey: clientNode.peerIdentity.privateKey })
    const { sessionId } = await createSession(chain.wallet, localSession({ hub: net.hub, modelId: modelB as Hex, redundancy: 2 }))
    clientB = await createTaskClient({ node: { libp2p: clientNode.libp2p, store: clientNode.store, network: NETWORK }, chain, sessionId, modelId: modelB, heartbeatIntervalMs: 2000 })
    await waitFor('the B client to see both B miners', () => clientB?.miners().length === 2 ? true : undefined, 30_000, 100)
  })

  after(async function () {
    await stopChild(oracleProcess)
    await clientB?.close().catch(() => {})
    await clientNode?.stop().catch(() => {})
    await ln?.stop()
    await models?.cleanup()
    if (dir != null) {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('the operator\'s oracle starts with both models, one engine and embedder each', function () {
    const text = processLines.join('\n')
    expect(text).to.include(`oracle validating ${modelA}, ${modelB}`)
    expect(text).to.include('embedding outputs with each task\'s own model')
    expect(text).to.not.include('warning')
  })

  it('settles a task of each model; the cheat on B is rejected by the replay with B\'s engine and slashed with both oracles\' signatures; A is audited with A\'s engine', async function () {
    const { net } = ln
    const [a0, a1, b0, cheat] = net.miners.map(m => m.role.address)
    expect(net.miners.map(m => m.role.modelId)).to.deep.equal([modelA, modelA, modelB, modelB])
    const outcomes = (r: { miners: Array<{ address: string, outcome: string }> }): Record<string, string> => Object.fromEntries(r.miners.map(m => [m.address.toLowerCase(), m.outcome]))

    const taskA = await net.client.submit('the man said that water was very cold', { maxTokens: 12 })
    const resultA = await taskA.result
    expect(resultA.modelId).to.equal(modelA)
    expect(outcomes(resultA)).to.deep.equal({ [a0]: 'accepted', [a1]: 'accepted' })

    if (clientB == null) {
      throw new Error('no client for model B')
    }
    const taskB = await clientB.submit('a small boat on the river at night', { maxTokens: 12 })
    const resultB = await taskB.result
    expect(resultB.modelId).to.equal(modelB)
    // B's outputs differ, so both were replayed: the honest one passes only with B's engine, the cheat's fails
    expect(outcomes(resultB)).to.deep.equal({ [b0]: 'accepted', [cheat]: 'rejected-replay' })

    // the chain: the quorum of two needs the operator's oracle's own failed replay of the cheat, with B's engine
    await waitFor('the cheat\'s slash', async () => (await slashesOf(ln)).length > 0 ? true : undefined, 60_000, 200)
    expect(await slashesOf(ln)).to.deep.equal([{ miner: cheat, taskId: taskB.taskId, reason: 2 }])
    const node = async (address: string): Promise<{ stakeWei: bigint, earningsWei: bigint }> => getNode(net.owner, { hub: net.hub, node: address as Hex })
    for (const honest of [a0, a1, b0]) {
      expect((await node(honest)).earningsWei > 0n, `${honest} paid`).to.equal(true)
    }
    expect((await node(cheat)).earningsWei).to.equal(0n)
    // its line may reach the pipe a moment after the chain has the slash
    await waitFor('the operator\'s oracle\'s attestation line', () => processLines.some(l => l.includes(`task ${taskB.taskId}: attested 1 failed replay(s) for the quorum`)) ? true : undefined, 10_000, 100)

    // the audits (sample rate 1): A's agreeing task is replayed after settlement with A's engine, here and in the process;
    // B's was replayed at validation and is not due
    const leader = net.oracles[0].role
    const audit = await waitFor('the audit of A\'s task', () => leader.auditOf(taskA.taskId)?.failed, 60_000, 100)
    expect(audit).to.deep.equal([])
    expect(leader.auditOf(taskA.taskId)?.due).to.equal(true)
    // B's audit draw is made once this oracle has seen B's settlement, which may come after the slash
    const auditB = await waitFor('the audit draw of B\'s task', () => leader.auditOf(taskB.taskId), 60_000, 100)
    expect(auditB.due).to.equal(false)
    await waitFor('the operator\'s oracle to audit A\'s task', () => processLines.some(l => l.includes(`task ${taskA.taskId}: audited after settlement: the accepted output replays`)) ? true : undefined, 60_000, 100)
    expect(processLines.join('\n')).to.not.include('fails replay')
  })

  it('an oracle given the same model twice exits naming --model', async function () {
    const copy = join(dir, 'same-as-a.gguf')
    await copyFile(pathA, copy)
    const res = await runCli(['node', 'start', '--role', 'oracle', '--network', NETWORK, '--data-dir', join(dir, 'oracle-dup'), '--listen', '/ip4/127.0.0.1/tcp/0',
      '--model', pathA, '--model', copy, ...chainFlags], {}, 120_000)
    expect(res.code, res.stderr).to.equal(2)
    expect(res.stderr.trim().split('\n').at(-1)).to.equal(`cortensor: --model: ${copy} is the same model as another --model (${modelA})`)
  })
})
