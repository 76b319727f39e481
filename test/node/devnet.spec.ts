import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { generateModel } from '../../node/inference/index.ts'
import { runCli, spawnCli } from '../fixtures/cli.ts'

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
    expect(res.stdout).to.match(/streamed \d+ tokens/)
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

  it('keeps running until SIGINT, then stops every node within 5 s', async function () {
    const child = spawnCli(['devnet', '--miners', '1', '--oracles', '1', '--max-tokens', '8', '--model', model])
    let stderr = ''
    const exited = new Promise<number | null>(resolve => child.on('close', resolve))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`devnet did not come up: ${stderr}`)) }, 60000)
      child.stderr?.on('data', (d) => {
        stderr += String(d)
        if (stderr.includes('network is up')) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    const t0 = Date.now()
    child.kill('SIGINT')
    expect(await exited).to.equal(0)
    expect(Date.now() - t0).to.be.lessThan(5000)
    expect(stderr).to.include('SIGINT: shutting down')
    expect(stderr).to.match(/stopping 4 nodes and anvil[\s\S]*stopped/)
  })

  it('names a bad flag', async function () {
    const res = await runCli(['devnet', '--miners', '0'])
    expect(res.code).to.equal(2)
    expect(res.stderr).to.match(/--miners: "0" must be a whole number from 1 to 32/)
  })
})
