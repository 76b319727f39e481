/**
 * The node's HTTP server: `/health` (JSON) and `/metrics` (Prometheus text:
 * libp2p metrics plus process metrics). Roles add their routes through
 * `setup` (the router API, the browser page). Bad requests get a 4xx with a JSON error body.
 */
import Fastify from 'fastify'
import { ConfigError } from '../config.ts'
import type { HealthReport } from '../node.ts'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

export interface HttpServerInit {
  node: { health(): HealthReport, registry: Registry }
  host: string
  /** 0 picks a free port */
  port: number
  /** add routes before the server listens */
  setup?(app: FastifyInstance): Promise<void>
}

export interface HttpServer {
  port: number
  app: FastifyInstance
  close(): Promise<void>
}

export async function startHttpServer ({ node, host, port, setup }: HttpServerInit): Promise<HttpServer> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })

  app.setNotFoundHandler(async (req, reply) => {
    return reply.code(404).send({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', code: 'not_found' } })
  })
  app.setErrorHandler(async (err: any, _req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500
    return reply.code(status).send({
      error: { message: status >= 500 ? 'internal error' : err.message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code: err.code ?? 'error' }
    })
  })

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
    close: async () => { await app.close() }
  }
}
