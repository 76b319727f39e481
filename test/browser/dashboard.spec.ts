/**
 * The router dashboard's usage section in headless Chromium: the page asks
 * GET /api/v1/usage with the key typed in, and shows exactly what the
 * endpoint returns (tokens, tasks, wei spent, limits, what is left); a
 * wrong key shows the router's error and no figures.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { formatEther } from 'viem'
import { createRouter } from '../../node/roles/router/app.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { MODEL_ID, ScriptedTaskClient } from '../router/fixtures.ts'
import { launchChromium } from './fixtures/browser.ts'
import type { FastifyInstance } from 'fastify'
import type { Browser } from 'playwright-core'

const SPEND_LIMIT_WEI = 10n ** 15n
const TOKEN_LIMIT = 5000

describe('router dashboard: usage of an API key', function () {
  this.timeout(60_000)
  let dir: string
  let app: FastifyInstance
  let browser: Browser
  let base: string
  let key: string

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'router-dashboard-'))
    const keys = await KeyStore.open(dir)
    key = (await keys.create({ sessionId: 1n, spendLimitWei: SPEND_LIMIT_WEI, tokenLimit: TOKEN_LIMIT })).key
    app = createRouter({ client: new ScriptedTaskClient(), keys, options: { rateLimitPerMinute: 10_000 } })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    base = `http://127.0.0.1:${typeof address === 'object' && address != null ? address.port : 0}`
    const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0 })
    for (let i = 0; i < 2; i++) {
      await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 16 })
    }
    browser = await launchChromium()
  })

  after(async function () {
    await browser?.close()
    await app?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('shows the key\'s tokens, tasks, spend and limits exactly as GET /api/v1/usage returns them', async function () {
    const u = await (await fetch(`${base}/api/v1/usage`, { headers: { authorization: `Bearer ${key}` } })).json()
    expect(u).to.include({ tasks: 2, failed: 0 })
    expect(BigInt(u.spent_wei) > 0n).to.equal(true)
    const wei = (w: string | null): string => w == null ? 'none' : `${w} wei (${formatEther(BigInt(w))} ETH)`

    const page = await (await browser.newContext()).newPage()
    await page.goto(`${base}/`)
    expect(await page.isHidden('#usage')).to.equal(true)
    await page.fill('#usage-key', key)
    await page.click('#usage-show')
    await page.waitForSelector('#usage td[data-field="tasks"]')
    const shown = await page.$$eval('#usage td[data-field]', cells => Object.fromEntries(cells.map(c => [(c as HTMLElement).dataset.field, c.textContent])))
    expect(shown).to.deep.equal({
      tasks: String(u.tasks),
      failed: String(u.failed),
      prompt_tokens: String(u.prompt_tokens),
      completion_tokens: String(u.completion_tokens),
      total_tokens: String(u.total_tokens),
      spent_wei: wei(u.spent_wei),
      in_flight: `${wei(u.in_flight.max_spend_wei)}, ${u.in_flight.max_tokens} tokens`,
      spend_limit_wei: wei(SPEND_LIMIT_WEI.toString()),
      token_limit: String(TOKEN_LIMIT),
      remaining_spend_wei: wei((SPEND_LIMIT_WEI - BigInt(u.spent_wei)).toString()),
      remaining_tokens: String(TOKEN_LIMIT - u.total_tokens),
      last_used: shown.last_used
    })
    expect(shown.last_used).to.match(/^\d+s ago$/)
    expect(await page.textContent('#usage-note')).to.equal(`key ${u.key_id} · session 1`)
    // the key is not left in the input, and the page keeps it in this tab only
    expect(await page.inputValue('#usage-key')).to.equal('')
    expect(await page.evaluate(() => localStorage.length)).to.equal(0)
  })

  it('shows the router\'s error and no figures for a key it does not know', async function () {
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${base}/`)
    await page.fill('#usage-key', 'csk_not-a-key')
    await page.press('#usage-key', 'Enter')
    await page.waitForFunction(() => document.getElementById('usage-note')?.textContent?.startsWith('no usage for this key') === true)
    const answer = await (await fetch(`${base}/api/v1/usage`, { headers: { authorization: 'Bearer csk_not-a-key' } })).json()
    expect(await page.textContent('#usage-note')).to.equal(`no usage for this key: ${answer.error.message}`)
    expect(await page.isHidden('#usage')).to.equal(true)
  })
})
