import { mkdtemp, rm } from 'node:fs/promises'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { privateKeyToAddress } from 'viem/accounts'
import { ANVIL_KEYS, startAnvil } from '../../contracts/index.ts'
import { generateModel } from '../../node/inference/index.ts'
import { runCli, spawnCli } from '../fixtures/cli.ts'
import { waitFor } from '../fixtures/nodes.ts'
import type { Hex } from 'viem'

describe('devnet (what npm start runs)', function () {
  let dir: string
  let model: string

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-devnet-test-'))
    model = join(dir, 'tiny.gguf')
    await generateModel(model, { preset: 'tiny', seed: 3 })
  })

  after(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('answers a prompt: redundant miners agree, the oracle replay check passes, everything stops', async function () {
    const res = await runCli(['devnet', '--once', '--miners', '2', '--oracles', '1', '--max-tokens', '16', '--model', model, '--prompt', 'hello mesh'], {}, 90000)
    expect(res.code, res.stderr).to.equal(0)
    expect(res.stdout).to.include('prompt: hello mesh')
    // the tokens are printed on one line as they stream, before the count
    expect(res.stdout).to.match(/\nanswer: .+\nstreamed \d+ tokens/)
    expect(res.stdout).to.match(/output: bagu\w+ \(\d+ tokens, (length|eos|stop)\)/)
    expect(res.stdout.match(/^miner 0x[0-9a-fA-F]{40}: accepted/gm)).to.have.length(2)
    expect(res.stdout).to.match(/settled on chain: tx 0x[0-9a-f]{64}/)
    const earnings = res.stdout.match(/earnings: [0-9.]+ ETH/g) ?? []
    expect(earnings).to.have.length(2)
    for (const line of earnings) {
      expect(Number(line.split(' ')[1])).to.be.greaterThan(0)
    }
    expect(res.stderr).to.match(/task 1 submitted on chain/)
    expect(res.stderr).to.match(/task 1: assigned/)
    expect(res.stderr).to.include('mesh formed: 5 nodes')
    expect(res.stderr).to.match(/\] stopped/)
  })

  it('keeps running with a router that answers, a status line per task, until SIGINT stops every node within 5 s', async function () {
    const child = spawnCli(['devnet', '--miners', '1', '--oracles', '1', '--max-tokens', '8', '--model', model, '--router-port', '0'])
    let stderr = ''
    let stdout = ''
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    child.stdout?.on('data', (d) => { stdout += String(d) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`devnet did not come up: ${stderr}`)) }, 60000)
      child.stderr?.on('data', (d) => {
        stderr += String(d)
        if (stderr.includes('network is up') && stdout.includes('browser page:')) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    const [, url, key] = stdout.match(/router \(OpenAI-compatible\): (http:\/\/127\.0\.0\.1:\d+)\/v1 {2}API key: (\S+)/) ?? []
    expect(url, stdout).to.be.a('string')
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: stdout.match(/"model":"(0x[0-9a-f]{64})"/)?.[1], messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    })
    expect(res.status, await res.clone().text()).to.equal(200)
    expect((await res.json()).cortensor.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    // the page is served by the bootstrap
    const page = stdout.match(/browser page: (http:\/\/127\.0\.0\.1:\d+\/app\/)/)?.[1]
    expect((await fetch(page ?? '')).status).to.equal(200)
    // direct mode: the page's URL with the chain and hub, and a funded key for the page's wallet
    await waitFor('the direct-mode lines', () => /a funded key for the page's wallet/.test(stdout), 5000, 50)
    const direct = new URL(stdout.match(/browser page, direct mode [^:]*: (\S+)/)?.[1] ?? '')
    expect(direct.searchParams.get('hub')).to.match(/^0x[0-9a-fA-F]{40}$/)
    expect(direct.searchParams.get('models')).to.match(/^0x[0-9a-f]{64}$/)
    const walletKey = stdout.match(/a funded key for the page's wallet [^:]*: (0x[0-9a-f]{64})/)?.[1]
    const balance = await (await fetch(direct.searchParams.get('rpc') ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [privateKeyToAddress(walletKey as Hex), 'latest'] })
    })).json()
    expect(BigInt(balance.result) > 0n).to.equal(true)
    // the status line follows within the devnet's 250 ms poll
    await waitFor('the settled status line', () => /task 2: settled in \d+ ms, tx 0x[0-9a-f]{10}…, miners accepted/.test(stderr), 10_000, 50)
    const t0 = Date.now()
    child.kill('SIGINT')
    expect(await exited).to.equal(0)
    expect(Date.now() - t0).to.be.lessThan(5000)
    expect(stderr).to.include('SIGINT: shutting down')
    expect(stderr).to.match(/stopping 4 nodes and anvil[\s\S]*stopped/)
  })

  it('runs twice on the same --data-dir: the second run goes on with the first run\'s chain (same hub and session, task ids go on) and answers its prompt', async function () {
    const dataDir = join(dir, 'kept')
    const args = ['devnet', '--once', '--miners', '2', '--oracles', '1', '--max-tokens', '8', '--model', model, '--data-dir', dataDir]
    const first = await runCli([...args, '--prompt', 'first run'], {}, 90000)
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stdout).to.match(/settled on chain: tx 0x[0-9a-f]{64}/)
    expect(first.stderr).to.match(/task 1 submitted on chain/)
    const second = await runCli([...args, '--prompt', 'second run'], {}, 90000)
    expect(second.code, second.stderr).to.equal(0)
    expect(second.stdout).to.include('prompt: second run')
    const hubOf = (stderr: string): string | undefined => /, hub (0x[0-9a-fA-F]{40})/.exec(stderr)?.[1]
    const sessionOf = (stderr: string): string | undefined => /owns session (\d+)/.exec(stderr)?.[1]
    expect(second.stderr).to.include(`(going on with the chain kept in ${dataDir})`)
    expect([hubOf(second.stderr), sessionOf(second.stderr)]).to.deep.equal([hubOf(first.stderr), sessionOf(first.stderr)])
    // the chain's task ids go on: the first run's task 1 is settled there, the second run's task is 2
    expect(second.stderr).to.match(/task 2 submitted on chain/)
    expect(second.stderr).to.not.match(/task 1 submitted on chain/)
    expect(second.stdout.match(/^miner 0x[0-9a-fA-F]{40}: accepted/gm)).to.have.length(2)
    expect(second.stdout).to.match(/settled on chain: tx 0x[0-9a-f]{64}/)
  })

  it('anvil dies with the devnet, even when the devnet is killed with SIGKILL', async function () {
    // a data dir of the test's own: a killed devnet cannot remove its temporary one
    const child = spawnCli(['devnet', '--miners', '1', '--oracles', '1', '--max-tokens', '4', '--model', model, '--router-port', '0', '--data-dir', join(dir, 'killed')])
    let stderr = ''
    const exited = new Promise<void>(resolve => child.on('close', () => { resolve() }))
    const rpc = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no anvil line: ${stderr}`)) }, 60000)
      child.stderr?.on('data', (d) => {
        stderr += String(d)
        const url = /anvil on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1]
        if (url != null) {
          clearTimeout(timer)
          resolve(url)
        }
      })
    })
    const answers = async (): Promise<boolean> => fetch(rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000)
    }).then(() => true, () => false)
    expect(await answers()).to.equal(true)
    child.kill('SIGKILL')
    await exited
    await waitFor('anvil gone after its devnet was killed', async () => !(await answers()), 5000, 50)
  })

  it('runs on an external chain given by --rpc-url and a funded --key', async function () {
    const anvil = await startAnvil()
    try {
      const keyFile = join(dir, 'owner.key')
      await writeFile(keyFile, `${ANVIL_KEYS[3]}\n`, { mode: 0o600 })
      const res = await runCli(['devnet', '--once', '--miners', '1', '--oracles', '1', '--max-tokens', '4', '--model', model, '--rpc-url', anvil.url, '--key', keyFile], {}, 90000)
      expect(res.code, res.stderr).to.equal(0)
      expect(res.stderr).to.include(`chain on ${anvil.url} (chain id ${anvil.chainId})`)
      expect(res.stdout).to.match(/settled on chain: tx 0x[0-9a-f]{64}/)
      expect(res.stderr).to.match(/stopping 4 nodes\n/)
    } finally {
      await anvil.stop()
    }
  })

  it('names a bad flag', async function () {
    const res = await runCli(['devnet', '--miners', '0'])
    expect(res.code).to.equal(2)
    expect(res.stderr).to.match(/--miners: "0" must be a whole number from 1 to 32/)
    const noKey = await runCli(['devnet', '--rpc-url', 'http://127.0.0.1:1'])
    expect(noKey.code).to.equal(2)
    expect(noKey.stderr).to.match(/--key: an external chain \(--rpc-url\) needs a funded key/)
    const badUrl = await runCli(['devnet', '--rpc-url', 'ftp://x', '--key', 'k'])
    expect(badUrl.code).to.equal(2)
    expect(badUrl.stderr).to.match(/--rpc-url: "ftp:\/\/x" is not an http\(s\) URL/)
  })
})
