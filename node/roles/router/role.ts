/**
 * The router role of a node: the router's routes on the node's HTTP server
 * (`options.app`, before it listens), or on a server of its own.
 */
import { ConfigError } from '../../config.ts'
import { DEFAULT_HTTP_HOST, ROUTER_HTTP_PORT } from '../../constants.ts'
import { ModelNames, modelNamesPath } from '../../inference/model-names.ts'
import { createRouter, routerPlugin } from './app.ts'
import { KeyStore } from './keys.ts'
import type { RouterOptions } from './options.ts'
import type { TaskClient } from '../../../client/types.ts'
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'

/** What the role needs of the node: its metrics registry, health report and data directory. */
export interface RouterNode {
  registry: Registry
  health(): unknown
  config: { dataDir: string }
}

export interface RouterRoleOptions extends RouterOptions {
  /** mount on this fastify instance (it must not be listening yet); otherwise the role starts its own server */
  app?: FastifyInstance
  /** own server only; default 127.0.0.1 */
  host?: string
  /** own server only; default 5010, 0 picks a free port */
  port?: number
  /** default: `<data-dir>/router/keys.json` of the node */
  keys?: KeyStore
  /** human names of model ids; default: `<data-dir>/models.json` of the node */
  names?: ModelNames
}

export interface RouterRole {
  keys: KeyStore
  app: FastifyInstance
  /** the own server's port; undefined when mounted on the node's server */
  port?: number
  close(): Promise<void>
}

export async function startRouterRole (node: RouterNode, client: TaskClient, options: RouterRoleOptions = {}): Promise<RouterRole> {
  const { app, host, port, keys: givenKeys, names: givenNames, ...routerOptions } = options
  const keys = givenKeys ?? await KeyStore.open(node.config.dataDir)
  // a broken names file is not a reason to refuse to route: the router runs without names
  const names = givenNames ?? await ModelNames.open(node.config.dataDir).catch(() => new ModelNames({ path: modelNamesPath(node.config.dataDir) }))
  const opts: RouterOptions = { registry: node.registry, node, ...routerOptions }

  if (app != null) {
    await app.register(routerPlugin, { client, keys, names, options: opts, registry: opts.registry })
    // the owner of the server closes it (and with it the router's timers)
    return { keys, app, close: async () => {} }
  }

  const own = createRouter({ client, keys, names, options: opts })
  const listenHost = host ?? DEFAULT_HTTP_HOST
  const listenPort = port ?? ROUTER_HTTP_PORT
  try {
    await own.listen({ host: listenHost, port: listenPort })
  } catch (err: any) {
    await own.close().catch(() => {})
    if (err.code === 'EADDRINUSE') {
      throw new ConfigError('--http-port', `port ${listenPort} on ${listenHost} is already in use`)
    }
    if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EACCES') {
      throw new ConfigError('--http-host', `cannot listen on ${listenHost}:${listenPort} (${err.code})`)
    }
    throw err
  }
  const address = own.server.address()
  return {
    keys,
    app: own,
    port: typeof address === 'object' && address != null ? address.port : listenPort,
    close: async () => { await own.close() }
  }
}
