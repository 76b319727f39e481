/**
 * The SDK's waits end with the client: the abortable sleep, and the wait for
 * free miners before a submission, which a closed client leaves at once
 * with the pool's answer instead of polling to its deadline.
 */
import { expect } from 'aegir/chai'
import { awaitEligible } from '../../client/pool.ts'
import { sleep } from '../../client/sleep.ts'
import { PoolView } from '../../protocols/pool/view.ts'

class StopReason extends Error {
  static name = 'StopReason'
  name = 'StopReason'
}

describe('client waits', function () {
  it('sleep resolves after its time', async function () {
    const t0 = performance.now()
    await sleep(50)
    expect(performance.now() - t0).to.be.at.least(45)
  })

  it('sleep rejects with the signal\'s reason as soon as it aborts, and at once when it already has', async function () {
    const controller = new AbortController()
    const t0 = performance.now()
    setTimeout(() => { controller.abort(new StopReason('stopped')) }, 20)
    const err = await sleep(10_000, controller.signal).then(() => undefined, (e: Error) => e)
    expect(err?.name).to.equal('StopReason')
    expect(performance.now() - t0).to.be.lessThan(1000)
    const again = await sleep(10_000, controller.signal).then(() => undefined, (e: Error) => e)
    expect(again).to.be.an.instanceOf(StopReason)
  })

  it('the wait for free miners ends when the client closes, with the pool\'s answer (no miner of the model)', async function () {
    const controller = new AbortController()
    const t0 = performance.now()
    setTimeout(() => { controller.abort() }, 100)
    const err = await awaitEligible(new PoolView(2000), { sessionId: 1n, modelId: 'm', needed: 1, waitMs: 30_000, signal: controller.signal }).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('NoEligibleMinerError')
    expect(err.reason).to.equal('no-miner-for-model')
    expect(performance.now() - t0).to.be.lessThan(5000)
  })

  it('without a close, the wait for free miners lasts its time', async function () {
    const t0 = performance.now()
    const err = await awaitEligible(new PoolView(2000), { sessionId: 1n, modelId: 'm', needed: 1, waitMs: 300 }).then(() => undefined, (e: any) => e)
    expect(err?.name).to.equal('NoEligibleMinerError')
    expect(performance.now() - t0).to.be.at.least(290)
  })
})
