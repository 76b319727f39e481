import { expect } from 'aegir/chai'
import { Ticker } from '../../node/roles/shared/ticker.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('role clock (Ticker)', function () {
  this.timeout(10_000)

  it('ticks every busy period while busy, every idle period otherwise, and a wake cuts an idle wait short', async () => {
    let busy = false
    const ticks: number[] = []
    const ticker = new Ticker({ tick: (now) => { ticks.push(now) }, busy: () => busy, busyMs: 20, idleMs: 400 })
    ticker.start()
    try {
      await sleep(300)
      expect(ticks).to.have.length(0)
      busy = true
      const woken = Date.now()
      ticker.wake()
      await sleep(60)
      expect(ticks.length).to.be.at.least(1)
      expect(ticks[0] - woken).to.be.below(100)
      const n = ticks.length
      await sleep(400)
      // about 20 ticks in 400 ms while busy
      expect(ticks.length - n).to.be.within(10, 21)
      // frequent wakes never hold a due tick back
      const m = ticks.length
      const waker = setInterval(() => { ticker.wake() }, 5)
      await sleep(400)
      clearInterval(waker)
      expect(ticks.length - m).to.be.within(10, 21)
    } finally {
      ticker.stop()
    }
    const stopped = ticks.length
    await sleep(100)
    expect(ticks).to.have.length(stopped)
  })
})
