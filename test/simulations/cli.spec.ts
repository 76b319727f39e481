import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'

function cortensor (...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const res = spawnSync(process.execPath, ['bin/cortensor.js', ...args], { encoding: 'utf8', timeout: 120_000 })
  // the test runner's NODE_OPTIONS may make Node print its own experimental-feature warnings; they are not ours
  const stderr = res.stderr.split('\n').filter(l => !/ExperimentalWarning|--trace-warnings/.test(l)).join('\n')
  return { status: res.status, stdout: res.stdout, stderr }
}

describe('cortensor sim (CLI)', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cortensor-sim-'))
  })

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('sim sampling writes CSV and SVG, identical for the same seed; progress goes to stderr', () => {
    const args = ['sim', 'sampling', '--nodes', '3000', '--days', '1', '--malicious', '0.1', '--strategy', 'lazy', '--sample-rate', '0.05', '--redundancy', '3', '--penalty', '100', '--seed', '1']
    const a = cortensor(...args, '--out', join(dir, 'a'))
    expect(a.status, a.stderr).to.equal(0)
    expect(a.stdout).to.match(/lazy\s+nodes/)
    expect(a.stderr).to.include('simulated time 100%')
    for (const f of ['run.csv', 'behaviours.csv', 'timeline.csv', 'timeline.svg']) {
      expect(existsSync(join(dir, 'a', f)), f).to.equal(true)
    }
    const b = cortensor(...args, '--out', join(dir, 'b'))
    expect(b.status).to.equal(0)
    for (const f of ['run.csv', 'behaviours.csv', 'timeline.csv']) {
      expect(readFileSync(join(dir, 'b', f), 'utf8')).to.equal(readFileSync(join(dir, 'a', f), 'utf8'))
    }
  })

  it('bad flags exit 2 with one line naming the flag', () => {
    for (const [flag, value] of [['--sample-rate', '1.5'], ['--nodes', 'many'], ['--strategy', 'greedy'], ['--redundancy', '0']]) {
      const r = cortensor('sim', 'sampling', flag, value, '--out', dir)
      expect(r.status).to.equal(2)
      expect(r.stderr.trim().split('\n')).to.have.length(1)
      expect(r.stderr).to.include(flag)
    }
  })

  it('a bad scenario file exits 2 naming the field', () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'nodes: 1000\nmix:\n  lazy: 0.1\n  greedy: 0.1\n')
    const r = cortensor('sim', 'sampling', '--scenario', file, '--out', dir)
    expect(r.status).to.equal(2)
    expect(r.stderr).to.include('--scenario').and.include('mix.greedy')
  })

  it('--sweep over a scenario grid writes one table, and report writes report.md with the charts', () => {
    const file = join(dir, 'grid.yaml')
    writeFileSync(file, 'nodes: 2000\nmix:\n  lazy: 0.05\n  colluding: 0.05\nsweep:\n  sampleRate: [0.01, 0.1]\n  penalty: [10, 100]\n')
    const s = cortensor('sim', 'sampling', '--scenario', file, '--sweep', '--out', dir)
    expect(s.status, s.stderr).to.equal(0)
    const rows = readFileSync(join(dir, 'sweep.csv'), 'utf8').trim().split('\n')
    expect(rows).to.have.length(5)
    expect(rows[0]).to.include('sampleRate').and.include('lazy_detection_per_act')
    const r = cortensor('sim', 'report', '--in', dir, '--out', join(dir, 'report.md'))
    expect(r.status, r.stderr).to.equal(0)
    const md = readFileSync(join(dir, 'report.md'), 'utf8')
    expect(md).to.include('# Sampling simulation report').and.include('9604').and.include('## Scenario sweep')
    expect(cortensor('sim', 'report', '--in', join(dir, 'missing')).status).to.equal(2)
  })
})
