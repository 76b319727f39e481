/**
 * The hub log poller's pace on a real anvil: four polls a second while its
 * role is busy, one per idle interval otherwise, and a wake brings the next
 * poll forward without ever pushing a due one back. Logs are still handed
 * over in order, whatever the pace.
 */
import { expect } from 'aegir/chai'
import { createPublicClient, http } from 'viem'
import { foundry } from 'viem/chains'
import { watchHub } from '../../contracts/context.ts'
import { heartbeat } from '../../contracts/index.ts'
import { startFixture } from './fixture.ts'
import type { Fixture } from './fixture.ts'
import type { HubLog } from '../../contracts/context.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('watchHub: polling pace', function () {
  this.timeout(60_000)
  let fx: Fixture

  before(async () => { fx = await startFixture() })
  after(async () => { await fx?.stop() })

  /** A poller whose block-number requests are counted. */
  function counted (busy: () => boolean, onLog: (l: HubLog) => void = () => {}): { polls(): number, watcher: ReturnType<typeof watchHub> } {
    let polls = 0
    const client = createPublicClient({
      chain: foundry,
      transport: http(fx.anvil.url, {
        onFetchRequest: async (req) => {
          const body = await req.clone().text()
          if (body.includes('eth_blockNumber')) {
            polls++
          }
        }
      })
    })
    const watcher = watchHub({ wallet: client as any, hub: fx.hub }, onLog, { intervalMs: 100, idleIntervalMs: 1000, busy })
    return { polls: () => polls, watcher }
  }

  it('polls every idle interval while idle, every interval while busy; a wake cuts only an idle wait short', async () => {
    let busy = false
    const { polls, watcher } = counted(() => busy)
    try {
      await sleep(1500)
      // the first poll and one after the idle second
      expect(polls()).to.be.within(2, 3)
      busy = true
      const before = polls()
      watcher.wake()
      await sleep(250)
      // woken: polled within the busy interval, not at the end of the idle second
      expect(polls()).to.be.at.least(before + 1)
      const start = polls()
      await sleep(1000)
      expect(polls() - start).to.be.within(6, 11)
      // wakes while busy never hold a due poll back
      const t = polls()
      const waker = setInterval(() => { watcher.wake() }, 20)
      await sleep(1000)
      clearInterval(waker)
      expect(polls() - t).to.be.within(6, 11)
    } finally {
      watcher.stop()
    }
  })

  it('hands over every hub log in chain order at the idle pace too', async () => {
    const seen: string[] = []
    const { watcher } = counted(() => false, (l) => { seen.push(`${l.blockNumber}:${l.eventName}`) })
    try {
      await sleep(300)
      for (let i = 0; i < 3; i++) {
        await heartbeat(fx.oracle as any, { hub: fx.hub })
      }
      const deadline = Date.now() + 5000
      while (seen.length < 3 && Date.now() < deadline) {
        await sleep(50)
      }
      expect(seen).to.have.length(3)
      expect([...seen].sort()).to.deep.equal(seen)
    } finally {
      watcher.stop()
    }
  })
})
