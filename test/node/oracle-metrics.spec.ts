import { expect } from 'aegir/chai'
import { Registry } from 'prom-client'
import { OracleMetrics } from '../../node/roles/oracle/metrics.ts'

/** The value of one sample in the registry's exposition text. */
function sample (text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${name}${labels} `))
  return line == null ? undefined : Number(line.split(' ')[1])
}

describe('node/roles/oracle/metrics', () => {
  it('counts each event once, on the registry and in the stats read at once', async () => {
    const m = new OracleMetrics()
    const registry = new Registry()
    m.register(registry)
    m.task('assigned')
    m.task('assigned')
    m.task('abandoned', 3)
    m.draw('agreed')
    m.draw('allowed')
    m.draw('mismatch')
    m.draw('agreed')
    m.replay()
    m.audit()
    m.auditFailure(2)
    m.slash()
    m.transaction('settle')
    m.transaction('assign')
    m.transaction('assign')
    m.contradiction('taskId')
    m.contradiction('taskId')
    m.contradiction('node')
    expect(m.stats).to.deep.equal({
      assigned: 2,
      reassigned: 0,
      validated: 0,
      settled: 0,
      abandoned: 3,
      settleTransactions: 1,
      assignTransactions: 2,
      selectionChecks: 4,
      selectionMismatches: 1,
      selectionRedraws: 1,
      replays: 1,
      slashed: 1,
      audits: 1,
      auditFailures: 2,
      contradictions: { taskId: 2, node: 1 }
    })
    const text = await registry.metrics()
    expect(sample(text, 'cortensor_oracle_tasks_total', '{outcome="assigned"}')).to.equal(2)
    expect(sample(text, 'cortensor_oracle_tasks_total', '{outcome="abandoned"}')).to.equal(3)
    // every outcome is shown from zero, before its first event
    expect(sample(text, 'cortensor_oracle_tasks_total', '{outcome="settled"}')).to.equal(0)
    expect(sample(text, 'cortensor_oracle_selection_draws_total', '{result="agreed"}')).to.equal(2)
    expect(sample(text, 'cortensor_oracle_selection_draws_total', '{result="allowed"}')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_selection_draws_total', '{result="mismatch"}')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_replays_total')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_audits_total')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_audit_failures_total')).to.equal(2)
    expect(sample(text, 'cortensor_oracle_slashes_total')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_transactions_total', '{kind="assign"}')).to.equal(2)
    expect(sample(text, 'cortensor_oracle_transactions_total', '{kind="settle"}')).to.equal(1)
    expect(sample(text, 'cortensor_oracle_contradictions_total', '{field="taskId"}')).to.equal(2)
  })

  it('the stats read is a copy: reading it changes nothing', () => {
    const m = new OracleMetrics()
    m.contradiction('submitter')
    const s = m.stats
    s.assigned = 99
    s.contradictions.submitter = 99
    expect(m.stats.assigned).to.equal(0)
    expect(m.stats.contradictions.submitter).to.equal(1)
  })

  it('unregister takes the counters off the registry; a new oracle on the same registry replaces them', async () => {
    const registry = new Registry()
    const first = new OracleMetrics()
    first.register(registry)
    first.task('settled')
    first.unregister()
    expect(await registry.metrics()).not.to.include('cortensor_oracle_')
    const second = new OracleMetrics()
    first.register(registry)
    second.register(registry)
    expect(sample(await registry.metrics(), 'cortensor_oracle_tasks_total', '{outcome="settled"}')).to.equal(0)
    // the first one stopping again leaves the second's counters where they are
    first.unregister()
    second.task('validated')
    expect(sample(await registry.metrics(), 'cortensor_oracle_tasks_total', '{outcome="validated"}')).to.equal(1)
  })
})
