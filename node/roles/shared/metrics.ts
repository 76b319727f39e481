/**
 * Prometheus metrics of the miner and oracle roles on the node's registry
 * (its `/metrics`, beside libp2p's). The roles count in their `stats`
 * objects, as they always have; these metrics read those counts at each
 * scrape, so there is one count and two ways to see it. A miner's earnings
 * are the hub's record, read from the chain at each scrape.
 *
 * Miner:
 * - `cortensor_miner_tasks_total{model,outcome}`: generated, declined, failed
 * - `cortensor_miner_tokens_total{model}`, `cortensor_miner_generation_seconds_total{model}`: tokens/s over any window is the ratio of their rates
 * - `cortensor_miner_tokens_per_second{model}`: the last generation's speed
 * - `cortensor_miner_verdicts_total{outcome}`: the oracles' verdicts on its outputs (ACCEPTED, OUTLIER, …)
 * - `cortensor_miner_speculation_total{outcome}`: work started on its own draw (started, confirmed, dropped)
 * - `cortensor_miner_earnings_wei`: earnings on the hub not withdrawn yet
 * - `cortensor_miner_load`: tasks at work now
 *
 * Oracle:
 * - `cortensor_oracle_tasks_total{outcome}`: assigned (as leader), reassigned, validated, settled, abandoned (given up on chain)
 * - `cortensor_oracle_selection_draws_total{result}`: the leader's draws recomputed as follower (agreed; allowed: a re-draw checked as allowed by the pool now; mismatch)
 * - `cortensor_oracle_replays_total`, `cortensor_oracle_audits_total`, `cortensor_oracle_audit_failures_total`, `cortensor_oracle_slashes_total`
 * - `cortensor_oracle_transactions_total{kind}`: settle and assign transactions sent
 * - `cortensor_oracle_contradictions_total{field}`: gossip that contradicted the chain or its records
 */
import { Counter, Gauge } from 'prom-client'
import { getNode } from '../../../contracts/index.ts'
import type { MinerMetricsSource } from '../miner/types.ts'
import type { OracleRole } from '../oracle/index.ts'
import type { Registry } from 'prom-client'
import type { Address } from 'viem'

export interface RoleMetrics {
  /** take the roles' metrics off the registry (the roles stopped) */
  unregister(): void
}

type Labels = Record<string, string>

/**
 * A counter whose value is read from a role's count at scrape time: reset
 * and set to the count (a count only grows, so the counter does too).
 */
function countFrom (registry: Registry, names: string[], name: string, help: string, labelNames: string[], read: () => Array<[Labels, number]>): void {
  registry.removeSingleMetric(name)
  names.push(name)
  // eslint-disable-next-line no-new
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) {
        this.inc(labels, value)
      }
    }
  })
}

function gaugeFrom (registry: Registry, names: string[], name: string, help: string, labelNames: string[], read: () => Promise<Array<[Labels, number]>> | Array<[Labels, number]>): void {
  registry.removeSingleMetric(name)
  names.push(name)
  // eslint-disable-next-line no-new
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect () {
      this.reset()
      for (const [labels, value] of await read()) {
        this.set(labels, value)
      }
    }
  })
}

const perModel = (counts: Record<string, number>): Array<[Labels, number]> => Object.entries(counts).map(([model, n]) => [{ model }, n])

