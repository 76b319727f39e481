/**
 * Direct mode of the browser page on a real local network, in headless
 * Chromium: the page's wallet (a key it generated and kept in localStorage,
 * which is also its libp2p identity) is refused a session while it holds no
 * ETH, is funded from an anvil account the nodes do not use, creates a
 * session on the hub from the browser, is refused a task its session cannot
 * pay for, then submits a prompt with no router: the task goes on chain from
 * the page, is announced on gossip signed by the page's key, the miners fetch
 * the prompt from the page and stream their tokens to it over WebRTC, and the
 * page shows the settled result verified on chain.
 *
 * The steps share one network and one page and run in order.
 */
import { expect } from 'aegir/chai'
import { cleanup as cleanupDataChannels } from 'node-datachannel'
import { createWalletClient, http, parseEther, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { getSession } from '../../contracts/actions/sessions.ts'
import { ANVIL_KEYS } from '../../contracts/anvil.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { launchChromium, openPage } from './fixtures/browser.ts'
import { startBrowserDevnet } from './fixtures/devnet.ts'
import type { OpenedPage } from './fixtures/browser.ts'
import type { BrowserDevnet } from './fixtures/devnet.ts'
import type { Browser, Page } from 'playwright-core'
import type { Address } from 'viem'

/** An anvil account no devnet node uses (the hub owner is key 0; nodes have keys of their own). */
const FUNDER_KEY = ANVIL_KEYS[9]

describe('browser page in direct mode on a real devnet (Chromium)', function () {
  this.timeout(300_000)
  let dn: BrowserDevnet | undefined
  let browser: Browser | undefined
  let opened: OpenedPage | undefined
  let page: Page
  let address: Address
  let sessionId: bigint

  before(async function () {
    browser = await launchChromium()
    dn = await startBrowserDevnet()
  })

  after(async function () {
    await opened?.page.evaluate(async () => (globalThis as any).cortensor.disconnect()).catch(() => {})
    await opened?.context.close().catch(() => {})
    await browser?.close()
    await dn?.stop()
    // node-datachannel's threads outlive the nodes and would keep the test process alive
    cleanupDataChannels()
  })

  function failureContext (): string {
    return `page: ${opened?.errors.slice(-5).join(' | ') ?? ''}`
  }

  function net (): NonNullable<BrowserDevnet['ln']['net']> {
    if (dn == null) {
      throw new Error('no devnet')
    }
    return dn.ln.net
  }

  async function chainSession (id: bigint): Promise<Awaited<ReturnType<typeof getSession>>> {
    const reader = createWalletClient({ account: privateKeyToAccount(FUNDER_KEY), chain: foundry, transport: http(net().rpcUrl) }).extend(publicActions)
    return getSession(reader as any, { hub: net().hub, sessionId: id })
  }

  it('connects as its own wallet: the libp2p identity is the generated key, kept across reloads', async function () {
    if (dn == null || browser == null) {
      throw new Error('no devnet')
    }
    opened = await openPage(browser, dn.app.url)
    page = opened.page
    await waitFor('the page connected with a reservation and direct mode ready', async () => page.evaluate(() => {
      const c = (globalThis as any).cortensor
      return c.client?.status().state === 'connected' && c.client.status().webrtcAddresses.length > 0 && c.direct != null
    }), 30_000).catch(err => { throw new Error(`${err.message}\n${failureContext()}`) })
    const wallet = await page.evaluate(() => (globalThis as any).cortensor.wallet)
    address = wallet.address
    expect(address).to.match(/^0x[0-9a-fA-F]{40}$/)
    expect(await page.evaluate(() => (globalThis as any).cortensor.client.peerId)).to.equal(wallet.peerId)
    expect(await page.textContent('#wallet-address')).to.equal(address)
    const stored = await page.evaluate(() => localStorage.getItem('cortensor.wallet.key'))
    expect(privateKeyToAccount(stored as `0x${string}`).address).to.equal(address)
    // with a router configured, the router stays the default way to submit
    expect(await page.isChecked('#mode-router')).to.equal(true)

    // a reload keeps the wallet (and so the peer identity)
    await page.reload()
    await page.waitForFunction(() => (globalThis as any).cortensor != null)
    await page.evaluate(async () => (globalThis as any).cortensor.ready)
    expect(await page.evaluate(() => (globalThis as any).cortensor.wallet.address)).to.equal(address)
    await waitFor('direct mode ready after the reload', async () => page.evaluate(() => (globalThis as any).cortensor.direct != null), 30_000)
    await page.waitForFunction(() => document.getElementById('wallet-balance')?.textContent === '0 ETH', undefined, { timeout: 10_000 })
    await waitFor('the pool on the page', async () => (await page.evaluate(() => (globalThis as any).cortensor.client.pool().length)) === net().miners.length, 30_000)
  })

  it('shows a clear error, and sends nothing, when the wallet has no ETH', async function () {
    await page.fill('#session-deposit', '0.1')
    await page.click('#session-create')
    await page.waitForFunction(() => document.getElementById('wallet-error')?.hidden === false, undefined, { timeout: 20_000 })
    const shown = await page.textContent('#wallet-error')
    expect(shown).to.include(`the wallet ${address} holds no ETH`)
    expect(await page.textContent('#session-status')).to.equal('not created')
    expect(await page.inputValue('#session-id')).to.equal('')
    expect(opened?.errors.filter(e => e.startsWith('pageerror'))).to.deep.equal([])
  })

  it('is funded from another account and creates a session from the page', async function () {
    const funder = createWalletClient({ account: privateKeyToAccount(FUNDER_KEY), chain: foundry, transport: http(net().rpcUrl) }).extend(publicActions)
    const hash = await funder.sendTransaction({ to: address, value: parseEther('2') })
    await funder.waitForTransactionReceipt({ hash })
    await page.click('#wallet-refresh')
    await page.waitForFunction(() => document.getElementById('wallet-balance')?.textContent === '2 ETH', undefined, { timeout: 10_000 })
    expect(await page.getAttribute('#wallet-error', 'hidden')).to.not.equal(null)

    // a deposit of 1 wei makes a session no task fits in
    await page.fill('#session-deposit', '0.000000000000000001')
    await page.click('#session-create')
    await page.waitForFunction(() => /^session \d+ created/.test(document.getElementById('session-status')?.textContent ?? ''), undefined, { timeout: 30_000 })
      .catch(async (err) => { throw new Error(`${err.message}\n${await page.textContent('#wallet-error')}\n${failureContext()}`) })
    const poor = BigInt(await page.inputValue('#session-id'))
    const s = await chainSession(poor)
    expect(s.owner).to.equal(address)
    expect(s.availableWei).to.equal(1n)
    expect(s.modelId).to.equal(net().modelId)
  })

  it('shows the hub\'s refusal when the session deposit cannot pay for the task', async function () {
    await page.check('#mode-direct')
    await page.fill('#prompt', 'the man said that water was cold')
    await page.click('#submit-button')
    await page.waitForFunction(() => (document.getElementById('result-status')?.textContent ?? '').startsWith('failed:'), undefined, { timeout: 30_000 })
    const status = await page.textContent('#result-status') ?? ''
    expect(status).to.include('InsufficientDeposit')
    expect(await page.textContent('#errors')).to.include('InsufficientDeposit')
    expect(await page.isEnabled('#submit-button')).to.equal(true)
    expect((await chainSession(BigInt(await page.inputValue('#session-id')))).taskCount).to.equal(0)
  })

  it('submits a prompt directly: tokens stream from a miner into the page, and the settled result is verified on chain', async function () {
    // a session with a real deposit
    await page.fill('#session-deposit', '0.5')
    const created = await page.evaluate(async () => (globalThis as any).cortensor.createSession())
    sessionId = BigInt(created.sessionId)
    expect(await page.inputValue('#session-id')).to.equal(created.sessionId)
    const before = await chainSession(sessionId)
    expect(before.owner).to.equal(address)
    expect(before.availableWei).to.equal(parseEther('0.5'))
    expect(before.taskCount).to.equal(0)
    await page.waitForFunction(() => document.getElementById('session-info')?.dataset.tasks === '0', undefined, { timeout: 10_000 })

    // record the token stream and the status each time the stream changes
    await page.evaluate(() => {
      const snapshots: Array<{ tokens: string, status: string }> = []
      const tokens = document.getElementById('tokens') as HTMLElement
      new MutationObserver(() => {
        snapshots.push({ tokens: tokens.textContent ?? '', status: document.getElementById('result-status')?.textContent ?? '' })
      }).observe(tokens, { childList: true, characterData: true, subtree: true })
      ;(globalThis as any).tokenSnapshots = snapshots
    })
    await page.fill('#max-tokens', '16')
    await page.click('#submit-button')
    await page.waitForFunction(() => ['verified', 'failed'].includes(document.getElementById('result-verified')?.dataset.state ?? ''), undefined, { timeout: 180_000 })
      .catch(async (err) => { throw new Error(`${err.message}\nstatus ${await page.textContent('#result-status')}\n${await page.textContent('#errors')}\n${failureContext()}`) })

    // tokens streamed into the page before the task settled
    const snapshots: Array<{ tokens: string, status: string }> = await page.evaluate(() => (globalThis as any).tokenSnapshots.filter((s: any) => s.tokens !== ''))
    // (had no miner streamed, the page would show the settled output only once the status reads settled)
    expect(snapshots.length).to.be.greaterThan(0)
    expect(snapshots[0].status).to.not.equal('settled')
    const shown = await page.textContent('#tokens') ?? ''
    expect(shown).to.not.equal('')

    // the settled result the page shows
    expect(await page.textContent('#result-status')).to.equal('settled')
    const taskText = await page.textContent('#result-task') ?? ''
    const m = /^#(\d+) \(session (\d+)\)$/.exec(taskText)
    expect(m?.[2]).to.equal(sessionId.toString())
    const taskId = BigInt(m?.[1] ?? 0)
    const cid = await page.textContent('#result-cid')
    const tx = await page.textContent('#result-tx')
    const miners = await page.$$eval('#result-miners li', items => items.map(li => li.textContent ?? ''))
    expect(miners.filter(x => x.endsWith('accepted')).length).to.be.greaterThan(0)

    // what the oracles settled: the same transaction and output, for the page's task
    const states = net().oracles.map(o => o.role.taskState(taskId)).filter(s => s?.txHash != null)
    expect(states.length).to.be.greaterThan(0)
    expect(states[0]?.txHash).to.equal(tx)
    expect(states[0]?.slots.filter(s => states[0]?.accepted.includes(s.miner)).map(s => s.outputCid)).to.include(cid)
    // a miner took the task from the page's gossip and streamed to the page's peer: its output is what the page shows
    const accepted = net().miners.filter(x => states[0]?.accepted.map(a => a.toLowerCase()).includes(x.node.peerIdentity.address.toLowerCase()))
    expect(accepted.length).to.be.greaterThan(0)

    // the page's own check against the chain
    expect(await page.getAttribute('#result-verified', 'data-state')).to.equal('verified', await page.textContent('#result-checks') ?? '')
    expect(await page.textContent('#result-verified')).to.equal('verified on chain')
    const verification = await page.evaluate(() => (globalThis as any).cortensor.verification)
    expect(verification.ok).to.equal(true)
    expect(verification.checks.map((c: any) => c.name)).to.deep.equal(['transaction', 'event', 'calldata', 'output', 'signatures', 'verdicts'])
    expect(await page.textContent('#result-timing')).to.match(/^first token \d+ ms, last token \d+ ms, settled after \d+ ms, \d+ tokens$/)

    // the session on chain: one task, and its escrow paid the miners
    const after = await chainSession(sessionId)
    expect(after.taskCount).to.equal(1)
    expect(after.availableWei + after.reservedWei < parseEther('0.5')).to.equal(true, `escrow ${after.availableWei + after.reservedWei}`)
    await page.waitForFunction(() => document.getElementById('session-info')?.dataset.tasks === '1', undefined, { timeout: 10_000 })
    expect(opened?.errors.filter(e => e.startsWith('pageerror'))).to.deep.equal([])
  })

  it('takes a pasted funded key: the page reconnects as that key\'s peer and shows its balance', async function () {
    const key = ANVIL_KEYS[8]
    const expected = privateKeyToAccount(key).address
    await page.fill('#wallet-key', 'not a key')
    await page.click('#wallet-import')
    await page.waitForFunction(() => (document.getElementById('wallet-error')?.textContent ?? '').includes('not a usable wallet key'), undefined, { timeout: 10_000 })
    expect(await page.evaluate(() => (globalThis as any).cortensor.wallet.address)).to.equal(address)

    await page.fill('#wallet-key', key)
    await page.click('#wallet-import')
    await waitFor('the page reconnected as the pasted key', async () => page.evaluate((a) => {
      const c = (globalThis as any).cortensor
      return c.wallet.address === a && c.client?.status().state === 'connected' && c.direct != null && c.client.peerId === c.wallet.peerId
    }, expected), 30_000)
    expect(await page.textContent('#wallet-address')).to.equal(expected)
    expect(await page.evaluate(() => localStorage.getItem('cortensor.wallet.key'))).to.equal(key)
    await page.waitForFunction(() => Number(document.getElementById('wallet-balance')?.dataset.wei ?? '0') > 0, undefined, { timeout: 10_000 })
    // the previous wallet's session is not this wallet's
    expect(await page.inputValue('#session-id')).to.equal('')
  })
})
