import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import Fastify from 'fastify'
import OpenAI from 'openai'
import { Registry } from 'prom-client'
import { ConfigError } from '../../node/config.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { startRouterRole } from '../../node/roles/router/role.ts'
import { MODEL_ID, ScriptedTaskClient } from './fixtures.ts'
import type { RouterNode } from '../../node/roles/router/role.ts'

describe('router role: mounted on the node\'s HTTP server or on its own', function () {
  let dir: string
  let node: RouterNode

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'router-role-'))
    node = { registry: new Registry(), health: () => ({ status: 'ok', peerId: '16Uiu2HAmRole', connectedPeers: 2 }), config: { dataDir: dir } }
  })

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('mounts beside /health and /metrics of a server like the node\'s and serves keys from the data dir', async function () {
    // what node/http/server.ts sets up before listening
    const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 })
    app.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error', code: 'not_found' } }))
    app.get('/health', async () => node.health())
    app.get('/metrics', async (_req, reply) => reply.type(node.registry.contentType).send(await node.registry.metrics()))

    const { key } = await (await KeyStore.open(dir)).create({})
    const role = await startRouterRole(node, new ScriptedTaskClient(), { app })
    await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const port = (app.server.address() as { port: number }).port
      const openai = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 })
      const res = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }] })
      expect(res.choices[0].message.content).to.equal('Hello, world!')
      expect((await (await fetch(`http://127.0.0.1:${port}/health`)).json()).peerId).to.equal('16Uiu2HAmRole')
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).to.include('cortensor_router_requests_total')
      const status = await (await fetch(`http://127.0.0.1:${port}/api/v1/status`)).json()
      expect(status.node.connectedPeers).to.equal(2)
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).to.equal(404)
      expect(role.keys.path).to.equal(join(dir, 'router', 'keys.json'))
    } finally {
      await role.close()
      await app.close()
    }
    // closing the server removes the router's metrics from the node's registry
    expect(await node.registry.metrics()).to.not.include('cortensor_router_requests_total')
  })

  it('starts its own server on a free port, and names --http-port when the port is taken', async function () {
    const role = await startRouterRole(node, new ScriptedTaskClient(), { port: 0 })
    try {
      expect(role.port).to.be.a('number').and.greaterThan(0)
      const ping = await fetch(`http://127.0.0.1:${role.port}/api/v1/ping`)
      expect(ping.status).to.equal(200)
      const err = await startRouterRole(node, new ScriptedTaskClient(), { port: role.port }).then(() => null, e => e)
      expect(err).to.be.instanceOf(ConfigError)
      expect(err.message).to.match(/^--http-port: port \d+ on 127\.0\.0\.1 is already in use/)
    } finally {
      await role.close()
    }
  })
})
