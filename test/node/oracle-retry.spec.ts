import { expect } from 'aegir/chai'
import { retrying } from '../../node/roles/oracle/retry.ts'

class Flaky extends Error {
  name = 'Flaky'
}

describe('node/roles/oracle/retry', () => {
  it('tries again after doubling pauses, up to the attempts given', async () => {
    const at: number[] = []
    const start = performance.now()
    const err = await retrying(async () => {
      at.push(performance.now() - start)
      throw new Flaky('no')
    }, { attempts: 3, firstDelayMs: 40, signal: new AbortController().signal }).catch(e => e)
    expect(err).to.be.an.instanceOf(Flaky)
    expect(at).to.have.length(3)
    // pauses of 40 then 80 ms
    expect(at[1] - at[0]).to.be.at.least(35)
    expect(at[2] - at[1]).to.be.at.least(75)
  })

  it('resolves with the first success', async () => {
    let n = 0
    const v = await retrying(async (attempt) => {
      n++
      if (attempt < 2) {
        throw new Flaky('once')
      }
      return 'done'
    }, { attempts: 4, firstDelayMs: 1, signal: new AbortController().signal })
    expect(v).to.equal('done')
    expect(n).to.equal(2)
  })

  it('a permanent failure is not tried again', async () => {
    let n = 0
    const err = await retrying(async () => { n++; throw new Flaky('rule') }, { attempts: 5, firstDelayMs: 1, signal: new AbortController().signal, permanent: (e) => e instanceof Flaky }).catch(e => e)
    expect(err).to.be.an.instanceOf(Flaky)
    expect(n).to.equal(1)
  })

  it('a stop during a pause ends it at once with the last real error', async () => {
    const controller = new AbortController()
    let n = 0
    const start = performance.now()
    setTimeout(() => { controller.abort() }, 30)
    const err = await retrying(async () => { n++; throw new Flaky('rpc') }, { attempts: 3, firstDelayMs: 10_000, signal: controller.signal }).catch(e => e)
    expect(err).to.be.an.instanceOf(Flaky)
    expect(n).to.equal(1)
    expect(performance.now() - start).to.be.lessThan(5_000)
  })

  it('the first attempt runs even when already stopped, and an attempt under way when stopped succeeds', async () => {
    expect(await retrying(async () => 'sent', { attempts: 3, firstDelayMs: 1, signal: AbortSignal.abort() })).to.equal('sent')
    const controller = new AbortController()
    const v = await retrying(async () => {
      controller.abort()
      return 'mined'
    }, { attempts: 3, firstDelayMs: 1, signal: controller.signal })
    expect(v).to.equal('mined')
  })

  it('no attempt follows a failure once stopped', async () => {
    const controller = new AbortController()
    let n = 0
    const err = await retrying(async () => { n++; controller.abort(); throw new Flaky('rpc') }, { attempts: 3, firstDelayMs: 1, signal: controller.signal }).catch(e => e)
    expect(err).to.be.an.instanceOf(Flaky)
    expect(n).to.equal(1)
  })
})
