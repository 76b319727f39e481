import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { runCli, spawnCli } from '../fixtures/cli.ts'
import type { Server } from 'node:net'

/**
 * Bad input: exit code 2, the problem on one `cortensor:` line naming it (the
 * last line; lifecycle lines may come before it), no stack trace.
 */
function expectUsageError (res: { code: number | null, stderr: string }, pattern: RegExp): void {
  expect(res.code, res.stderr).to.equal(2)
  const lines = res.stderr.trim().split('\n')
  expect(lines.at(-1)).to.match(/^cortensor: /)
  expect(lines.at(-1)).to.match(pattern)
  expect(lines.filter(l => l.startsWith('cortensor: '))).to.have.length(1)
  expect(res.stderr).to.not.match(/\n\s+at /)
}

async function listenOnFreePort (): Promise<{ server: Server, port: number }> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return { server, port: typeof address === 'object' && address != null ? address.port : 0 }
}

describe('cli', function () {
  let dir: string

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-cli-'))
  })

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('prints help for every command', async function () {
    for (const args of [['--help'], ['node', '--help'], ['node', 'start', '--help'], ['id', '--help']]) {
      const res = await runCli(args)
      expect(res.code, args.join(' ')).to.equal(0)
      expect(res.stdout).to.include('Usage: cortensor')
    }
    const start = await runCli(['node', 'start', '--help'])
    for (const flag of ['--role', '--data-dir', '--listen', '--announce', '--bootstrap', '--http-port', '--config', 'CORTENSOR_ROLE']) {
      expect(start.stdout).to.include(flag)
    }
  })

  it('id creates a key with mode 0600 and prints the same identity every time', async function () {
    const first = await runCli(['id', '--data-dir', dir, '--json'])
    expect(first.code, first.stderr).to.equal(0)
    const id = JSON.parse(first.stdout)
    expect(id.peerId).to.match(/^16Uiu2/)
    expect(id.address).to.match(/^0x[0-9a-fA-F]{40}$/)
    expect((await stat(join(dir, 'key'))).mode & 0o777).to.equal(0o600)
    const second = await runCli(['id', '--data-dir', dir, '--json'])
    expect(JSON.parse(second.stdout)).to.deep.equal(id)
  })

  it('id --key uses a given key file: anvil account #0 has its well-known address', async function () {
    const keyFile = join(dir, 'k')
    await writeFile(keyFile, '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n')
    const res = await runCli(['id', '--key', keyFile, '--data-dir', dir])
    expect(res.stdout).to.include('address: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  })

  it('rejects an unknown role, naming the flag or variable', async function () {
    expectUsageError(await runCli(['node', 'start', '--role', 'wizard', '--data-dir', dir]), /--role: unknown role "wizard"/)
    expectUsageError(await runCli(['node', 'start', '--data-dir', dir], { CORTENSOR_ROLE: 'miner,wizard' }), /CORTENSOR_ROLE: unknown role "wizard"/)
  })

  it('rejects an unparsable multiaddr', async function () {
    expectUsageError(await runCli(['node', 'start', '--listen', '/ip4/999.1.1.1/tcp/1', '--data-dir', dir]), /--listen: "\/ip4\/999\.1\.1\.1\/tcp\/1" is not a valid multiaddr/)
    expectUsageError(await runCli(['node', 'start', '--bootstrap', '/ip4/127.0.0.1/tcp/4001', '--data-dir', dir]), /--bootstrap: .*must end with \/p2p\/<peer id>/)
  })

  it('rejects an unreadable or malformed key file', async function () {
    expectUsageError(await runCli(['node', 'start', '--key', join(dir, 'missing'), '--data-dir', dir]), /cannot read key file .*missing: no such file/)
    const bad = join(dir, 'bad-key')
    await writeFile(bad, 'not a key')
    expectUsageError(await runCli(['id', '--key', bad]), /key file .*bad-key must hold a 0x-prefixed 32-byte hex/)
  })

  it('rejects a bad port and a bad config file, naming the source', async function () {
    expectUsageError(await runCli(['node', 'start', '--http-port', '70000', '--data-dir', dir]), /--http-port: "70000" is not a port number/)
    const yaml = join(dir, 'node.yaml')
    await writeFile(yaml, 'role: miner\nlistne: /ip4/127.0.0.1/tcp/0\n')
    expectUsageError(await runCli(['node', 'start', '--config', yaml, '--data-dir', dir]), /node\.yaml: listne: unknown option/)
    const json = join(dir, 'node.json')
    await writeFile(json, '{ "roles": ')
    expectUsageError(await runCli(['node', 'start', '--config', json, '--data-dir', dir]), /node\.json: not valid JSON/)
    expectUsageError(await runCli(['node', 'start', '--config', join(dir, 'none.yaml')]), /--config: cannot read config file/)
  })

  it('rejects an unknown flag with exit code 2', async function () {
    const res = await runCli(['node', 'start', '--rol', 'miner'])
    expect(res.code).to.equal(2)
    expect(res.stderr).to.include("unknown option '--rol'")
  })

  it('reports a taken HTTP port and a taken listen port', async function () {
    const { server, port } = await listenOnFreePort()
    try {
      expectUsageError(await runCli(['node', 'start', '--role', 'bootstrap', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', String(port)]),
        new RegExp(`--http-port: port ${port} on 127\\.0\\.0\\.1 is already in use`))
      expectUsageError(await runCli(['node', 'start', '--data-dir', dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`]), /--listen: .*already in use/)
    } finally {
      server.close()
    }
  })

  it('runs a bootstrap node that answers /health and shuts down on SIGTERM within 5 s', async function () {
    const child = spawnCli(['node', 'start', '--role', 'bootstrap', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws', '--http-port', '0'])
    let stderr = ''
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`node did not start: ${stderr}`)) }, 30000)
      child.stderr?.on('data', (d) => {
        stderr += String(d)
        const m = stderr.match(/http on http:\/\/127\.0\.0\.1:(\d+)/)
        if (m != null && stderr.includes('ready:')) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      })
    })
    try {
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json()
      expect(health.roles).to.deep.equal(['bootstrap'])
      expect(health.addresses.some((a: string) => a.includes('/ws/'))).to.equal(true)
    } finally {
      const t0 = Date.now()
      child.kill('SIGTERM')
      const code = await exited
      expect(code).to.equal(0)
      expect(Date.now() - t0).to.be.lessThan(5000)
    }
    expect(stderr).to.include('SIGTERM: shutting down')
    expect(stderr).to.include('stopped')
  })
})

describe('config precedence', function () {
  it('flags override env, env overrides the file, the file overrides defaults', async function () {
    const { resolveConfig, CONFIG_ENV_VARS } = await import('../../node/config.ts')
    const dir = await mkdtemp(join(tmpdir(), 'cortensor-cfg-'))
    try {
      const file = join(dir, 'node.yaml')
      await writeFile(file, 'roles: [bootstrap]\nhttpPort: 9000\nnetwork: from-file\nannounce: /dns4/boot.example/tcp/4001\n')
      const cfg = await resolveConfig({
        flags: { config: file, httpPort: '9002' },
        env: { CORTENSOR_HTTP_PORT: '9001', CORTENSOR_NETWORK: 'from-env' }
      })
      expect(cfg.roles).to.deep.equal(['bootstrap'])
      expect(cfg.httpPort).to.equal(9002)
      expect(cfg.network).to.equal('from-env')
      expect(cfg.announce).to.deep.equal(['/dns4/boot.example/tcp/4001'])
      expect(cfg.listen).to.deep.equal(['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'])
      const router = await resolveConfig({ flags: { role: 'router,miner' }, env: {} })
      expect(router.httpPort).to.equal(5010)
      expect(router.roles).to.deep.equal(['router', 'miner'])
      const miner = await resolveConfig({ env: {} })
      expect(miner.roles).to.deep.equal(['miner'])
      expect(miner.httpPort).to.equal(undefined)
      expect(CONFIG_ENV_VARS).to.include('CORTENSOR_BOOTSTRAP')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('reads queue deadlines from a flag, the environment (name=ms or JSON) and a file; refuses unknown names and bad numbers, naming the source', async function () {
    const { resolveConfig } = await import('../../node/config.ts')
    const dir = await mkdtemp(join(tmpdir(), 'cortensor-cfg-'))
    try {
      const file = join(dir, 'node.yaml')
      await writeFile(file, 'queueTimeouts:\n  ackMs: 3000\n  revealMs: 4000\n')
      expect((await resolveConfig({ flags: { config: file }, env: {} })).queueTimeouts).to.deep.equal({ ackMs: 3000, revealMs: 4000 })
      expect((await resolveConfig({ flags: { queueTimeouts: 'ackMs=2000, precommitMs=15000' }, env: {} })).queueTimeouts).to.deep.equal({ ackMs: 2000, precommitMs: 15000 })
      expect((await resolveConfig({ env: { CORTENSOR_QUEUE_TIMEOUTS: '{"settleMs":6000}' } })).queueTimeouts).to.deep.equal({ settleMs: 6000 })
      expect((await resolveConfig({ env: {} })).queueTimeouts).to.equal(undefined)
      const refused = async (flags: Record<string, unknown>, env: Record<string, string> = {}): Promise<Error> =>
        resolveConfig({ flags, env }).then(() => { throw new Error('accepted') }, (err: Error) => err)
      const unknown = await refused({ queueTimeouts: 'ackMs=2000,pingMs=5' })
      expect(unknown.name).to.equal('ConfigError')
      expect(unknown.message).to.match(/^--queue-timeouts: unknown deadline "pingMs"/)
      expect((await refused({ queueTimeouts: 'ackMs=-1' })).message).to.match(/^--queue-timeouts: ackMs: "-1" is not a whole number/)
      expect((await refused({ queueTimeouts: 'ackMs' })).message).to.match(/^--queue-timeouts: "ackMs" is not name=milliseconds/)
      expect((await refused({}, { CORTENSOR_QUEUE_TIMEOUTS: '{ack' })).message).to.equal('CORTENSOR_QUEUE_TIMEOUTS: is not valid JSON')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
