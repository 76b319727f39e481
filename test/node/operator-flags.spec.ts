/**
 * The operator's engine flags (`--gpu`, `--gpu-layers`, `--threads`,
 * `--sequences`, a repeatable `--model`, for a miner and an oracle alike) from the command line, the
 * environment and a config file; bad values exit 2 naming the flag; a GPU
 * backend this machine lacks is refused naming `--gpu`; the model load
 * progress as a terminal bar and as plain lines.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { expect } from 'aegir/chai'
import { resolveConfig } from '../../node/config.ts'
import { availableBackends } from '../../node/inference/index.ts'
import { loadProgress, progressBar } from '../../node/load-progress.ts'
import { runCli } from '../fixtures/cli.ts'

function expectUsageError (res: { code: number | null, stderr: string }, pattern: RegExp): void {
  expect(res.code, res.stderr).to.equal(2)
  const lines = res.stderr.trim().split('\n')
  expect(lines.at(-1)).to.match(pattern)
  expect(lines.filter(l => l.startsWith('cortensor: '))).to.have.length(1)
  expect(res.stderr).to.not.match(/\n\s+at /)
}

async function refused (flags: Record<string, unknown>, env: Record<string, string> = {}): Promise<Error> {
  return resolveConfig({ flags, env }).then(() => { throw new Error('accepted') }, (err: Error) => err)
}

describe('operator flags', function () {
  this.timeout(60_000)
  let dir: string

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-flags-'))
  })

  after(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads the engine settings from flags, the environment and a file, flags first', async function () {
    const defaults = await resolveConfig({ env: {} })
    expect(defaults).to.include({ gpu: 'auto', gpuLayers: undefined, threads: undefined, sequences: undefined, model: undefined })
    expect(defaults.models).to.deep.equal([])

    const flags = await resolveConfig({ flags: { gpu: 'CPU', gpuLayers: 'max', threads: '3', sequences: '4', model: ['a.gguf', 'b.gguf', 'a.gguf'] }, env: {} })
    expect(flags).to.include({ gpu: 'cpu', gpuLayers: 'max', threads: 3, sequences: 4, model: resolve('a.gguf') })
    expect(flags.models).to.deep.equal([resolve('a.gguf'), resolve('b.gguf')])

    const env = await resolveConfig({ env: { CORTENSOR_MODEL: 'c.gguf, d.gguf', CORTENSOR_THREADS: '2', CORTENSOR_GPU_LAYERS: '12', CORTENSOR_GPU: 'vulkan' } })
    expect(env).to.include({ gpu: 'vulkan', gpuLayers: 12, threads: 2 })
    expect(env.models).to.deep.equal([resolve('c.gguf'), resolve('d.gguf')])

    const file = join(dir, 'node.yaml')
    await writeFile(file, 'model: [e.gguf, f.gguf]\nthreads: 5\nsequences: 6\ngpu: cpu\n')
    const fromFile = await resolveConfig({ flags: { config: file, threads: '7' }, env: { CORTENSOR_SEQUENCES: '8' } })
    expect(fromFile).to.include({ threads: 7, sequences: 8, gpu: 'cpu' })
    expect(fromFile.models).to.deep.equal([resolve('e.gguf'), resolve('f.gguf')])
  })

  it('refuses bad engine settings, naming the flag, the variable or the file key', async function () {
    expect((await refused({ gpu: 'quantum' })).message).to.equal('--gpu: "quantum" is not a GPU backend (auto, cpu, vulkan, cuda, metal)')
    expect((await refused({ threads: '0' })).message).to.equal('--threads: "0" is not a whole number from 1 to 1024')
    expect((await refused({ sequences: '1.5' })).message).to.equal('--sequences: "1.5" is not a whole number from 1 to 256')
    expect((await refused({ gpuLayers: '-1' })).message).to.equal('--gpu-layers: "-1" is not a number of layers (a whole number >= 0, auto or max)')
    expect((await refused({}, { CORTENSOR_THREADS: 'many' })).message).to.equal('CORTENSOR_THREADS: "many" is not a whole number from 1 to 1024')
    const file = join(dir, 'bad.yaml')
    await writeFile(file, 'sequences: 0\n')
    const err = await refused({ config: file })
    expect(err.name).to.equal('ConfigError')
    expect(err.message).to.equal(`${file}: sequences: "0" is not a whole number from 1 to 256`)
  })

  it('node start and devnet exit 2 on bad engine flags, naming the flag', async function () {
    const data = join(dir, 'node')
    expectUsageError(await runCli(['node', 'start', '--gpu', 'quantum', '--data-dir', data]), /^cortensor: --gpu: "quantum" is not a GPU backend/)
    expectUsageError(await runCli(['node', 'start', '--threads', '0', '--data-dir', data]), /^cortensor: --threads: "0" is not a whole number from 1 to 1024$/)
    expectUsageError(await runCli(['node', 'start', '--sequences', 'two', '--data-dir', data]), /^cortensor: --sequences: "two" is not a whole number from 1 to 256$/)
    expectUsageError(await runCli(['devnet', '--gpu-layers', 'lots']), /^cortensor: --gpu-layers: "lots" is not a number of layers/)
    expectUsageError(await runCli(['devnet', '--threads', '0']), /^cortensor: --threads: "0" must be a whole number from 1 to 1024$/)
  })

  it('an oracle takes several models: with two --model it goes on to what it lacks next, the chain (the same model twice: test/lifecycle/models.spec.ts)', async function () {
    expectUsageError(await runCli(['node', 'start', '--role', 'oracle', '--model', join(dir, 'a.gguf'), '--model', join(dir, 'b.gguf'), '--data-dir', join(dir, 'oracle'), '--listen', '/ip4/127.0.0.1/tcp/0']),
      /^cortensor: --rpc: the oracle role needs the chain/)
  })

  it('a GPU backend this machine lacks is a clear error naming --gpu, not a crash', async function () {
    const available = await availableBackends()
    const missing = (['cuda', 'vulkan', 'metal'] as const).find(b => !available.includes(b))
    if (missing == null) {
      // every backend works on this machine: nothing to refuse here
      this.skip()
    }
    const res = await runCli(['node', 'start', '--role', 'miner', '--gpu', missing, '--model', join(dir, 'm.gguf'), '--data-dir', join(dir, 'gpu'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    expectUsageError(res, new RegExp(`^cortensor: --gpu: the ${missing} backend is not available on this machine .*; available here: ${available.join(', ')}$`))
    expectUsageError(await runCli(['devnet', '--gpu', missing, '--once']), new RegExp(`^cortensor: --gpu: the ${missing} backend is not available on this machine`))
  })
})

describe('model load progress', function () {
  const fractions = [0.02, 0.326, 0.33, 0.65, 0.96, 1]

  it('prints a line per 10 % crossed when not on a terminal, ending at 100 %', function () {
    const lines: string[] = []
    const p = loadProgress('loading m.gguf', { tty: false, write: () => { throw new Error('no raw writes off a terminal') }, line: (l) => { lines.push(l) } })
    fractions.forEach(f => { p.update(f) })
    p.done()
    p.done()
    expect(lines).to.deep.equal(['loading m.gguf: 0%', 'loading m.gguf: 30%', 'loading m.gguf: 60%', 'loading m.gguf: 90%', 'loading m.gguf: 100%'])
  })

  it('a load that reports no progress still ends with 100 %', function () {
    const lines: string[] = []
    const p = loadProgress('m', { tty: false, write: () => {}, line: (l) => { lines.push(l) } })
    p.done()
    expect(lines).to.deep.equal(['m: 100%'])
  })

  it('redraws one bar on a terminal and ends the line', function () {
    let out = ''
    const p = loadProgress('m', { tty: true, write: (t) => { out += t }, line: () => { throw new Error('no lines on a terminal') } })
    fractions.forEach(f => { p.update(f) })
    p.done()
    const frames = out.split('\r').filter(Boolean)
    expect(frames.map(f => f.trimEnd())).to.deep.equal([2, 32, 33, 65, 96, 100].map(pct => `m ${progressBar(pct / 100)}`))
    expect(out.endsWith('100%\n')).to.equal(true)
    expect(progressBar(0.5, 10)).to.equal('[█████░░░░░]  50%')
  })
})
