/**
 * The router as a fastify plugin (`routerPlugin`, mounted on the node's HTTP
 * server) or a whole fastify app (`createRouter`, with `/metrics` and
 * `/health`). The plugin is encapsulated: its auth hook, error handler, CORS
 * and WebSocket support apply to the router's routes only.
 *
 * Access: `/`, `/api/v1/{ping,info,status,miners}` are public (rate-limited
 * per client address); every other route needs `Authorization: Bearer <key>`.
 */
import { readFile } from 'node:fs/promises'
import cors from '@fastify/cors'
import websocket from '@fastify/websocket'
import { logger } from '@libp2p/logger'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { capConnections, fastifyTimeouts, resolveHttpLimits } from '../../http/limits.ts'
import { bodyValidatorCompiler } from './check.ts'
import { RouterContext } from './context.ts'
import { registerCortensorRoutes } from './cortensor.ts'
import { registerEmbeddingRoutes } from './embeddings.ts'
import { ApiError, toApiError } from './errors.ts'
import { registerOpenAiRoutes } from './openai.ts'
import { resolveRouterOptions } from './options.ts'
import { usageReport } from './usage.ts'
import { registerWebSocketRoute } from './ws.ts'
import type { KeyStore } from './keys.ts'
import type { RouterOptions } from './options.ts'
import type { TaskClient } from '../../../client/types.ts'
import type { ModelNames } from '../../inference/model-names.ts'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

const log = logger('cortensor:router')

export interface RouterInit {
  client: TaskClient
  keys: KeyStore
  /** human names of model ids; default none */
  names?: ModelNames
  options?: RouterOptions
}

interface RouteAccess {
  /** 'public' routes need no key; default 'key' */
  access?: 'public' | 'key'
  /** the key may come in the `api_key` query parameter (WebSocket upgrades from browsers) */
  queryKey?: boolean
}

const DASHBOARD_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

let dashboardHtml: Promise<string> | undefined
/** The page beside this file; from a compiled copy in dist/, the one in the sources. */
async function dashboard (): Promise<string> {
  dashboardHtml ??= readFile(new URL('./dashboard.html', import.meta.url), 'utf8')
    .catch(async () => readFile(new URL('../../../../node/roles/router/dashboard.html', import.meta.url), 'utf8'))
  return dashboardHtml
}

export function errorReply (err: unknown, reply: FastifyReply): FastifyReply {
  const api = toApiError(err)
  if (api.status >= 500 && api.code === 'internal_error') {
    log.error('internal error: %s', (err as Error)?.stack ?? String(err))
  }
  return reply.code(api.status).headers(api.headers).send(api.toBody())
}

/** Mount the router's routes on a fastify instance (before it listens). */
export async function routerPlugin (app: FastifyInstance, init: RouterInit & { registry?: Registry }): Promise<void> {
  const options = resolveRouterOptions(init.options)
  const ctx = new RouterContext(init.client, init.keys, options, init.registry ?? init.options?.registry, init.names)

  app.setErrorHandler((err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => errorReply(err, reply))
  // bodies are checked against the router's schemas, without coercion, and fail with its own errors
  app.setValidatorCompiler(bodyValidatorCompiler)

  if (options.corsOrigin !== false) {
    // an OPTIONS request that is not a CORS preflight gets the router's JSON error, not the plugin's plain text
    app.addHook('onRequest', async (req) => {
      if (req.method === 'OPTIONS' && (req.headers.origin == null || req.headers['access-control-request-method'] == null)) {
        throw new ApiError(400, 'invalid_preflight', 'an OPTIONS request must be a CORS preflight, with Origin and Access-Control-Request-Method headers')
      }
    })
    await app.register(cors, {
      origin: options.corsOrigin === '*' ? '*' : options.corsOrigin,
      methods: ['GET', 'POST', 'OPTIONS'],
      exposedHeaders: ['retry-after', 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-cortensor-task-id', 'x-cortensor-session-id'],
      maxAge: 600
    })
  }
  await app.register(websocket, { options: { maxPayload: options.bodyLimitBytes } })

  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'OPTIONS') {
      return
    }
    const config = (req.routeOptions.config ?? {}) as RouteAccess
    if (config.access === 'public') {
      ctx.takePublic(req)
      return
    }
    await ctx.authenticate(req, reply, config.queryKey === true)
  })
  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) })
  })
  app.addHook('onClose', async () => {
    ctx.close()
    ctx.metrics.unregister()
    await ctx.usage.flush()
  })
  await ctx.usage.load()

  app.get('/', { config: { access: 'public' } }, async (_req, reply) => {
    return reply.type('text/html; charset=utf-8').header('content-security-policy', DASHBOARD_CSP).send(await dashboard())
  })
  registerOpenAiRoutes(app, ctx)
  registerEmbeddingRoutes(app, ctx)
  app.get('/api/v1/usage', async (req) => usageReport(ctx.usage, ctx.principal(req)))
  registerCortensorRoutes(app, ctx)
  registerWebSocketRoute(app, ctx)
}

/**
 * A whole router app: the plugin plus `/metrics` (the registry's text) and
 * `/health`, with OpenAI-style 404s. Call `listen()` on it, or `inject()` in
 * tests.
 */
export function createRouter (init: RouterInit): FastifyInstance {
  const options = init.options ?? {}
  const registry = options.registry ?? new Registry()
  const limits = resolveHttpLimits(options.http)
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    ...fastifyTimeouts(limits),
    // URLs the router cannot route (bad percent-encoding, an overlong segment) get its error body too
    frameworkErrors: (err, _req, reply) => { errorReply(err, reply) }
  })
  capConnections(app.server, limits)
  app.setNotFoundHandler(async (req, reply) => {
    return errorReply(new ApiError(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`), reply)
  })
  app.setErrorHandler((err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => errorReply(err, reply))
  app.get('/metrics', async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics())
  })
  app.get('/health', async () => {
    let node: unknown = null
    try {
      node = options.node?.health() ?? null
    } catch {
      node = null
    }
    return { status: 'ok', node }
  })
  app.register(routerPlugin, { ...init, registry })
  return app
}
