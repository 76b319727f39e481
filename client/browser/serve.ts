/**
 * Serve the built page (Node only; never bundled): a small node:http server
 * for tests and local use, and `registerBrowserApp` for a node's own Fastify
 * server, so a bootstrap node can hand out the page together with the
 * bootstrap addresses the page should dial (`config.json`).
 *
 * Only the build's fixed set of files is served, so no request can reach
 * anything else on disk.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PageDefaults } from './config.ts'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'

export type { PageDefaults } from './config.ts'

const UP_TWO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/**
 * The package root: two levels above this file in the sources (client/browser/),
 * three in the build an installed package runs (dist/client/browser/).
 */
export const PACKAGE_ROOT = existsSync(join(UP_TWO, 'package.json')) ? UP_TWO : resolve(UP_TWO, '..')

/** Where the built page lives: `npm run build:browser` writes it, `npm run build` too, and the package ships it. */
export const PAGE_DIR = join(PACKAGE_ROOT, 'dist', 'browser')

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'page.js': 'text/javascript; charset=utf-8',
  'page.js.map': 'application/json; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

export interface BrowserAppInit {
  /** the build output (default PAGE_DIR, dist/browser; build it with `npm run build:browser`) */
  dir?: string
  /** the page's defaults, served as config.json; `host` is the Host the page was requested from */
  defaults?(request: { host?: string }): PageDefaults | Promise<PageDefaults>
}

export interface BrowserReply {
  status: number
  type: string
  body: string | Uint8Array
  headers: Record<string, string>
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
}

/** Answer one GET for the page (path relative to where the app is mounted: '', 'index.html', 'page.js', 'config.json', …). */
export async function browserAppReply (path: string, init: BrowserAppInit = {}, host?: string): Promise<BrowserReply> {
  const name = path.replace(/^\/+/, '').split(/[?#]/)[0] || 'index.html'
  if (name === 'config.json') {
    const defaults = init.defaults != null ? await init.defaults(host != null ? { host } : {}) : {}
    return { status: 200, type: 'application/json; charset=utf-8', body: JSON.stringify(defaults), headers: { ...SECURITY_HEADERS, 'cache-control': 'no-store' } }
  }
  const type = FILES[name]
  if (type == null) {
    return { status: 404, type: 'text/plain; charset=utf-8', body: 'not found\n', headers: SECURITY_HEADERS }
  }
  try {
    const body = await readFile(join(init.dir ?? PAGE_DIR, name))
    return { status: 200, type, body, headers: { ...SECURITY_HEADERS, 'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=60' } }
  } catch (err: any) {
    if (err.code === 'ENOENT') {
      return { status: 404, type: 'text/plain; charset=utf-8', body: `${name} is not built: run npm run build:browser\n`, headers: SECURITY_HEADERS }
    }
    throw err
  }
}

/**
 * A node's WebSocket addresses (with /p2p/<id>) for `config.json`, those on
 * the host the page came from first, loopback last.
 */
export function browserBootstrapAddrs (addrs: string[], peerId: string, preferHost?: string): string[] {
  const host = preferHost?.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  const ws = addrs
    .filter(a => /\/(ws|wss|tls\/ws)(\/|$)/.test(a) && !a.includes('/p2p-circuit'))
    .map(a => a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)
  const rank = (a: string): number => {
    if (host != null && a.split('/')[2] === host) {
      return 0
    }
    return /\/ip4\/127\.|\/ip6\/::1\//.test(a) ? 2 : 1
  }
  return [...new Set(ws)].sort((a, b) => rank(a) - rank(b))
}

export interface BrowserAppServer {
  url: string
  port: number
  close(): Promise<void>
}

/** A standalone HTTP server for the page (tests, `npm run build:browser` users). Port 0 picks a free one. */
export async function serveBrowserApp (init: BrowserAppInit & { host?: string, port?: number } = {}): Promise<BrowserAppServer> {
  const host = init.host ?? '127.0.0.1'
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    browserAppReply(new URL(req.url ?? '/', 'http://x').pathname, init, req.headers.host)
      .then(reply => {
        res.writeHead(reply.status, { 'content-type': reply.type, ...reply.headers })
        res.end(req.method === 'HEAD' ? undefined : reply.body)
      })
      .catch(() => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n')
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}

/**
 * Mount the page on a node's Fastify server under `prefix` (default
 * `/browser/`), e.g. in node/http/server.ts for the bootstrap role:
 *
 * ```ts
 * registerBrowserApp(app, { defaults: ({ host }) => ({
 *   bootstrap: browserBootstrapAddrs(node.health().addresses, node.health().peerId, host),
 *   network: config.network,
 *   // with these the page checks each settled result on chain itself (verify.ts)
 *   rpc: publicRpcUrl, hub: hubAddress
 * }) })
 * ```
 */
export function registerBrowserApp (app: FastifyInstance, init: BrowserAppInit & { prefix?: string } = {}): void {
  const prefix = `/${(init.prefix ?? '/browser').replace(/^\/+|\/+$/g, '')}`
  app.get(prefix, async (_req, reply) => reply.redirect(`${prefix}/`))
  app.get(`${prefix}/*`, async (req, reply) => {
    const path = (req.params as Record<string, string>)['*'] ?? ''
    const res = await browserAppReply(path, init, req.headers.host)
    return reply.code(res.status).headers(res.headers).type(res.type).send(res.body)
  })
}
