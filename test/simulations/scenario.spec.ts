import { expect } from 'aegir/chai'
import { fromCsv, toCsv } from '../../simulations/csv.ts'
import { cheatingPays, recommend } from '../../simulations/report.ts'
import { parseScenarioText, sweepGrid, validateScenario } from '../../simulations/scenario.ts'
import { lineChart } from '../../simulations/svg.ts'

function fieldOf (text: string): string {
  try {
    parseScenarioText(text)
  } catch (err: any) {
    expect(err.name).to.equal('ScenarioError')
    return err.field
  }
  throw new Error('scenario was accepted')
}

describe('simulations/scenario', () => {
  it('reads YAML and JSON scenarios with a sweep grid', () => {
    const y = parseScenarioText('nodes: 5000\nsampleRate: 0.1\nmix:\n  lazy: 0.1\n  copier: 0.05\nsweep:\n  penalty: [10, 100]\n  redundancy: [1, 3]\n')
    expect(y.scenario.nodes).to.equal(5000)
    expect(y.scenario.mix).to.deep.equal({ lazy: 0.1, copier: 0.05 })
    expect(y.scenario.redundancy).to.equal(3) // default
    expect(y.sweep).to.deep.equal({ penalty: [10, 100], redundancy: [1, 3] })
    const grid = sweepGrid(y.scenario, y.sweep ?? {})
    expect(grid.map(s => [s.penalty, s.redundancy])).to.deep.equal([[10, 1], [10, 3], [100, 1], [100, 3]])
    const j = parseScenarioText('{"strategy": "colluding", "malicious": 0.2}')
    expect(j.scenario.strategy).to.equal('colluding')
  })

  it('rejects bad scenario files with the name of the field', () => {
    expect(fieldOf('sampleRate: 2')).to.equal('sampleRate')
    expect(fieldOf('redundancy: 2.5')).to.equal('redundancy')
    expect(fieldOf('nodez: 10')).to.equal('nodez')
    expect(fieldOf('strategy: greedy')).to.equal('strategy')
    expect(fieldOf('mix:\n  lazy: 0.5\n  honest: 0.1')).to.equal('mix.honest')
    expect(fieldOf('mix:\n  lazy: 0.7\n  copier: 0.6')).to.equal('mix')
    expect(fieldOf('commitReveal: "yes"')).to.equal('commitReveal')
    expect(fieldOf('sweep:\n  strategy: [lazy]')).to.equal('sweep.strategy')
    expect(fieldOf('sweep:\n  penalty: [1, -5]')).to.equal('sweep.penalty[1]')
    expect(fieldOf('nodes: 3\nredundancy: 5')).to.equal('redundancy')
    expect(() => parseScenarioText('nodes: [1, 2')).to.throw().with.property('name', 'ScenarioFormatError')
    expect(() => parseScenarioText('- 1\n- 2')).to.throw().with.property('name', 'ScenarioFormatError')
  })

  it('CSV round-trips and quotes cells that need it', () => {
    const rows = [{ a: 1, b: 'x,y', c: 0.1 + 0.2, d: true }, { a: 2, b: 'say "hi"', c: NaN, d: false }]
    const back = fromCsv(toCsv(rows))
    expect(back).to.deep.equal([{ a: '1', b: 'x,y', c: '0.3', d: 'true' }, { a: '2', b: 'say "hi"', c: '', d: 'false' }])
  })

  it('SVG charts have a title, axes, ticks and a legend entry per series', () => {
    const svg = lineChart([{ name: 'lazy', points: [[0, 0.1], [0.5, 0.6], [1, 0.9]] }, { name: 'f^n', points: [[1, 1e-3], [2, 1e-5]], dashed: true }], {
      title: 'Detection & cost', xLabel: 'sample rate', yLabel: 'P'
    })
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg).to.include('Detection &amp; cost')
    expect(svg.match(/<polyline/g)).to.have.length(2)
    expect(svg).to.include('>lazy</text>')
    expect(svg).to.include('stroke-dasharray')
    expect(svg.trim().endsWith('</svg>')).to.equal(true)
  })

  it('recommends the cheapest grid point where no cheating act beats honest work', () => {
    const base = { grid: 'economics', reward: '1', redundancy: '3', nodes: '1000', seed: '1', colluding_nodes: '50', colluding_cheat_acts: '3', colluding_detection_per_act: '0' }
    const rows = [
      { ...base, sampleRate: '0', penalty: '100', verification_cost: '2.0' }, // p = 0: unanimous fakes never caught
      { ...base, sampleRate: '0.01', penalty: '10', verification_cost: '2.01' }, // 0.99 − 0.1 − 0.05 > 0.4
      { ...base, sampleRate: '0.01', penalty: '100', verification_cost: '2.01' }, // 0.99 − 1 − 0.05 < 0.4
      { ...base, sampleRate: '0.1', penalty: '10', verification_cost: '2.05' }
    ]
    expect(rows.map(cheatingPays)).to.deep.equal([true, true, false, false])
    expect(recommend(rows)).to.include({ sampleRate: 0.01, penalty: 100, redundancy: 3 })
    expect(recommend(rows.slice(0, 2))).to.equal(undefined)
    expect(validateScenario({}).sampleRate).to.be.a('number')
  })
})
