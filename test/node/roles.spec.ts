/**
 * The roles as users run them: `cortensor node start --role miner|router`
 * and `cortensor task submit` as separate processes joining a local network
 * (anvil, hub, bootstrap, an in-process miner and oracle). The CLI miner is
 * registered and staked with `cortensor node register`, the router's session
 * is created with `cortensor session create` under the router's own key, and
 * the official openai client talks to the router process.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { parseEther } from 'viem'
import { writeDeployment } from '../../contracts/deploy.ts'
import { startNetwork } from '../../node/network.ts'
import { runCli, spawnCli } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { modelDir } from '../inference/fixtures.ts'
import { reportIfFailed, sayLine } from '../lifecycle/fixtures.ts'
import type { LocalNetwork } from '../../node/network.ts'
import type { ModelDir } from '../inference/fixtures.ts'
import type { ChildProcess } from 'node:child_process'

const NETWORK = 'cortensor-devnet'

interface Running {
  child: ChildProcess
  stderr(): string
  stop(): Promise<number | null>
}

/** Start a CLI process and wait for a stderr line matching `ready`. */
async function startCli (args: string[], ready: RegExp, timeoutMs = 90_000): Promise<Running & { match: RegExpMatchArray }> {
  const child = spawnCli(args)
  let stderr = ''
  const exited = once(child, 'close')
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`not ready after ${timeoutMs} ms:\n${stderr}`)) }, timeoutMs)
    child.on('close', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code} before ready:\n${stderr}`)) })
    child.stderr?.on('data', (d) => {
      stderr += String(d)
      const m = stderr.match(ready)
      if (m != null) {
        clearTimeout(timer)
        resolve(m)
      }
    })
  })
  return {
    child,
    match,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
      }
      const [code] = await exited
      return code as number | null
    }
  }
}

describe('node start with roles and task submit, as processes on a local network', function () {
  this.timeout(300_000)
  let models: ModelDir
  let modelPath: string
  let net: LocalNetwork
  let dir: string
  let deployment: string
  let routerDir: string
  let minerDir: string
  let clientDir: string
  let sessionId: string
  let clientSession: string
  const running: Running[] = []

  const chainFlags = (): string[] => ['--rpc', net.rpcUrl, '--deployment', deployment]

  before(async function () {
    models = await modelDir()
    modelPath = await models.model('tiny', 1)
    net = await startNetwork({ miners: 1, oracles: 1, modelPath, redundancy: 1, say: sayLine })
    dir = await mkdtemp(join(tmpdir(), 'cortensor-roles-'))
    deployment = join(dir, 'deployment.json')
    const chainId = await (net.owner as any).getChainId()
    await writeDeployment(deployment, { chainId, hub: net.hub } as any)
    routerDir = join(dir, 'router')
    minerDir = join(dir, 'miner')
    clientDir = join(dir, 'client')

    // keys for the processes, funded by the hub owner
    for (const d of [routerDir, minerDir, clientDir]) {
      const id = await runCli(['id', '--data-dir', d, '--json'])
      expect(id.code, id.stderr).to.equal(0)
      const { address } = JSON.parse(id.stdout)
      const hash = await (net.owner as any).sendTransaction({ to: address, value: parseEther('10') })
      await (net.owner as any).waitForTransactionReceipt({ hash, pollingInterval: 50 })
    }
  })

  // a failing test prints what the in-process network and each node process said
  afterEach(function () {
    reportIfFailed(this)
    if (this.currentTest?.state === 'failed') {
      for (const r of running) {
        process.stdout.write(`--- ${r.child.spawnargs.slice(2, 6).join(' ')} (stderr, last lines)\n${r.stderr().split('\n').slice(-60).join('\n')}\n`)
      }
    }
  })

  after(async function () {
    for (const r of running.splice(0)) {
      await r.stop().catch(() => {})
    }
    await net?.stop()
    await models?.cleanup()
    if (dir != null) {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses chain roles without the chain settings, naming the flag', async function () {
    // four processes at once, each on its own data dir: each refusal is independent of the others
    const [noRpc, noModel, notOwner, badHub] = await Promise.all([
      runCli(['node', 'start', '--role', 'router', '--data-dir', join(dir, 'x1'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0']),
      runCli(['node', 'start', '--role', 'miner', '--data-dir', join(dir, 'x2'), '--listen', '/ip4/127.0.0.1/tcp/0', ...chainFlags()]),
      runCli(['node', 'start', '--role', 'router', '--data-dir', join(dir, 'x3'), '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0', ...chainFlags(), '--session', String(net.sessionId)]),
      runCli(['node', 'start', '--role', 'oracle', '--data-dir', join(dir, 'x4'), '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc', net.rpcUrl, '--hub', `0x${'12'.repeat(20)}`, '--model', modelPath])
    ])
    expect(noRpc.code, noRpc.stderr).to.equal(2)
    expect(noRpc.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --rpc: the router role needs the chain/)
    expect(noModel.code, noModel.stderr).to.equal(2)
    expect(noModel.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --model: the miner role needs a GGUF model file/)
    expect(notOwner.code, notOwner.stderr).to.equal(2)
    expect(notOwner.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --session: session \d+ belongs to 0x[0-9a-fA-F]{40}, not to this node's key/)
    expect(badHub.code, badHub.stderr).to.equal(2)
    expect(badHub.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --hub: no contract at 0x1212/)
  })

  it('a miner process registered with the CLI joins the pool and serves tasks', async function () {
    const reg = await runCli(['node', 'register', '--roles', 'miner', '--model', modelPath, '--stake', '0.1eth', '--key', join(minerDir, 'key'), ...chainFlags()])
    expect(reg.code, reg.stderr).to.equal(0)
    const miner = await startCli(['node', 'start', '--role', 'miner', '--network', NETWORK, '--data-dir', minerDir, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--bootstrap', net.bootstrapAddr, '--model', modelPath, ...chainFlags()], /ready: miner node/)
    running.push(miner)
    expect(miner.stderr()).to.match(/miner serving 0x[0-9a-f]{64}/)
    expect(miner.stderr()).to.not.include('warning')
    // the in-process oracle sees both miners
    await waitFor('the oracle to see the CLI miner', () => net.oracles[0].role.pool.list().length === 2, 60_000, 100)
  })

  it('a router process serves the openai client and the browser page settings', async function () {
    // a budget of one task: the miners reserve themselves for this session (ephemeral nodes) and are free again after it
    const session = await runCli(['session', 'create', '--key', join(routerDir, 'key'), '--model', modelPath, '--deposit', '2eth', '--redundancy', '2', '--max-miners', '2', '--max-tasks', '1', ...chainFlags()])
    expect(session.code, session.stderr).to.equal(0)
    sessionId = session.stdout.trim()
    expect(sessionId).to.match(/^\d+$/)
    const key = await runCli(['router', 'key', 'create', '--data-dir', routerDir, '--json'])
    expect(key.code, key.stderr).to.equal(0)
    const apiKey = JSON.parse(key.stdout).key as string

    const router = await startCli(['node', 'start', '--role', 'router', '--network', NETWORK, '--data-dir', routerDir, '--listen', '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws',
      '--bootstrap', net.bootstrapAddr, '--http-port', '0', '--session', sessionId, ...chainFlags()], /http on http:\/\/127\.0\.0\.1:(\d+)[\s\S]*ready: router node/)
    running.push(router)
    const base = `http://127.0.0.1:${router.match[1]}`
    const openai = new OpenAI({ apiKey, baseURL: `${base}/v1`, maxRetries: 0 })
    await waitFor('the router to see both miners', async () => (await openai.models.list()).data[0]?.id != null &&
      (await (await fetch(`${base}/api/v1/miners`)).json()).data?.length === 2, 60_000, 250)

    const answer = await openai.chat.completions.create({ model: net.modelId, messages: [{ role: 'user', content: 'the cat sat on the mat' }], max_tokens: 8 })
    expect(answer.choices[0].message.content).to.be.a('string').and.not.equal('')
    const extra = (answer as any).cortensor
    expect(extra.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    // redundancy 2 over two miners: the in-process one and the CLI one both served and were paid
    expect(extra.miners.map((m: any) => m.outcome)).to.deep.equal(['accepted', 'accepted'])
    const cliMiner = JSON.parse((await runCli(['id', '--data-dir', minerDir, '--json'])).stdout).address.toLowerCase()
    expect(extra.miners.map((m: any) => m.address.toLowerCase())).to.include(cliMiner)

    const page = await (await fetch(`${base}/app/config.json`)).json()
    expect(page).to.include({ network: NETWORK, rpc: net.rpcUrl, hub: net.hub, router: base })
    expect(page.bootstrap[0]).to.match(/\/ws\/p2p\//)
    expect((await fetch(`${base}/app/`)).status).to.equal(200)
  })

  it('task submit streams the tokens and prints the settled result', async function () {
    // a key of its own: two processes on one key would be one peer id twice on the mesh
    const session = await runCli(['session', 'create', '--key', join(clientDir, 'key'), '--model', net.modelId, '--deposit', '1eth', '--redundancy', '2', '--max-miners', '2', ...chainFlags()])
    expect(session.code, session.stderr).to.equal(0)
    clientSession = session.stdout.trim()
    const res = await runCli(['task', 'submit', 'the dog ran in the park', '--stream', '--max-tokens', '8', '--session', clientSession, '--network', NETWORK,
      '--data-dir', clientDir, '--bootstrap', net.bootstrapAddr, ...chainFlags()], {}, 120_000)
    expect(res.code, res.stderr).to.equal(0)
    expect(res.stdout.trim()).to.not.equal('')
    expect(res.stderr).to.match(/task \d+ submitted to session \d+/)
    expect(res.stderr).to.match(/output ba[a-z2-7]+ \(\d+ tokens, (length|eos|stop)\)/, res.stderr)
    expect(res.stderr.match(/miner 0x[0-9a-fA-F]{40}: accepted/g)).to.have.length(2)
    expect(res.stderr).to.match(/settled in tx 0x[0-9a-f]{64}/)

    // the same prompt again without --stream: deterministic miners give the same text, now from the settled result
    const json = await runCli(['task', 'submit', 'the dog ran in the park', '--json', '--max-tokens', '8', '--session', clientSession, '--network', NETWORK,
      '--data-dir', clientDir, '--bootstrap', net.bootstrapAddr, ...chainFlags()], {}, 120_000)
    expect(json.code, json.stderr).to.equal(0)
    const result = JSON.parse(json.stdout)
    expect(result.text).to.equal(res.stdout.replace(/\n$/, ''))
    expect(result.sessionId).to.equal(clientSession)
  })

  it('task submit refuses bad input naming the flag', async function () {
    const noBootstrap = await runCli(['task', 'submit', 'hi', '--session', clientSession, '--data-dir', clientDir, ...chainFlags()])
    expect(noBootstrap.code).to.equal(2)
    expect(noBootstrap.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --bootstrap: /)
    const badSession = await runCli(['task', 'submit', 'hi', '--session', 'abc', '--data-dir', clientDir, '--bootstrap', net.bootstrapAddr, ...chainFlags()])
    expect(badSession.code).to.equal(2)
    expect(badSession.stderr.trim().split('\n').at(-1)).to.match(/^cortensor: --session: "abc" is not a session id/)
    const tokens = await runCli(['task', 'submit', 'hi', '--session', sessionId, '--max-tokens', '0'])
    expect(tokens.code).to.equal(2)
    expect(tokens.stderr).to.match(/--max-tokens: "0" must be a whole number from 1 to 4096/)
  })

  it('the processes stop cleanly on SIGTERM', async function () {
    for (const r of running.splice(0)) {
      expect(await r.stop(), r.stderr()).to.equal(0)
      expect(r.stderr()).to.include('stopped')
    }
  })
})
