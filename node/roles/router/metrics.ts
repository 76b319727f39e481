/**
 * The router's Prometheus metrics, registered on the registry it is given
 * (the node's per-node registry, so the node's `/metrics` shows them):
 *
 * - `cortensor_router_requests_total{route,status}`: HTTP responses
 * - `cortensor_router_tasks{state}`: tasks the router submitted, by current state (read from the client at scrape time)
 * - `cortensor_router_task_outcomes_total{outcome}`: settled, failed or cancelled tasks
 * - `cortensor_router_time_to_first_token_seconds`: request received → first token relayed
 * - `cortensor_router_stream_tokens_per_second`: per stream, first to last token
 * - `cortensor_router_tokens_total`: tokens relayed to callers
 * - `cortensor_router_streams_in_flight`: open SSE streams and WebSocket prompts
 * - `cortensor_router_miner_verdicts_total{miner,outcome}`: the oracles' verdict per miner in settled results
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { TaskClient, TaskResult, TaskStatus } from '../../../client/types.ts'

const STATES: TaskStatus[] = ['submitted', 'queued', 'assigned', 'generating', 'committed', 'validated', 'settled', 'expired', 'failed']

export class RouterMetrics {
  readonly registry: Registry
  readonly requests: Counter<'route' | 'status'>
  readonly outcomes: Counter<'outcome'>
  readonly timeToFirstToken: Histogram
  readonly tokensPerSecond: Histogram
  readonly tokens: Counter
  readonly verdicts: Counter<'miner' | 'outcome'>
  private readonly names: string[] = []

  constructor (registry: Registry | undefined, client: TaskClient, sessions: () => Iterable<bigint>, inFlight: () => number) {
    this.registry = registry ?? new Registry()
    const registers = [this.registry]
    // a router restarted in the same process re-registers on the same registry
    const fresh = <T>(name: string, make: () => T): T => {
      this.registry.removeSingleMetric(name)
      this.names.push(name)
      return make()
    }
    this.requests = fresh('cortensor_router_requests_total', () => new Counter({
      name: 'cortensor_router_requests_total', help: 'HTTP responses of the router by route and status', labelNames: ['route', 'status'], registers
    }))
    this.outcomes = fresh('cortensor_router_task_outcomes_total', () => new Counter({
      name: 'cortensor_router_task_outcomes_total', help: 'tasks submitted by the router that ended, by outcome (settled, failed, cancelled)', labelNames: ['outcome'], registers
    }))
    this.timeToFirstToken = fresh('cortensor_router_time_to_first_token_seconds', () => new Histogram({
      name: 'cortensor_router_time_to_first_token_seconds',
      help: 'time from receiving a request to relaying its first token',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers
    }))
    this.tokensPerSecond = fresh('cortensor_router_stream_tokens_per_second', () => new Histogram({
      name: 'cortensor_router_stream_tokens_per_second',
      help: 'tokens per second of each stream, from its first to its last token',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000],
      registers
    }))
    this.tokens = fresh('cortensor_router_tokens_total', () => new Counter({
      name: 'cortensor_router_tokens_total', help: 'tokens relayed to callers', registers
    }))
    fresh('cortensor_router_streams_in_flight', () => new Gauge({
      name: 'cortensor_router_streams_in_flight',
      help: 'open SSE streams and WebSocket prompts',
      registers,
      collect () { this.set(inFlight()) }
    }))
    fresh('cortensor_router_tasks', () => new Gauge({
      name: 'cortensor_router_tasks',
      help: 'tasks of the router\'s sessions by current state',
      labelNames: ['state'],
      registers,
      collect () {
        const counts = new Map<string, number>(STATES.map(s => [s, 0]))
        for (const id of sessions()) {
          try {
            for (const t of client.tasks(id)) {
              counts.set(t.status, (counts.get(t.status) ?? 0) + 1)
            }
          } catch {
            // a client that cannot list now reports zeros rather than failing the scrape
          }
        }
        for (const [state, n] of counts) {
          this.set({ state }, n)
        }
      }
    }))
    this.verdicts = fresh('cortensor_router_miner_verdicts_total', () => new Counter({
      name: 'cortensor_router_miner_verdicts_total', help: 'oracle verdicts per miner in the settled results the router saw', labelNames: ['miner', 'outcome'], registers
    }))
  }

  settled (result: TaskResult): void {
    this.outcomes.inc({ outcome: 'settled' })
    for (const m of result.miners) {
      this.verdicts.inc({ miner: m.address, outcome: m.outcome })
    }
  }

  ended (outcome: 'failed' | 'cancelled'): void {
    this.outcomes.inc({ outcome })
  }

  stream (requestAtMs: number, firstAtMs: number | undefined, lastAtMs: number | undefined, count: number): void {
    if (firstAtMs == null) {
      return
    }
    this.timeToFirstToken.observe((firstAtMs - requestAtMs) / 1000)
    this.tokens.inc(count)
    if (lastAtMs != null && count > 1 && lastAtMs > firstAtMs) {
      this.tokensPerSecond.observe((count - 1) * 1000 / (lastAtMs - firstAtMs))
    }
  }

  /** remove the router's metrics from the registry (router stopped) */
  unregister (): void {
    for (const name of this.names) {
      this.registry.removeSingleMetric(name)
    }
  }
}
