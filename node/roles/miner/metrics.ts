/**
 * The miner's Prometheus metrics on the node's registry (its `/metrics`,
 * beside libp2p's), counted by prom-client as things happen:
 *
 * - `cortensor_miner_tasks_total{model,outcome}`: generated, declined, failed
 * - `cortensor_miner_tokens_total{model}`, `cortensor_miner_generation_seconds_total{model}`: tokens/s over any window is the ratio of their rates
 * - `cortensor_miner_tokens_per_second{model}`: the last generation's speed
 * - `cortensor_miner_verdicts_total{outcome}`: the oracles' verdicts on its outputs (ACCEPTED, OUTLIER, …)
 * - `cortensor_miner_speculation_total{outcome}`: work started on its own draw (started, confirmed, dropped)
 * - `cortensor_miner_earnings_wei`: earnings on the hub not withdrawn yet (read from the chain at each scrape)
 * - `cortensor_miner_load`: tasks at work now
 */
import { Counter, Gauge } from 'prom-client'
import { getNode } from '../../../contracts/index.ts'
import type { MinerRoleInit, MinerTaskOutcome, SpeculationStats } from './types.ts'
import type { Registry } from 'prom-client'
import type { Address } from 'viem'

export interface MinerMetricsInit {
  registry: Registry
  /** the miner's address, lower case */
  address: string
  /** the models served: their task, token and time counts start at 0 */
  models: string[]
  chain?: MinerRoleInit['chain']
  /** tasks at work now */
  load(): number
}

const OUTCOMES: MinerTaskOutcome[] = ['generated', 'declined', 'failed']
const SPECULATION: Array<keyof SpeculationStats> = ['started', 'confirmed', 'dropped']

export class MinerMetrics {
  private readonly registry: Registry
  private readonly names: string[] = []
  private readonly tasks: Counter<'model' | 'outcome'>
  private readonly tokens: Counter<'model'>
  private readonly generationSeconds: Counter<'model'>
  private readonly tokensPerSecond: Gauge<'model'>
  private readonly verdicts: Counter<'outcome'>
  private readonly speculation: Counter<'outcome'>

  constructor (init: MinerMetricsInit) {
    this.registry = init.registry
    const registers = [init.registry]
    this.tasks = new Counter({ name: this.name('cortensor_miner_tasks_total'), help: 'tasks this miner worked on, by model and outcome (generated: output precommitted; declined: cannot run on the model; failed: engine error)', labelNames: ['model', 'outcome'], registers })
    this.tokens = new Counter({ name: this.name('cortensor_miner_tokens_total'), help: 'tokens generated, by model', labelNames: ['model'], registers })
    this.generationSeconds = new Counter({ name: this.name('cortensor_miner_generation_seconds_total'), help: 'time spent generating, by model (tokens_total / this = tokens per second)', labelNames: ['model'], registers })
    this.tokensPerSecond = new Gauge({ name: this.name('cortensor_miner_tokens_per_second'), help: 'tokens per second of the last generation, by model', labelNames: ['model'], registers })
    this.verdicts = new Counter({ name: this.name('cortensor_miner_verdicts_total'), help: 'the oracles\' verdicts on this miner\'s outputs, by outcome (one per task)', labelNames: ['outcome'], registers })
    this.speculation = new Counter({ name: this.name('cortensor_miner_speculation_total'), help: 'work started on the miner\'s own draw of a task before its assignment, by outcome', labelNames: ['outcome'], registers })
    for (const model of init.models) {
      for (const outcome of OUTCOMES) {
        this.tasks.inc({ model, outcome }, 0)
      }
      this.tokens.inc({ model }, 0)
      this.generationSeconds.inc({ model }, 0)
    }
    for (const outcome of SPECULATION) {
      this.speculation.inc({ outcome }, 0)
    }
    // eslint-disable-next-line no-new
    new Gauge({
      name: this.name('cortensor_miner_load'),
      help: 'tasks at work now',
      registers,
      collect () { this.set(init.load()) }
    })
    const chain = init.chain
    if (chain != null) {
      // eslint-disable-next-line no-new
      new Gauge({
        name: this.name('cortensor_miner_earnings_wei'),
        help: 'earnings on the hub not withdrawn yet (wei; read from the chain at each scrape)',
        registers,
        async collect () {
          this.reset()
          try {
            this.set(Number((await getNode(chain.wallet, { hub: chain.hub, node: init.address as Address })).earningsWei))
          } catch {
            // the chain does not answer now: no sample rather than a failed scrape
          }
        }
      })
    }
  }

  /** A metric's name, registered afresh (a restarted role registers again on the same registry). */
  private name (name: string): string {
    this.registry.removeSingleMetric(name)
    this.names.push(name)
    return name
  }

  task (model: string, outcome: MinerTaskOutcome): void {
    this.tasks.inc({ model, outcome })
  }

  generated (model: string, tokens: number, ms: number): void {
    this.task(model, 'generated')
    this.tokens.inc({ model }, tokens)
    this.generationSeconds.inc({ model }, ms / 1000)
    if (ms > 0) {
      this.tokensPerSecond.set({ model }, tokens * 1000 / ms)
    }
  }

  verdict (outcome: string): void {
    this.verdicts.inc({ outcome })
  }

  speculated (outcome: keyof SpeculationStats): void {
    this.speculation.inc({ outcome })
  }

  /** Take the metrics off the registry (the role stopped). */
  unregister (): void {
    for (const name of this.names.splice(0)) {
      this.registry.removeSingleMetric(name)
    }
  }
}
