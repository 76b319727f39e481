import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { createTestClient, http } from 'viem'
import { foundry } from 'viem/chains'
import { startAnvil, ANVIL_KEYS } from '../../contracts/anvil.ts'
import type { Anvil } from '../../contracts/anvil.ts'

const BIN = new URL('../../bin/cortensor.js', import.meta.url).pathname
const MODEL = `0x${'ab'.repeat(32)}`

async function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  return { code, stdout, stderr }
}

describe('contracts: chain, session and node CLI', function () {
  let anvil: Anvil
  let dir: string
  let ownerKey: string
  let minerKey: string
  let dep: string

  before(async function () {
    anvil = await startAnvil()
    dir = await mkdtemp(join(tmpdir(), 'cortensor-cli-'))
    ownerKey = join(dir, 'owner.key')
    minerKey = join(dir, 'miner.key')
    dep = join(dir, 'deployment.json')
    await writeFile(ownerKey, `${ANVIL_KEYS[0]}\n`)
    await writeFile(minerKey, `${ANVIL_KEYS[4]}\n`)
  })
  after(async function () {
    await anvil?.stop()
    if (dir != null) { await rm(dir, { recursive: true, force: true }) }
  })

  it('deploys, creates/shows/closes a session, registers and unregisters a node', async function () {
    const d = await run(['chain', 'deploy', '--rpc', anvil.url, '--key', ownerKey, '--out', dep, '--min-stake', '0.001eth'])
    expect(d.code, d.stderr).to.equal(0)
    const deployment = JSON.parse(await readFile(dep, 'utf8'))
    expect(deployment.chainId).to.equal(31337)
    expect(deployment.hub).to.match(/^0x[0-9a-fA-F]{40}$/)
    expect(JSON.parse(d.stdout).hub).to.equal(deployment.hub)

    const c = await run(['session', 'create', '--rpc', anvil.url, '--key', ownerKey, '--deployment', dep, '--model', MODEL, '--deposit', '0.01eth'])
    expect(c.code, c.stderr).to.equal(0)
    expect(c.stdout.trim()).to.equal('1')
    const s = await run(['session', 'show', '1', '--rpc', anvil.url, '--deployment', dep])
    expect(s.code, s.stderr).to.equal(0)
    expect(JSON.parse(s.stdout)).to.include({ availableWei: '10000000000000000', redundancy: 3, closed: false, modelId: MODEL })
    const x = await run(['session', 'close', '1', '--rpc', anvil.url, '--key', ownerKey, '--deployment', dep])
    expect(x.code, x.stderr).to.equal(0)
    expect(JSON.parse(x.stdout).refundWei).to.equal('10000000000000000')

    const r = await run(['node', 'register', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep, '--stake', '0.001eth', '--model', MODEL, '--hardware-class', '2'])
    expect(r.code, r.stderr).to.equal(0)
    expect(JSON.parse(r.stdout)).to.include({ roles: 1, hardwareClass: 2 })
    const u1 = await run(['node', 'unregister', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep])
    expect(u1.code, u1.stderr).to.equal(0)
    expect(JSON.parse(u1.stdout).unstakeReadyAt).to.be.a('string')
    const early = await run(['node', 'unregister', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep])
    expect(early.code).to.equal(1)
    expect(early.stderr).to.include('CooldownNotOver')
    const test = createTestClient({ mode: 'anvil', chain: foundry, transport: http(anvil.url) })
    await test.increaseTime({ seconds: 3601 })
    await test.mine({ blocks: 1 })
    const u2 = await run(['node', 'unregister', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep])
    expect(u2.code, u2.stderr).to.equal(0)
    expect(JSON.parse(u2.stdout).withdrawnWei).to.equal('1000000000000000')
  })

  it('answers bad input with exit code 2 and a message naming the flag', async function () {
    const cases: Array<[string[], string]> = [
      [['chain', 'deploy', '--rpc', 'not a url', '--key', ownerKey], '--rpc'],
      [['chain', 'deploy', '--rpc', anvil.url, '--key', join(dir, 'missing.key')], '--key'],
      [['session', 'create', '--rpc', anvil.url, '--key', ownerKey, '--deployment', dep, '--model', MODEL, '--deposit', 'lots'], '--deposit'],
      [['session', 'create', '--rpc', anvil.url, '--key', ownerKey, '--deployment', dep, '--model', MODEL, '--deposit', '1', '--sla', '9'], '--sla'],
      [['session', 'show', 'abc', '--rpc', anvil.url, '--deployment', dep], '<id>'],
      [['session', 'show', '1', '--rpc', anvil.url, '--deployment', join(dir, 'nope.json')], '--deployment'],
      [['node', 'register', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep, '--stake', '1', '--roles', 'wizard'], '--roles'],
      [['node', 'register', '--rpc', anvil.url, '--key', minerKey, '--deployment', dep, '--stake', '1'], '--model']
    ]
    // the refusals are independent (none changes the chain): their processes run at once
    const results = await Promise.all(cases.map(async ([args]) => run(args)))
    for (const [i, [args, flag]] of cases.entries()) {
      const res = results[i]
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(2)
      expect(res.stderr).to.include(flag)
      expect(res.stderr).to.not.include('    at ')
    }
  })
})
