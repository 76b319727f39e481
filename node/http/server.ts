/**
 * The node's HTTP server: `/health` (JSON) and `/metrics` (Prometheus text:
 * libp2p metrics plus process metrics). Roles add their routes through
 * `setup` (the router API, the browser page). Bad requests get a 4xx with a JSON error body;
 * slow or idle callers are cut off and connections capped per address (limits.ts).
 */
import Fastify from 'fastify'
import { ConfigError } from '../config.ts'
import { capConnections, fastifyTimeouts, resolveHttpLimits } from './limits.ts'
import type { ConnectionCap, HttpLimits } from './limits.ts'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Registry } from 'prom-client'

/** The body of `GET /health`. */
export interface HealthReport {
  status: 'ok'
  peerId: string
  /** the EVM address of the node key */
  address: string
  roles: string[]
  addresses: string[]
  connectedPeers: number
  dht: { mode: 'client' | 'server', routingTableSize: number }
  uptimeSeconds: number
}

export interface HttpServerInit {
  node: { health(): HealthReport, registry: Registry }
  host: string
  /** 0 picks a free port */
  port: number
  /** add routes before the server listens */
  setup?(app: FastifyInstance): Promise<void>
  /** timeouts and connection caps (node/http/limits.ts defaults) */
  limits?: HttpLimits
}

export interface HttpServer {
  port: number
  app: FastifyInstance
  connections: ConnectionCap
  close(): Promise<void>
}

export async function startHttpServer ({ node, host, port, setup, limits }: HttpServerInit): Promise<HttpServer> {
  const resolved = resolveHttpLimits(limits)
  const onError = (err: any, reply: FastifyReply): FastifyReply => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    return reply.code(status).send({
      error: { message: status >= 500 ? 'internal error' : String(err.message).slice(0, 200), type: status >= 500 ? 'server_error' : 'invalid_request_error', code: typeof err.code === 'string' ? err.code : 'error', param: null }
    })
  }
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    ...fastifyTimeouts(resolved),
    // URLs no route can take (bad percent-encoding, an overlong segment) get the JSON error body too
    frameworkErrors: (err, _req, reply) => { onError(err, reply) }
  })
  const connections = capConnections(app.server, resolved)

  app.setNotFoundHandler(async (req, reply) => {
    return reply.code(404).send({ error: { message: `no route ${req.method} ${req.url.split('?')[0].slice(0, 200)}`, type: 'invalid_request_error', code: 'not_found', param: null } })
  })
  app.setErrorHandler(async (err: any, _req, reply) => onError(err, reply))

  app.get('/health', async () => node.health())
  app.get('/metrics', async (_req, reply) => {
    const text = await node.registry.metrics()
    return reply.type(node.registry.contentType).send(text)
  })

  try {
    await setup?.(app)
  } catch (err) {
    await app.close().catch(() => {})
    throw err
  }

  try {
    await app.listen({ host, port })
  } catch (err: any) {
    await app.close().catch(() => {})
    if (err.code === 'EADDRINUSE') {
      throw new ConfigError('--http-port', `port ${port} on ${host} is already in use`)
    }
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EACCES') {
      throw new ConfigError('--http-host', `cannot listen on ${host}:${port} (${err.code})`)
    }
    throw err
  }
  const address = app.server.address()
  return {
    port: typeof address === 'object' && address != null ? address.port : port,
    app,
    connections,
    close: async () => { await app.close() }
  }
}