/** Register the metrics of the roles given on `registry`. */
export function roleMetrics (registry: Registry, roles: { miner?: MinerMetricsSource, oracle?: OracleRole }): RoleMetrics {
  const names: string[] = []
  const { miner, oracle } = roles
  if (miner != null) {
    const s = miner.stats
    countFrom(registry, names, 'cortensor_miner_tasks_total', 'tasks this miner worked on, by model and outcome (generated: output precommitted; declined: cannot run on the model; failed: engine error)', ['model', 'outcome'],
      () => Object.entries(s.tasks).flatMap(([model, byOutcome]) => Object.entries(byOutcome).map(([outcome, n]): [Labels, number] => [{ model, outcome }, n])))
    countFrom(registry, names, 'cortensor_miner_tokens_total', 'tokens generated, by model', ['model'], () => perModel(s.tokens))
    countFrom(registry, names, 'cortensor_miner_generation_seconds_total', 'time spent generating, by model (tokens_total / this = tokens per second)', ['model'],
      () => Object.entries(s.generationMs).map(([model, ms]) => [{ model }, ms / 1000]))
    gaugeFrom(registry, names, 'cortensor_miner_tokens_per_second', 'tokens per second of the last generation, by model', ['model'], () => perModel(s.lastTokensPerSecond))
    countFrom(registry, names, 'cortensor_miner_verdicts_total', 'the oracles\' verdicts on this miner\'s outputs, by outcome (one per task)', ['outcome'],
      () => Object.entries(s.verdicts).map(([outcome, n]) => [{ outcome }, n]))
    countFrom(registry, names, 'cortensor_miner_speculation_total', 'work started on the miner\'s own draw of a task before its assignment, by outcome', ['outcome'],
      () => Object.entries(miner.speculation).map(([outcome, n]) => [{ outcome }, n]))
    gaugeFrom(registry, names, 'cortensor_miner_load', 'tasks at work now', [], () => [[{}, miner.load]])
    const chain = miner.init.chain
    if (chain != null) {
      gaugeFrom(registry, names, 'cortensor_miner_earnings_wei', 'earnings on the hub not withdrawn yet (wei; read from the chain at each scrape)', [], async () => {
        try {
          const node = await getNode(chain.wallet, { hub: chain.hub, node: miner.address as Address })
          return [[{}, Number(node.earningsWei)]]
        } catch {
          // the chain does not answer now: no sample rather than a failed scrape
          return []
        }
      })
    }
  }
  if (oracle != null) {
    const s = oracle.stats
    countFrom(registry, names, 'cortensor_oracle_tasks_total', 'tasks by what this oracle did with them: assigned (as leader), reassigned (a miner replaced), validated, settled, abandoned (given up on chain as leader)', ['outcome'],
      () => [[{ outcome: 'assigned' }, s.assigned], [{ outcome: 'reassigned' }, s.reassigned], [{ outcome: 'validated' }, s.validated], [{ outcome: 'settled' }, s.settled], [{ outcome: 'abandoned' }, s.abandoned]])
    countFrom(registry, names, 'cortensor_oracle_selection_draws_total', 'the leader\'s round-0 draws this oracle recomputed from the chain seed as a follower, by result', ['result'],
      () => [[{ result: 'agreed' }, s.selectionChecks - s.selectionMismatches - s.selectionRedraws], [{ result: 'allowed' }, s.selectionRedraws], [{ result: 'mismatch' }, s.selectionMismatches]])
    countFrom(registry, names, 'cortensor_oracle_replays_total', 'outputs this oracle replayed (disputed, sampled or attested)', [], () => [[{}, s.replays]])
    countFrom(registry, names, 'cortensor_oracle_audits_total', 'settled tasks this oracle audited by replay', [], () => [[{}, s.audits]])
    countFrom(registry, names, 'cortensor_oracle_audit_failures_total', 'accepted outputs that failed this oracle\'s audit', [], () => [[{}, s.auditFailures]])
    countFrom(registry, names, 'cortensor_oracle_slashes_total', 'slashes this oracle sent to the hub', [], () => [[{}, s.slashed]])
    countFrom(registry, names, 'cortensor_oracle_transactions_total', 'hub transactions this oracle sent, by kind', ['kind'],
      () => [[{ kind: 'settle' }, s.settleTransactions], [{ kind: 'assign' }, s.assignTransactions]])
    countFrom(registry, names, 'cortensor_oracle_contradictions_total', 'gossip that contradicted the chain or this oracle\'s records, by field', ['field'],
      () => Object.entries(s.contradictions).map(([field, n]) => [{ field }, n]))
  }
  return {
    unregister: () => {
      for (const name of names.splice(0)) {
        registry.removeSingleMetric(name)
      }
    }
  }
}
