import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { createRouter } from '../../node/roles/router/app.ts'
import { InvalidKeyLimitError, KeyStore, KeyStoreFileError } from '../../node/roles/router/keys.ts'
import { UsageLedger } from '../../node/roles/router/usage.ts'
import { MODEL_ID, PRICE_PER_TOKEN_WEI, ScriptedTaskClient } from './fixtures.ts'
import type { FastifyInstance } from 'fastify'

/** what one scripted task costs: 3 accepted miners × 4 output tokens × the price per token */
const TASK_SPEND_WEI = 3n * 4n * PRICE_PER_TOKEN_WEI
/** what a request with max_tokens 16 may cost at most: 16 × price × redundancy 3 */
const BOUND_WEI = 16n * PRICE_PER_TOKEN_WEI * 3n

describe('router: usage and spend limits per API key', function () {
  let dir: string
  let app: FastifyInstance | undefined

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'router-usage-'))
  })

  afterEach(async function () {
    await app?.close()
    app = undefined
    await rm(dir, { recursive: true, force: true })
  })

  async function start (client = new ScriptedTaskClient()): Promise<{ base: string, client: ScriptedTaskClient }> {
    const keys = await KeyStore.open(dir)
    app = createRouter({ client, keys, options: { rateLimitPerMinute: 10_000 } })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    return { base: `http://127.0.0.1:${typeof address === 'object' && address != null ? address.port : 0}`, client }
  }

  async function usageOf (base: string, key: string): Promise<any> {
    return (await fetch(`${base}/api/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()
  }

  const chat = async (openai: OpenAI): Promise<unknown> => openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16 })

  it('counts tokens and spend per key, refuses with 429 insufficient_quota what would pass the spend limit, and keeps both across a restart', async function () {
    const keys = await KeyStore.open(dir)
    const limited = await keys.create({ sessionId: 1n, spendLimitWei: BOUND_WEI + TASK_SPEND_WEI })
    const free = await keys.create({ sessionId: 1n })
    const started = await start()
    let base = started.base
    let openai = new OpenAI({ apiKey: limited.key, baseURL: `${base}/v1`, maxRetries: 0 })

    // 0 spent + 48000 at most ≤ limit; then 12000 spent + 48000 ≤ limit
    await chat(openai)
    await chat(openai)
    const u = await usageOf(base, limited.key)
    expect(u).to.include({ object: 'usage', key_id: limited.record.id, session_id: '1', tasks: 2, failed: 0, completion_tokens: 8, spent_wei: (2n * TASK_SPEND_WEI).toString() })
    expect(u.prompt_tokens).to.be.greaterThan(0)
    expect(u.total_tokens).to.equal(u.prompt_tokens + 8)
    expect(u.limits).to.deep.equal({ spend_limit_wei: (BOUND_WEI + TASK_SPEND_WEI).toString(), token_limit: null })
    expect(u.remaining.spend_wei).to.equal((BOUND_WEI - TASK_SPEND_WEI).toString())
    expect(u.in_flight).to.deep.equal({ max_spend_wei: '0', max_tokens: 0 })

    // 24000 spent + 48000 would pass the limit: refused before any task is submitted
    const submits = started.client.submits.length
    const err: any = await chat(openai).then(() => null, (e: unknown) => e)
    expect(err).to.be.instanceOf(OpenAI.RateLimitError)
    expect(err).to.include({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' })
    expect(err.headers.get('x-should-retry')).to.equal('false')
    expect(err.message).to.include(`spend limit is ${BOUND_WEI + TASK_SPEND_WEI} wei: it has spent ${2n * TASK_SPEND_WEI} wei`)
    expect(started.client.submits.length, 'a refused request submits no task').to.equal(submits)
    // a smaller request still fits: 24000 + 2 × 1000 × 3
    await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
    // another key is not limited by this one's spend
    await chat(new OpenAI({ apiKey: free.key, baseURL: `${base}/v1`, maxRetries: 0 }))
    expect((await usageOf(base, free.key)).spent_wei).to.equal(TASK_SPEND_WEI.toString())

    // the ledger is on disk beside the keys (0600), and a restarted router reads it back
    const spent = (await usageOf(base, limited.key)).spent_wei
    await app?.close()
    expect((await stat(join(dir, 'router', 'usage.json'))).mode & 0o777).to.equal(0o600)
    expect(JSON.parse(await readFile(join(dir, 'router', 'usage.json'), 'utf8')).keys[limited.record.id].spentWei).to.equal(spent)
    ;({ base } = await start())
    openai = new OpenAI({ apiKey: limited.key, baseURL: `${base}/v1`, maxRetries: 0 })
    const after = await usageOf(base, limited.key)
    expect(after).to.include({ tasks: 3, spent_wei: spent })
    const again: any = await chat(openai).then(() => null, (e: unknown) => e)
    expect(again).to.include({ status: 429, code: 'insufficient_quota' })
  })

  it('holds what requests in flight may spend, so concurrent requests cannot pass the limit together', async function () {
    const keys = await KeyStore.open(dir)
    const { key } = await keys.create({ sessionId: 1n, spendLimitWei: BOUND_WEI + BOUND_WEI / 2n })
    const { base, client } = await start(new ScriptedTaskClient({ script: { settleDelayMs: 300 } }))
    const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
    const first = chat(openai)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect((await usageOf(base, key)).in_flight.max_spend_wei).to.equal(BOUND_WEI.toString())
    const second: any = await chat(openai).then(() => null, (e: unknown) => e)
    expect(second).to.include({ status: 429, code: 'insufficient_quota' })
    await first
    expect(client.submits).to.have.length(1)
    // the hold is gone once the task settled; what it spent counts instead
    const u = await usageOf(base, key)
    expect(u.in_flight.max_spend_wei).to.equal('0')
    expect(u.spent_wei).to.equal(TASK_SPEND_WEI.toString())
  })

  it('enforces a token limit, counts failed tasks without spend; usage needs a key', async function () {
    const keys = await KeyStore.open(dir)
    const { key, record } = await keys.create({ sessionId: 1n, tokenLimit: 30 })
    const { base, client } = await start()
    const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
    await chat(openai)
    const used = (await usageOf(base, key)).total_tokens
    // used + 16 + the prompt's estimate > 30
    const err: any = await chat(openai).then(() => null, (e: unknown) => e)
    expect(err).to.include({ status: 429, code: 'insufficient_quota' })
    expect(err.message).to.include(`token limit is 30: it has used ${used} tokens`)
    // raising the limit takes effect without a restart (the key file is re-read)
    await keys.setLimits(record.id, { tokenLimit: null })
    await new Promise(resolve => setTimeout(resolve, 1100))
    client.next({ failBeforeFirst: { code: 'expired', message: 'no miner' } })
    await chat(openai).then(() => null, () => null)
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(await usageOf(base, key)).to.include({ tasks: 1, failed: 1, total_tokens: used })
    const anon = await fetch(`${base}/api/v1/usage`)
    expect(anon.status).to.equal(401)
  })

  it('keys carry their limits in the key file, checked when read; the ledger survives a broken file by starting afresh', async function () {
    const keys = await KeyStore.open(dir)
    await expect(keys.create({ spendLimitWei: '-5' })).to.eventually.be.rejectedWith(InvalidKeyLimitError)
    await expect(keys.create({ tokenLimit: 1.5 })).to.eventually.be.rejectedWith(InvalidKeyLimitError)
    const { record } = await keys.create({ spendLimitWei: 10n ** 18n, tokenLimit: 1000 })
    expect(record).to.include({ spendLimitWei: '1000000000000000000', tokenLimit: 1000 })
    const updated = await keys.setLimits(record.id, { spendLimitWei: null, tokenLimit: 5 })
    expect(updated.spendLimitWei).to.equal(undefined)
    expect((await KeyStore.open(dir)).list()[0]).to.include({ tokenLimit: 5 })
    const path = join(dir, 'router', 'keys.json')
    const text = JSON.parse(await readFile(path, 'utf8'))
    text.keys[0].spendLimitWei = 'lots'
    await (await import('node:fs/promises')).writeFile(path, JSON.stringify(text))
    await expect(KeyStore.open(dir)).to.eventually.be.rejectedWith(KeyStoreFileError, /spendLimitWei/)

    await (await import('node:fs/promises')).writeFile(join(dir, 'router', 'usage.json'), '{ nope')
    const ledger = UsageLedger.forKeys({ path })
    await ledger.load()
    expect(ledger.get('abc').spentWei).to.equal('0')
    ledger.record('abc', { promptTokens: 1, completionTokens: 2, spentWei: 7n })
    await ledger.flush()
    const reread = UsageLedger.forKeys({ path })
    await reread.load()
    expect(reread.get('abc')).to.include({ tasks: 1, promptTokens: 1, completionTokens: 2, spentWei: '7' })
  })
})
