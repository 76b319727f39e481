/**
 * The oracle's counts as Prometheus metrics on the node's registry (its
 * `/metrics`, beside libp2p's). Every module of the role counts through
 * the one `OracleMetrics` it is given (each method is one event), and the
 * counters are registered while the role runs:
 *
 * - `cortensor_oracle_tasks_total{outcome}`: assigned (as leader), reassigned, validated, settled, abandoned (given up on chain)
 * - `cortensor_oracle_selection_draws_total{result}`: the leader's draws recomputed as follower (agreed; allowed: a re-draw checked as allowed by the pool now; mismatch)
 * - `cortensor_oracle_replays_total`, `cortensor_oracle_audits_total`, `cortensor_oracle_audit_failures_total`, `cortensor_oracle_slashes_total`
 * - `cortensor_oracle_transactions_total{kind}`: settle and assign transactions sent
 * - `cortensor_oracle_contradictions_total{field}`: gossip that contradicted the chain or its records
 *
 * prom-client reads a counter only asynchronously; `stats` is the same
 * counts read at once (tests and the role's own log lines).
 */
import { Counter } from 'prom-client'
import type { OracleStats } from './types.ts'
import type { Registry } from 'prom-client'

export type TaskOutcome = 'assigned' | 'reassigned' | 'validated' | 'settled' | 'abandoned'
export type DrawResult = 'agreed' | 'allowed' | 'mismatch'
export type TransactionKind = 'settle' | 'assign'

function counter (name: string, help: string, labelNames: string[] = []): Counter {
  return new Counter({ name, help, labelNames, registers: [] })
}

export class OracleMetrics {
  private readonly tasks = counter('cortensor_oracle_tasks_total', 'tasks by what this oracle did with them: assigned (as leader), reassigned (a miner replaced), validated, settled, abandoned (given up on chain as leader)', ['outcome'])
  private readonly draws = counter('cortensor_oracle_selection_draws_total', 'the leader\'s round-0 draws this oracle recomputed from the chain seed as a follower, by result', ['result'])
  private readonly replays = counter('cortensor_oracle_replays_total', 'outputs this oracle replayed (disputed, sampled or attested)')
  private readonly audits = counter('cortensor_oracle_audits_total', 'settled tasks this oracle audited by replay')
  private readonly auditFailures = counter('cortensor_oracle_audit_failures_total', 'accepted outputs that failed this oracle\'s audit')
  private readonly slashes = counter('cortensor_oracle_slashes_total', 'slashes this oracle sent to the hub')
  private readonly transactions = counter('cortensor_oracle_transactions_total', 'hub transactions this oracle sent, by kind', ['kind'])
  private readonly contradictions = counter('cortensor_oracle_contradictions_total', 'gossip that contradicted the chain or this oracle\'s records, by field', ['field'])
  private readonly all = [this.tasks, this.draws, this.replays, this.audits, this.auditFailures, this.slashes, this.transactions, this.contradictions]
  private readonly counts: OracleStats = { assigned: 0, reassigned: 0, validated: 0, settled: 0, abandoned: 0, settleTransactions: 0, assignTransactions: 0, selectionMismatches: 0, selectionChecks: 0, selectionRedraws: 0, replays: 0, slashed: 0, audits: 0, auditFailures: 0, contradictions: {} }
  private registry?: Registry

  constructor () {
    // every labelled series from zero, so a scrape shows each outcome before its first event
    for (const outcome of ['assigned', 'reassigned', 'validated', 'settled', 'abandoned']) {
      this.tasks.inc({ outcome }, 0)
    }
    for (const result of ['agreed', 'allowed', 'mismatch']) {
      this.draws.inc({ result }, 0)
    }
    for (const kind of ['settle', 'assign']) {
      this.transactions.inc({ kind }, 0)
    }
  }

  /** The counts so far (read at once; the registry reads the same counters). */
  get stats (): OracleStats {
    return { ...this.counts, contradictions: { ...this.counts.contradictions } }
  }

  /** Show the counters on `registry` (replacing a stopped oracle's on the same registry). */
  register (registry: Registry): void {
    this.unregister()
    for (const c of this.all) {
      const name = (c as unknown as { name: string }).name
      registry.removeSingleMetric(name)
      registry.registerMetric(c)
    }
    this.registry = registry
  }

  /** Take the counters off the registry (those of an oracle registered since stay). */
  unregister (): void {
    for (const c of this.all) {
      const name = (c as unknown as { name: string }).name
      if (this.registry?.getSingleMetric(name) === c) {
        this.registry.removeSingleMetric(name)
      }
    }
    this.registry = undefined
  }

  task (outcome: TaskOutcome, n = 1): void {
    this.tasks.inc({ outcome }, n)
    this.counts[outcome] += n
  }

  /** A follower's check of the leader's round-0 draw. */
  draw (result: DrawResult): void {
    this.draws.inc({ result })
    this.counts.selectionChecks++
    if (result === 'allowed') {
      this.counts.selectionRedraws++
    } else if (result === 'mismatch') {
      this.counts.selectionMismatches++
    }
  }

  replay (): void {
    this.replays.inc()
    this.counts.replays++
  }

  audit (): void {
    this.audits.inc()
    this.counts.audits++
  }

  auditFailure (n: number): void {
    this.auditFailures.inc(n)
    this.counts.auditFailures += n
  }

  slash (): void {
    this.slashes.inc()
    this.counts.slashed++
  }

  transaction (kind: TransactionKind): void {
    this.transactions.inc({ kind })
    this.counts[kind === 'settle' ? 'settleTransactions' : 'assignTransactions']++
  }

  contradiction (field: string): void {
    this.contradictions.inc({ field })
    this.counts.contradictions[field] = (this.counts.contradictions[field] ?? 0) + 1
  }
}
