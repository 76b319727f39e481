/**
 * What one HTTP server (a node's, a router's) gives a caller at most: time to
 * send its headers, time to send its whole request, time an idle keep-alive
 * connection stays open, and open connections per client address and in all.
 * A connection over a cap gets a 503 with a JSON body and is closed at once,
 * before it can hold a file descriptor for long.
 *
 * Responses are not timed here: an SSE stream or a completion waiting for
 * settlement bounds itself (the router's first-token, idle and result
 * timeouts).
 */
import type { FastifyServerOptions } from 'fastify'
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Headers must be complete this soon after the connection opens. A client
 * sending one header line every few seconds (slowloris) held a connection for
 * 15 s+ with Node's defaults; 10 s is ample for any real client on any link.
 */
export const HEADERS_TIMEOUT_MS = 10_000

/** The whole request (headers and a body of at most 1 MiB, ≥ 35 KiB/s) must arrive this soon. */
export const REQUEST_TIMEOUT_MS = 30_000

/** An idle keep-alive connection between two requests is closed after this long (Node's own default). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000

/**
 * How often Node looks for requests past their header or request timeout
 * (its default of 30 s let a stalled body live 30 s past its deadline).
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000

/**
 * Open connections one client address may hold. A router serves one caller
 * at most 4 streams by default (per key), so hundreds of sockets from one
 * address are abuse or a proxy; 512 leaves a proxy room while an attacker on
 * one address cannot come near the file-descriptor limit (20,000 idle
 * sockets from one address exhausted it and miners failed with EMFILE).
 */
export const MAX_CONNECTIONS_PER_IP = 512

/** Open connections in all, well under a typical 20,000 descriptor limit shared with libp2p and the datastore. */
export const MAX_CONNECTIONS = 4096

export interface HttpLimits {
  /** @default HEADERS_TIMEOUT_MS */
  headersTimeoutMs?: number
  /** @default REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number
  /** @default KEEP_ALIVE_TIMEOUT_MS */
  keepAliveTimeoutMs?: number
  /** @default MAX_CONNECTIONS_PER_IP */
  maxConnectionsPerIp?: number
  /** @default MAX_CONNECTIONS */
  maxConnections?: number
}

export type ResolvedHttpLimits = Required<HttpLimits>

export function resolveHttpLimits (l: HttpLimits = {}): ResolvedHttpLimits {
  const headersTimeoutMs = l.headersTimeoutMs ?? HEADERS_TIMEOUT_MS
  return {
    headersTimeoutMs,
    // Node refuses a request timeout shorter than the headers timeout
    requestTimeoutMs: Math.max(l.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, headersTimeoutMs),
    keepAliveTimeoutMs: l.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
    maxConnectionsPerIp: l.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP,
    maxConnections: l.maxConnections ?? MAX_CONNECTIONS
  }
}

/** Fastify's server options for these limits (the timeouts; connection caps are `capConnections`). */
export function fastifyTimeouts (l: ResolvedHttpLimits): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout' | 'connectionTimeout' | 'clientErrorHandler'> & { http: Record<string, number> } {
  return {
    clientErrorHandler,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // no socket inactivity timeout: a completion waiting for settlement sends nothing for minutes
    connectionTimeout: 0,
    http: {
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS
    }
  }
}

export interface ConnectionCap {
  /** connections open now */
  readonly open: number
  /** connections refused so far */
  readonly refused: number
  /** addresses holding connections now */
  readonly addresses: number
}

/**
 * A whole HTTP response with an error body of the router's shape, for a
 * socket no route will answer; the answer to a HEAD request carries the
 * headers only (a body there would be read as the start of another response).
 */
function rawError (status: number, reason: string, error: { message: string, type: string, code: string }, headers = '', head = false): string {
  const body = JSON.stringify({ error: { ...error, param: null } })
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n${headers}connection: close\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${head ? '' : body}`
}

function refusal (message: string): string {
  return rawError(503, 'Service Unavailable', { message, type: 'upstream_error', code: 'too_many_connections' }, 'retry-after: 1\r\n')
}

/**
 * Fastify's `clientErrorHandler`: a request that timed out or could not be
 * parsed gets the same error body as every other refusal, then the socket is
 * closed.
 */
export function clientErrorHandler (err: Error & { code?: string, rawPacket?: unknown }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) {
    return
  }
  if (socket.writable) {
    // Node hands the bytes it could not parse over as a Buffer (fastify's types say otherwise)
    const head = Buffer.isBuffer(err.rawPacket) && err.rawPacket.toString('latin1', 0, 5) === 'HEAD '
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.write(rawError(408, 'Request Timeout', { message: 'the request did not arrive in time (headers or body too slow)', type: 'invalid_request_error', code: 'request_timeout' }))
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      socket.write(rawError(431, 'Request Header Fields Too Large', { message: 'the request headers are too large', type: 'invalid_request_error', code: 'headers_too_large' }, '', head))
    } else {
      socket.write(rawError(400, 'Bad Request', { message: 'the request is not valid HTTP', type: 'invalid_request_error', code: 'bad_http_request' }, '', head))
    }
  }
  socket.destroy()
}

/** Count connections per client address; one over a cap gets a 503 and is closed. */
export function capConnections (server: Server, l: ResolvedHttpLimits): ConnectionCap {
  const perIp = new Map<string, number>()
  let open = 0
  let refused = 0
  // before the HTTP parser is attached: a refused connection never reaches a route
  server.prependListener('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown'
    const mine = perIp.get(ip) ?? 0
    if (mine >= l.maxConnectionsPerIp || open >= l.maxConnections) {
      refused++
      const message = mine >= l.maxConnectionsPerIp
        ? `this address already holds ${mine} connections (limit ${l.maxConnectionsPerIp}); close some and retry`
        : `the server holds its limit of ${l.maxConnections} connections; retry shortly`
      socket.on('error', () => {})
      // a fresh socket's write goes to the kernel at once; the descriptor is released now
      socket.write(refusal(message))
      socket.destroy()
      return
    }
    perIp.set(ip, mine + 1)
    open++
    socket.once('close', () => {
      open--
      const n = (perIp.get(ip) ?? 1) - 1
      if (n <= 0) {
        perIp.delete(ip)
      } else {
        perIp.set(ip, n)
      }
    })
  })
  return {
    get open () { return open },
    get refused () { return refused },
    get addresses () { return perIp.size }
  }
}
