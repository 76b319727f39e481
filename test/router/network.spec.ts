import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { startRouterRole } from '../../node/roles/router/role.ts'
import { startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { RouterRole } from '../../node/roles/router/role.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'

describe('router on a whole local network (chain, miners, oracles, the client SDK)', function () {
  this.timeout(180_000)
  let ln: LifecycleNet
  let role: RouterRole
  let openai: OpenAI
  let base: string
  let key: string

  before(async function () {
    ln = await startLifecycleNet()
    const keys = KeyStore.memory()
    key = (await keys.create({})).key
    role = await startRouterRole(ln.net.clientNode, ln.net.client, { port: 0, keys })
    base = `http://127.0.0.1:${role.port}`
    openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
  })

  after(async function () {
    await role?.close()
    await ln?.stop()
  })

  it('streams a chat completion from the miners and answers the same text once settled on chain', async function () {
    const models = await openai.models.list()
    expect(models.data.map(m => m.id)).to.include(ln.net.modelId)
    const messages = [{ role: 'user' as const, content: 'the man said that water was cold' }]
    const stream = await openai.chat.completions.create({ model: ln.net.modelId, messages, max_tokens: 12, stream: true })
    let streamed = ''
    let reason: string | null = null
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? ''
      reason = chunk.choices[0]?.finish_reason ?? reason
    }
    expect(streamed).to.not.equal('')
    expect(reason).to.be.oneOf(['stop', 'length'])

    // fields this network cannot honour are refused, naming the field, before any task is submitted
    const refused: any = await openai.chat.completions.create({ model: ln.net.modelId, messages, max_tokens: 12, tools: [{ type: 'function', function: { name: 'f' } }] }).then(() => null, (e: unknown) => e)
    expect(refused).to.be.instanceOf(OpenAI.BadRequestError)
    expect(refused).to.include({ status: 400, code: 'unsupported_parameter', param: 'tools' })

    // fields that leave the answer alone (and neutral values of the refused ones) are accepted
    const settled = await openai.chat.completions.create({
      model: ln.net.modelId,
      messages,
      max_tokens: 12,
      presence_penalty: 0,
      frequency_penalty: 0,
      user: 'network-test',
      metadata: { suite: 'router' },
      store: false,
      response_format: { type: 'text' },
      tools: [],
      logprobs: false
    })
    // deterministic miners: the same prompt gives the same text, now verified and paid for
    expect(settled.choices[0].message.content).to.equal(streamed)
    const extra = (settled as any).cortensor
    expect(extra.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    expect(extra.miners.every((m: { outcome: string }) => m.outcome === 'accepted')).to.equal(true)

    const task = await (await fetch(`${base}/api/v1/tasks/${ln.net.sessionId}/${extra.task_id}`, { headers: { authorization: `Bearer ${key}` } })).json()
    expect(task.status).to.equal('settled')
    const status = await (await fetch(`${base}/api/v1/status`)).json()
    expect(status.pool.miners.length).to.equal(3)
    expect(status.tasks.by_state.settled).to.be.greaterThanOrEqual(1)
  })
})
