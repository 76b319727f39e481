import { expect } from 'aegir/chai'
import { allDishonestQuorum, lazyDetectionRate } from '../../protocols/sampling/index.ts'
import { toCsv } from '../../simulations/csv.ts'
import { runSimulation } from '../../simulations/engine.ts'
import { behaviourRows, runRow } from '../../simulations/output.ts'
import { validateScenario } from '../../simulations/scenario.ts'
import type { RunResult } from '../../simulations/engine.ts'

function sim (fields: Record<string, unknown>): RunResult {
  return runSimulation(validateScenario({ nodes: 20_000, ...fields }))
}

function stats (r: RunResult, strategy: string): RunResult['behaviours'][number] {
  const b = r.behaviours.find(b => b.strategy === strategy)
  if (b === undefined) {
    throw new Error(`no ${strategy} nodes`)
  }
  return b
}

/** |measured − expected| within 4 binomial standard deviations */
function withinBinomial (hits: number, trials: number, p: number): void {
  const sd = Math.sqrt(trials * p * (1 - p))
  expect(Math.abs(hits - trials * p), `${hits}/${trials} vs p=${p}`).to.be.at.most(4 * sd + 1)
}

describe('simulations/engine', () => {
  it('is deterministic by seed: same seed → identical CSV, another seed → different', () => {
    const fields = { nodes: 5000, mix: { lazy: 0.1, copier: 0.05, colluding: 0.1 }, churnPerDay: 0.5 }
    const csv = (r: RunResult): string => toCsv([runRow(r)]) + toCsv(behaviourRows(r))
    const a = csv(sim({ ...fields, seed: 7 }))
    expect(csv(sim({ ...fields, seed: 7 }))).to.equal(a)
    expect(csv(sim({ ...fields, seed: 8 }))).to.not.equal(a)
  })

  it('all-colluding quorum escapes at the closed-form rate f^n (n = 3 and 5, f ≈ 1/3, no sampling)', () => {
    for (const n of [3, 5]) {
      const r = sim({ nodes: 30_000, strategy: 'colluding', malicious: 1 / 3, redundancy: n, sampleRate: 0, seed: n })
      const f = stats(r, 'colluding').nodes / 30_000
      const expected = allDishonestQuorum(Infinity, f, n)
      withinBinomial(r.badAccepted, r.tasks, expected)
      expect(stats(r, 'colluding').caughtActs).to.equal(0)
    }
  })

  it('a unanimous colluding quorum is caught exactly when sampled (detection ≈ sample rate)', () => {
    const r = sim({ strategy: 'colluding', malicious: 0.6, redundancy: 2, sampleRate: 0.2, penalty: 1, seed: 3 })
    const c = stats(r, 'colluding')
    expect(c.cheatActs).to.be.above(1000)
    withinBinomial(c.caughtActs, c.cheatActs, 0.2)
  })

  it('lazy miners without redundancy are caught at ≈ sample rate × q per task', () => {
    const p = 0.1
    const q = 0.5
    const r = sim({ strategy: 'lazy', malicious: 0.2, lazyProbability: q, redundancy: 1, sampleRate: p, seed: 4 })
    const lazy = stats(r, 'lazy')
    withinBinomial(lazy.caughtActs, lazy.assigned, lazyDetectionRate(p, q))
    withinBinomial(lazy.caughtActs, lazy.cheatActs, p)
  })

  it('lazy miners with redundancy 3 disagree with the honest majority and are caught on almost every fake', () => {
    const r = sim({ strategy: 'lazy', malicious: 0.05, redundancy: 3, sampleRate: 0.01, seed: 5 })
    expect(stats(r, 'lazy').detectionPerAct).to.be.above(0.99)
    expect(r.badAcceptedRate).to.be.below(0.001)
  })

  it('copiers are always caught by commit-reveal, and succeed without it', () => {
    const withCr = sim({ strategy: 'copier', malicious: 0.1, seed: 6 })
    const c = stats(withCr, 'copier')
    expect(c.cheatActs).to.be.above(500)
    // every copy is a reveal that contradicts its precommit; the rest had nobody to copy and timed out
    expect(c.caughtActs + c.timeouts).to.equal(c.cheatActs)
    expect(c.detectionPerAct).to.be.above(0.98)
    expect(c.passes).to.equal(0)
    expect(c.paid).to.equal(0)
    expect(c.profitPerTask).to.be.below(0)
    const without = stats(sim({ strategy: 'copier', malicious: 0.1, seed: 6, commitReveal: false }), 'copier')
    expect(without.caughtActs).to.equal(0)
    expect(without.profitPerTask).to.be.above(stats(withCr, 'honest').profitPerTask)
  })

  it('a wrong model is caught by replay: always beside honest miners (its output differs), at the sample rate when alone', () => {
    // its text may even embed like the honest answer: a byte-different output is replayed anyway
    const beside = stats(sim({ strategy: 'wrong-model', malicious: 0.05, wrongModelSimilar: 1, sampleRate: 0.1, seed: 7 }), 'wrong-model')
    expect(beside.detectionPerAct).to.be.above(0.99)
    // alone on its task it agrees with itself: only the audit after settlement replays it
    const alone = stats(sim({ strategy: 'wrong-model', malicious: 0.05, redundancy: 1, sampleRate: 0.1, seed: 7 }), 'wrong-model')
    withinBinomial(alone.caughtActs, alone.cheatActs, 0.1)
    // paid at settlement, slashed by the audit
    expect(alone.paid).to.be.above(alone.cheatActs - alone.caughtActs - 1)
  })

  it('sybils lose at most their small stake and are ejected when it runs out', () => {
    const r = sim({ strategy: 'sybil', malicious: 0.5, redundancy: 2, sampleRate: 0.5, sybilStake: 5, penalty: 100, seed: 8 })
    const s = stats(r, 'sybil')
    expect(s.caughtActs).to.be.above(0)
    expect(s.ejectedNodes).to.be.above(0)
    expect(s.slashed).to.be.at.most(5 * s.nodes + 1e-6)
  })

  it('churn replaces identities and the network keeps serving', () => {
    const r = sim({ nodes: 5000, strategy: 'lazy', malicious: 0.1, churnPerDay: 2, seed: 9 })
    expect(r.tasks).to.be.above(4500)
    expect(r.noResult).to.be.below(r.tasks * 0.01)
    expect(r.timeline).to.have.length(24)
    const last = r.timeline[23].caught.lazy ?? 0
    expect(last).to.be.above(r.timeline[0].caught.lazy ?? 0)
  })
})
