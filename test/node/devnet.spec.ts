import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { generateModel } from '../../node/inference/index.ts'
import { runCli } from '../fixtures/cli.ts'

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
    expect(res.stdout).to.match(/output \(\d+ tokens, (length|eos|stop)/)
    expect(res.stdout.match(/^miner 0x[0-9a-fA-F]{40}: output bafkrei\w+/gm)).to.have.length(2)
    expect(res.stdout).to.include('redundancy: 2 miners, identical outputs (same output CID)')
    expect(res.stdout).to.match(/replay check by the oracle: valid over \d+ positions/)
    expect(res.stderr).to.include('mesh formed: 4 nodes')
    expect(res.stderr).to.match(/\nstopped|\] stopped/)
  })

  it('names a bad flag', async function () {
    const res = await runCli(['devnet', '--miners', '0'])
    expect(res.code).to.equal(2)
    expect(res.stderr).to.match(/--miners: "0" must be a whole number from 1 to 32/)
  })
})
