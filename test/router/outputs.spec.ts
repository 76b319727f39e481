import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { getNode } from '../../contracts/index.ts'
import { cosineSimilarity, createEmbedder, createInferenceEngine } from '../../node/inference/index.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { startRouterRole } from '../../node/roles/router/role.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { reportIfFailed, slashesOf, startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { RouterRole } from '../../node/roles/router/role.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'
import type { Hex } from 'viem'

/** bounded everywhere (an enum, a boolean, an integer), so the generated model completes the value in max_tokens */
const SCHEMA = {
  type: 'object',
  properties: { answer: { enum: ['yes', 'no'] }, ok: { type: 'boolean' }, score: { type: 'integer' } },
  required: ['answer', 'ok', 'score'],
  additionalProperties: false
}

describe('router: JSON-schema output and embeddings on a whole local network, replayed by the oracles', function () {
  this.timeout(240_000)
  afterEach(function () { reportIfFailed(this) })
  let ln: LifecycleNet
  let role: RouterRole
  let openai: OpenAI
  let base: string
  let key: string

  before(async function () {
    // every agreeing task is audited: the oracles replay the JSON outputs under the grammar
    ln = await startLifecycleNet({ sampleRate: 1 })
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

  it('answers JSON that parses and matches the schema; the task settles with every miner accepted and the oracles\' replays pass', async function () {
    const { net } = ln
    const res = await openai.chat.completions.create({
      model: net.modelId,
      messages: [{ role: 'user', content: 'Is the water cold? Answer as JSON.' }],
      max_tokens: 120,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: SCHEMA, strict: true } }
    })
    const content = res.choices[0].message.content ?? ''
    expect(res.choices[0].finish_reason, content).to.equal('stop')
    const value = JSON.parse(content)
    expect(Object.keys(value).sort()).to.deep.equal(['answer', 'ok', 'score'])
    expect(['yes', 'no']).to.include(value.answer)
    expect(value.ok).to.be.a('boolean')
    expect(Number.isInteger(value.score)).to.equal(true)
    const extra = (res as any).cortensor
    expect(extra.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    expect(extra.miners).to.have.length(3)
    expect(extra.miners.every((m: { outcome: string }) => m.outcome === 'accepted')).to.equal(true)

    // the settled output is audited by every oracle (sample rate 1): the grammar-aware replay passes, nobody is slashed
    await waitFor('the oracles to audit the task', () => net.oracles.every(o => o.role.stats.audits > 0 && o.role.stats.replays > 0), 60_000, 100)
    expect(await slashesOf(ln)).to.deep.equal([])

    // the same network answers JSON mode, and refuses a schema keyword it cannot enforce before submitting anything
    const obj = await openai.chat.completions.create({ model: net.modelId, messages: [{ role: 'user', content: 'json please' }], max_tokens: 24, response_format: { type: 'json_object' } })
    expect(obj.choices[0].message.content?.startsWith('{')).to.equal(true)
    const refused: any = await openai.chat.completions.create({
      model: net.modelId,
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } } } }
    }).then(() => null, (e: unknown) => e)
    expect(refused).to.be.instanceOf(OpenAI.BadRequestError)
    expect(refused).to.include({ status: 400, code: 'unsupported_parameter', param: 'response_format.json_schema.schema' })
    expect(refused.message).to.include('"pattern" at #/properties/id')
  })
  it('serves /v1/embeddings as an embedding task: the miners\' vectors are the model\'s, settled, audited, OpenAI-shaped', async function () {
    const { net } = ln
    const audits = net.oracles.map(o => o.role.stats.audits)
    const texts = ['the water is cold', 'a long day on the river']
    // the official client asks for base64 and decodes it to floats
    const res = await openai.embeddings.create({ model: net.modelId, input: texts })
    expect(res.object).to.equal('list')
    expect(res.model).to.equal(net.modelId)
    expect(res.data.map(d => d.index)).to.deep.equal([0, 1])
    expect(res.data.every(d => d.object === 'embedding')).to.equal(true)
    const dim = res.data[0].embedding.length
    expect(dim).to.be.greaterThan(0)
    expect(res.data[1].embedding).to.have.length(dim)
    expect(res.usage.prompt_tokens).to.be.greaterThan(0)
    expect(res.usage.total_tokens).to.equal(res.usage.prompt_tokens)
    const extra = (res as any).cortensor
    expect(extra.tx_hash).to.match(/^0x[0-9a-f]{64}$/)
    expect(extra.miners).to.have.length(3)
    expect(extra.miners.every((m: { outcome: string }) => m.outcome === 'accepted')).to.equal(true)

    // the vectors are the model's own embeddings of the texts, computed here independently
    const engine = await createInferenceEngine({ modelPath: await ln.models.model('tiny', 1), threads: 1, sequences: 1 })
    const embedder = await createEmbedder({ engine })
    try {
      for (const [i, t] of texts.entries()) {
        expect(cosineSimilarity(res.data[i].embedding, await embedder.embed(t))).to.be.greaterThan(0.99999)
      }
      expect(cosineSimilarity(res.data[0].embedding, res.data[1].embedding)).to.be.lessThan(0.999)
    } finally {
      await embedder.close()
      await engine.close()
    }

    // one string and encoding_format float, over plain HTTP: the same vector as float numbers
    const one = await (await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: net.modelId, input: texts[0], encoding_format: 'float' }) })).json()
    expect(one.data).to.have.length(1)
    one.data[0].embedding.forEach((x: number, j: number) => { expect(x).to.be.closeTo(res.data[0].embedding[j], 1e-6) })

    // every oracle audits the settled embedding tasks (sample rate 1): the recomputed vectors match, nobody is slashed
    await waitFor('the oracles to audit the embedding tasks', () => net.oracles.every((o, i) => o.role.stats.audits >= audits[i] + 2), 60_000, 100)
    expect(await slashesOf(ln)).to.deep.equal([])

    // what it cannot do is refused, naming the field
    const tokens: any = await openai.embeddings.create({ model: net.modelId, input: [[1, 2, 3]] }).then(() => null, (e: unknown) => e)
    expect(tokens).to.include({ status: 400, code: 'unsupported_parameter', param: 'input' })
    const dims: any = await openai.embeddings.create({ model: net.modelId, input: 'x', dimensions: 8 }).then(() => null, (e: unknown) => e)
    expect(dims).to.include({ status: 400, code: 'unsupported_parameter', param: 'dimensions' })
  })

  it('counts the key\'s spend as the hub paid it: the miners\' earnings on chain add up to the key\'s spent_wei', async function () {
    const { net } = ln
    const usage = await (await fetch(`${base}/api/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()
    // the JSON-schema chat, the JSON-mode chat and the two embedding tasks; the refused requests submitted nothing
    expect(usage.tasks).to.equal(4)
    expect(usage.failed).to.equal(0)
    let earned = 0n
    for (const m of net.miners) {
      earned += (await getNode(net.owner, { hub: net.hub, node: m.role.address as Hex })).earningsWei
    }
    expect(earned > 0n).to.equal(true)
    expect(usage.spent_wei).to.equal(earned.toString())
  })
})
