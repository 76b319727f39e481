import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'

const BIN = fileURLToPath(new URL('../../bin/cortensor.js', import.meta.url))

async function run (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => { stderr += String(d) })
    child.on('error', reject)
    child.on('exit', (code) => { resolve({ code, stdout, stderr }) })
  })
}

describe('cortensor model (CLI)', () => {
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-model-cli-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('generates the same file twice for the same seed and prints its summary', async () => {
    const a = join(dir, 'a.gguf')
    const b = join(dir, 'b.gguf')
    const ra = await run('model', 'generate', '--preset', 'tiny', '--seed', '9', '--out', a)
    expect(ra.code).to.equal(0)
    expect(ra.stdout).to.match(/model id: +0x[0-9a-f]{64}/)
    expect(ra.stdout).to.match(/architecture: +llama/)
    const rb = await run('model', 'generate', '--preset', 'tiny', '--seed', '9', '--out', b, '--json')
    expect(rb.code).to.equal(0)
    expect(Buffer.compare(await readFile(a), await readFile(b))).to.equal(0)
    expect(JSON.parse(rb.stdout).modelId).to.equal(/model id: +(0x[0-9a-f]{64})/.exec(ra.stdout)?.[1])
  })

  it('prints model id, architecture, parameters, context length and size', async () => {
    const a = join(dir, 'info.gguf')
    await run('model', 'generate', '--preset', 'tiny', '--seed', '1', '--type', 'q8_0', '--out', a)
    const r = await run('model', 'info', a, '--json')
    expect(r.code).to.equal(0)
    const info = JSON.parse(r.stdout)
    expect(info).to.include({ architecture: 'llama', contextLength: 512 })
    expect(info.parameters).to.be.greaterThan(200_000)
    expect(info.sizeBytes).to.be.greaterThan(100_000)
    expect(info.tensorTypes).to.have.property('Q8_0')
    const text = await run('model', 'info', a)
    expect(text.stdout).to.match(/parameters: +\d/)
    expect(text.stdout).to.match(/context length: +512/)
  })

  it('answers a file that is not a valid GGUF with one line and a non-zero exit', async () => {
    const bad = join(dir, 'bad.gguf')
    await writeFile(bad, 'not a model at all')
    const r = await run('model', 'info', bad)
    expect(r.code).to.equal(2)
    // (Node's own experimental-feature warnings, inherited from the test runner's NODE_OPTIONS, aside)
    const lines = r.stderr.trim().split('\n').filter(l => !/ExperimentalWarning|--trace-warnings/.test(l))
    expect(lines).to.have.length(1)
    expect(r.stderr).to.include('not a GGUF file')
    const missing = await run('model', 'info', join(dir, 'nope.gguf'))
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.include('does not exist')
  })

  it('names the flag on bad input', async () => {
    const r = await run('model', 'generate', '--preset', 'huge', '--out', join(dir, 'x.gguf'))
    expect(r.code).to.equal(2)
    expect(r.stderr).to.include('--preset')
    const s = await run('model', 'generate', '--preset', 'tiny', '--seed', '-3', '--out', join(dir, 'x.gguf'))
    expect(s.code).to.equal(2)
    expect(s.stderr).to.include('--seed')
    const t = await run('model', 'generate', '--preset', 'tiny', '--type', 'q4', '--out', join(dir, 'x.gguf'))
    expect(t.code).to.equal(2)
    expect(t.stderr).to.include('--type')
  })
})
