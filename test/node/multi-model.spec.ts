/**
 * One miner process serving two models, as an operator runs it:
 * `cortensor node register` with both models, then `cortensor node start
 * --model a --model b --threads 2 --sequences 3 --http-port 0` on a local
 * network (anvil, hub, bootstrap, two oracles validating both models). The
 * miner is one node with one key: one heartbeat lists both models, and it
 * serves a task of each model's session, both settled and paid on chain.
 * Its load progress is printed as plain lines (stderr is a pipe), and the
 * miner's and the oracles' `/metrics` show exactly the work done.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { expect } from 'aegir/chai'
import { parseEther } from 'viem'
import { createTaskClient } from '../../client/index.ts'
import { writeDeployment } from '../../contracts/deploy.ts'
import { addOracle, createSession, getNode } from '../../contracts/index.ts'
import { resolveConfig } from '../../node/config.ts'
import { modelIdOf } from '../../node/inference/index.ts'
import { localSession, startNetwork } from '../../node/network.ts'
import { CortensorNode } from '../../node/node.ts'
import { oracle, oracleComponents } from '../../node/roles/oracle/index.ts'
import { createChainContext } from '../../node/roles/shared/chain.ts'
import { stopChild, untilReady } from '../fixtures/child.ts'
import { runCli, spawnCli } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { modelDir } from '../inference/fixtures.ts'
import type { CortensorTaskClient } from '../../client/index.ts'
import type { LocalNetwork } from '../../node/network.ts'
import type { OracleRole } from '../../node/roles/oracle/index.ts'
import type { ModelDir } from '../inference/fixtures.ts'
import type { ChildProcess } from 'node:child_process'
import type { Address, Hex } from 'viem'

const NETWORK = 'cortensor-devnet'
const HEARTBEAT_MS = 2000
const PRICE_PER_TOKEN_WEI = 10n ** 9n

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/)
    if (m == null || m[1] !== name) {
      continue
    }
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(x => [x[1], x[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      return Number(m[3])
    }
  }
  return undefined
}

async function scrape (port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  expect(res.status).to.equal(200)
  return res.text()
}

describe('a miner process serving two models', function () {
  this.timeout(240_000)
  let models: ModelDir
  let pathA: string
  let pathB: string
  let modelA: string
  let modelB: string
  let net: LocalNetwork
  let dir: string
  let chainFlags: string[]
  let miner: ChildProcess | undefined
  let minerAddress: string
  let minerPort: number
  const minerLines: string[] = []
  const oracles: Array<{ node: CortensorNode, role: OracleRole }> = []
  const clients: Array<{ node: CortensorNode, client: CortensorTaskClient }> = []

  /** a node on the local network (roles are started by the test, not by `node start`) */
  const newNode = async (name: string, role: 'oracle' | 'router'): Promise<CortensorNode> => {
    const config = await resolveConfig({ env: {}, flags: { role: [role], network: NETWORK, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [net.bootstrapAddr], httpPort: 0 } })
    const node = new CortensorNode(config)
    await node.start()
    const o = net.owner as any
    await o.waitForTransactionReceipt({ hash: await o.sendTransaction({ to: node.peerIdentity.address, value: parseEther('10') }), pollingInterval: 50 })
    return node
  }

  /** a session of one task for `modelId`, owned by a client node of its own */
  const sessionClient = async (name: string, modelId: string): Promise<CortensorTaskClient> => {
    const node = await newNode(name, 'router')
    const chain = await createChainContext({ rpcUrl: net.rpcUrl, hub: net.hub, privateKey: node.peerIdentity.privateKey })
    // a budget of one task: the miner's reservation for the session ends with it, so the other session finds it free
    const { sessionId } = await createSession(chain.wallet, { ...localSession({ hub: net.hub, modelId: modelId as Hex, redundancy: 1, pricePerTokenWei: PRICE_PER_TOKEN_WEI }), maxTasks: 1 })
    const client = await createTaskClient({ node: { libp2p: node.libp2p, store: node.store, network: NETWORK }, chain, sessionId, modelId, heartbeatIntervalMs: HEARTBEAT_MS })
    clients.push({ node, client })
    return client
  }

  before(async function () {
    models = await modelDir()
    pathA = await models.model('tiny', 1)
    pathB = await models.model('tiny', 2)
    ;[modelA, modelB] = await Promise.all([modelIdOf(pathA), modelIdOf(pathB)])
    // oracles without a model: a task of redundancy 1 needs no replay, and no oracle audits (sample rate 0)
    net = await startNetwork({ miners: 0, oracles: 0, modelPath: pathA, redundancy: 1, oraclesWithoutModel: true, heartbeatIntervalMs: HEARTBEAT_MS })
    dir = await mkdtemp(join(tmpdir(), 'cortensor-multi-'))
    const deployment = join(dir, 'deployment.json')
    await writeDeployment(deployment, { chainId: await (net.owner as any).getChainId(), hub: net.hub } as any)
    chainFlags = ['--rpc', net.rpcUrl, '--deployment', deployment]

    for (const name of ['oracle-0', 'oracle-1']) {
      const node = await newNode(name, 'oracle')
      await addOracle(net.owner, { hub: net.hub, oracle: node.peerIdentity.address })
      const chain = await createChainContext({ rpcUrl: net.rpcUrl, hub: net.hub, privateKey: node.peerIdentity.privateKey })
      const role = oracle({ modelIds: [modelA, modelB], heartbeatIntervalMs: HEARTBEAT_MS, sampleRate: 0 })(oracleComponents(node, chain))
      await role.start()
      oracles.push({ node, role })
    }
  })

  after(async function () {
    await stopChild(miner)
    for (const { node, client } of clients) {
      await client.close().catch(() => {})
      await node.stop().catch(() => {})
    }
    for (const { node, role } of oracles) {
      await role.stop().catch(() => {})
      await node.stop().catch(() => {})
    }
    await net?.stop()
    await models?.cleanup()
    if (dir != null) {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('starts with both models, the engine settings and heartbeat period given and the load progress as lines, and joins the pool with one heartbeat listing both', async function () {
    const minerDir = join(dir, 'miner')
    const id = await runCli(['id', '--data-dir', minerDir, '--json'])
    expect(id.code, id.stderr).to.equal(0)
    minerAddress = String(JSON.parse(id.stdout).address).toLowerCase()
    const o = net.owner as any
    await o.waitForTransactionReceipt({ hash: await o.sendTransaction({ to: minerAddress, value: parseEther('10') }), pollingInterval: 50 })
    const reg = await runCli(['node', 'register', '--roles', 'miner', '--model', pathA, pathB, '--stake', '0.1eth', '--key', join(minerDir, 'key'), ...chainFlags])
    expect(reg.code, reg.stderr).to.equal(0)

    miner = spawnCli(['node', 'start', '--role', 'miner', '--network', NETWORK, '--data-dir', minerDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', net.bootstrapAddr,
      '--model', pathA, '--model', pathB, '--threads', '2', '--sequences', '3', '--heartbeat-interval', '20', '--http-port', '0', ...chainFlags])
    await untilReady(miner, 'miner process', /ready: miner node/, (line) => { minerLines.push(line) })
    const text = minerLines.join('\n')
    expect(text).to.include(`miner serving ${modelA} (2 threads, 3 sequences, cpu)`)
    expect(text).to.include(`miner serving ${modelB} (2 threads, 3 sequences, cpu)`)
    expect(text).to.not.include('warning')
    minerPort = Number(text.match(/http on http:\/\/127\.0\.0\.1:(\d+)/)?.[1])
    expect(minerPort).to.be.greaterThan(0)

    // non-TTY load progress: per model, increasing multiples of 10 ending with 100 %, the loads one after the other
    for (const path of [pathA, pathB]) {
      const label = `loading ${basename(path)}: `
      const pcts = minerLines.filter(l => l.startsWith(label)).map(l => l.slice(label.length))
      expect(pcts.length, text).to.be.greaterThan(1)
      expect(pcts.every(p => /^\d+%$/.test(p))).to.equal(true)
      const n = pcts.map(p => parseInt(p))
      expect(n.every(p => p % 10 === 0)).to.equal(true)
      expect(n.every((p, i) => i === 0 || p > n[i - 1])).to.equal(true)
      expect(n.at(-1)).to.equal(100)
    }
    const lastOfA = minerLines.findLastIndex(l => l.startsWith(`loading ${basename(pathA)}: `))
    expect(lastOfA).to.be.lessThan(minerLines.findIndex(l => l.startsWith(`loading ${basename(pathB)}: `)))

    // one node, one key, one heartbeat: every oracle has the miner under both models
    const address = minerAddress
    for (const { role } of oracles) {
      const entry = await waitFor('the oracle to see the miner', () => role.pool.get(address), 60_000, 100)
      expect(entry.heartbeat.models).to.deep.equal([modelA, modelB])
      // the period it was given, which observers count its liveness by
      expect(entry.heartbeat.intervalMs).to.equal(20_000)
      expect(role.pool.serving(modelA).map(e => e.address)).to.deep.equal([address])
      expect(role.pool.serving(modelB).map(e => e.address)).to.deep.equal([address])
    }
  })

  it('serves a task of each model, both settled and paid, and /metrics shows exactly that', async function () {
    if (miner == null) {
      this.skip()
    }
    const results = []
    for (const [name, model] of [['client-a', modelA], ['client-b', modelB]]) {
      const client = await sessionClient(name, model)
      const handle = await client.submit('the man said that water was cold', { maxTokens: 8 })
      const result = await handle.result
      expect(result.modelId).to.equal(model)
      expect(result.miners.map(m => ({ address: m.address.toLowerCase(), outcome: m.outcome }))).to.deep.equal([{ address: minerAddress, outcome: 'accepted' }])
      results.push(result)
    }
    const [a, b] = results

    // the verdicts reach the miner by gossip: wait for the second, then every count is exact
    let metrics = await waitFor('the miner to count both verdicts', async () => {
      const text = await scrape(minerPort)
      return sample(text, 'cortensor_miner_verdicts_total', { outcome: 'ACCEPTED' }) === 2 ? text : undefined
    }, 30_000, 200)
    for (const [model, result] of [[modelA, a], [modelB, b]] as const) {
      expect(sample(metrics, 'cortensor_miner_tasks_total', { model, outcome: 'generated' })).to.equal(1)
      expect(sample(metrics, 'cortensor_miner_tasks_total', { model, outcome: 'declined' })).to.equal(0)
      expect(sample(metrics, 'cortensor_miner_tasks_total', { model, outcome: 'failed' })).to.equal(0)
      expect(sample(metrics, 'cortensor_miner_tokens_total', { model })).to.equal(result.completionTokens)
      expect(sample(metrics, 'cortensor_miner_generation_seconds_total', { model })).to.be.greaterThan(0)
      expect(sample(metrics, 'cortensor_miner_tokens_per_second', { model })).to.be.greaterThan(0)
    }
    expect(sample(metrics, 'cortensor_miner_verdicts_total', { outcome: 'OUTLIER' })).to.equal(undefined)
    expect(sample(metrics, 'cortensor_miner_load')).to.equal(0)
    // earnings: the hub's record, which is the tokens of both outputs at the sessions' price
    const onChain = await getNode(net.owner, { hub: net.hub, node: minerAddress as Address })
    expect(onChain.earningsWei).to.equal(BigInt(a.completionTokens + b.completionTokens) * PRICE_PER_TOKEN_WEI)
    metrics = await scrape(minerPort)
    expect(sample(metrics, 'cortensor_miner_earnings_wei')).to.equal(Number(onChain.earningsWei))

    // the leader assigned, validated and settled both; the follower recomputed both draws and agreed
    const leaders = await Promise.all(oracles.map(async o => o.role.isLeader()))
    expect(leaders.filter(Boolean)).to.have.length(1)
    const leader = oracles[leaders.indexOf(true)]
    const follower = oracles[leaders.indexOf(false)]
    const l = await scrape(leader.node.httpPort ?? 0)
    expect(sample(l, 'cortensor_oracle_tasks_total', { outcome: 'assigned' })).to.equal(2)
    expect(sample(l, 'cortensor_oracle_tasks_total', { outcome: 'reassigned' })).to.equal(0)
    expect(sample(l, 'cortensor_oracle_tasks_total', { outcome: 'validated' })).to.equal(2)
    expect(sample(l, 'cortensor_oracle_tasks_total', { outcome: 'settled' })).to.equal(2)
    expect(sample(l, 'cortensor_oracle_tasks_total', { outcome: 'abandoned' })).to.equal(0)
    expect(sample(l, 'cortensor_oracle_replays_total')).to.equal(0)
    expect(sample(l, 'cortensor_oracle_slashes_total')).to.equal(0)
    expect(sample(l, 'cortensor_oracle_transactions_total', { kind: 'settle' })).to.equal(leader.role.stats.settleTransactions)
    expect(leader.role.stats.settleTransactions).to.be.within(1, 2)
    const f = await scrape(follower.node.httpPort ?? 0)
    expect(sample(f, 'cortensor_oracle_selection_draws_total', { result: 'agreed' })).to.equal(2)
    expect(sample(f, 'cortensor_oracle_selection_draws_total', { result: 'mismatch' })).to.equal(0)
    expect(sample(f, 'cortensor_oracle_tasks_total', { outcome: 'assigned' })).to.equal(0)
  })
})
