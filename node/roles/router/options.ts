/**
 * Router settings and their defaults. Per-key overrides of the rate limit
 * and stream limit live in the key store (`router key create --rate-limit
 * --max-streams`).
 */
import type { HttpLimits } from '../../http/limits.ts'
import type { Registry } from 'prom-client'

export interface RouterOptions {
  /** refuse requests without a valid key on the protected routes (default true); false: keyless requests use the router's session */
  requireKey?: boolean
  /** requests per minute per key (HTTP requests and WebSocket prompts together); default 60 */
  rateLimitPerMinute?: number
  /** requests per minute per client address on the public routes (dashboard, status, miners, ping); default 600 */
  publicRateLimitPerMinute?: number
  /** concurrent streams (SSE responses and WebSocket prompts) per key; default 4 */
  maxStreamsPerKey?: number
  /** concurrent streams on the whole router; default 1024 */
  maxStreams?: number
  /**
   * tasks this router follows at once (submitted or being submitted, not yet
   * settled or failed), streams and non-stream requests together; one more is
   * refused at once with a 503 and Retry-After instead of queueing behind the
   * chain and the miners; default 256
   */
  maxTasksInFlight?: number
  /**
   * tasks this router has submitted that are not generating yet (waiting for
   * the chain, the assignment or a miner's first token); one more is refused
   * at once with a 503 and Retry-After. This is what keeps a burst from
   * queueing work on the miners faster than they can finish it within the
   * queue's windows (a miner that misses them loses reputation); default 32
   */
  maxPendingTasks?: number
  /** largest request body or WebSocket message (bytes); default 1 MiB */
  bodyLimitBytes?: number
  /** largest `max_tokens` accepted; default 4096 */
  maxTokensLimit?: number
  /** `max_tokens` when the request has none; default: the SDK's (64) */
  defaultMaxTokens?: number
  /** no first token for this long fails the request (504 or an error event); default 120 s, or the request's `timeout` */
  firstTokenTimeoutMs?: number
  /** no further token for this long ends a stream with an error event; default 60 s */
  tokenIdleTimeoutMs?: number
  /** longest wait for a settled result (non-stream responses, the Cortensor stream's result event); default 10 min */
  resultTimeoutMs?: number
  /** origins allowed by CORS: '*' (default), a list, or false to send no CORS headers */
  corsOrigin?: string | string[] | false
  /** how often a WebSocket session subscription polls the client for tasks submitted elsewhere (ms); default 1000 */
  sessionPollIntervalMs?: number
  /** Prometheus registry for the router's metrics (the node's per-node registry); default: a new one */
  registry?: Registry
  /** the node the router runs in, for the dashboard's peer figures */
  node?: { health(): unknown }
  /** a router with its own server: header, request and idle timeouts, connection caps (node/http/limits.ts) */
  http?: HttpLimits
}

export type ResolvedRouterOptions = Required<Omit<RouterOptions, 'defaultMaxTokens' | 'registry' | 'node' | 'http'>> & Pick<RouterOptions, 'defaultMaxTokens' | 'node'>

export function resolveRouterOptions (o: RouterOptions = {}): ResolvedRouterOptions {
  return {
    requireKey: o.requireKey ?? true,
    rateLimitPerMinute: o.rateLimitPerMinute ?? 60,
    publicRateLimitPerMinute: o.publicRateLimitPerMinute ?? 600,
    maxStreamsPerKey: o.maxStreamsPerKey ?? 4,
    maxStreams: o.maxStreams ?? 1024,
    maxTasksInFlight: o.maxTasksInFlight ?? 256,
    maxPendingTasks: o.maxPendingTasks ?? 32,
    bodyLimitBytes: o.bodyLimitBytes ?? 1024 * 1024,
    maxTokensLimit: o.maxTokensLimit ?? 4096,
    defaultMaxTokens: o.defaultMaxTokens,
    firstTokenTimeoutMs: o.firstTokenTimeoutMs ?? 120_000,
    tokenIdleTimeoutMs: o.tokenIdleTimeoutMs ?? 60_000,
    resultTimeoutMs: o.resultTimeoutMs ?? 600_000,
    corsOrigin: o.corsOrigin ?? '*',
    sessionPollIntervalMs: o.sessionPollIntervalMs ?? 1000,
    node: o.node
  }
}
