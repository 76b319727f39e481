import { expect } from 'aegir/chai'
import { StreamEnd } from '../../protocols/messages/index.ts'
import { TokenBuffer } from '../../protocols/stream/index.ts'
import type { StreamFrame } from '../../protocols/messages/index.ts'

describe('token buffer', () => {
  it('hands a reader every frame pushed since its last batch in one batch, the end frame last', async () => {
    const buffer = new TokenBuffer()
    buffer.push('a', [1])
    buffer.push('b', [2])
    const batches = buffer.readBatches(0)
    const first = await batches.next()
    expect(first.value?.map((f: StreamFrame) => f.token?.text)).to.deep.equal(['a', 'b'])
    // nothing new: the next batch waits for a push
    const pending = batches.next()
    buffer.push('c', [3])
    buffer.push('d', [4])
    buffer.finish({ tokenCount: 4 })
    const second = await pending
    expect(second.value?.map((f: StreamFrame) => f.token?.text ?? `end ${f.end?.code}`)).to.deep.equal(['c', 'd', `end ${StreamEnd.Code.OK}`])
    expect((await batches.next()).done).to.equal(true)
  })

  it('reads frame by frame from an index, and stops on abort without keeping a listener per wait', async () => {
    const buffer = new TokenBuffer()
    for (const t of ['a', 'b', 'c']) {
      buffer.push(t, [])
    }
    const controller = new AbortController()
    let listeners = 0
    const add = controller.signal.addEventListener.bind(controller.signal)
    const remove = controller.signal.removeEventListener.bind(controller.signal)
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => { listeners++; add(...args) }) as typeof add
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => { listeners--; remove(...args) }) as typeof remove
    const texts: string[] = []
    const reading = (async () => {
      for await (const f of buffer.read(1, controller.signal)) {
        texts.push(f.token?.text ?? '')
      }
    })()
    for (let i = 0; i < 20; i++) {
      await new Promise(resolve => setTimeout(resolve, 1))
      buffer.push(`x${i}`, [])
    }
    await new Promise(resolve => setTimeout(resolve, 5))
    expect(listeners).to.be.at.most(1)
    controller.abort(new Error('gone'))
    await expect(reading).to.eventually.be.rejectedWith('gone')
    expect(texts.slice(0, 2)).to.deep.equal(['b', 'c'])
    expect(texts).to.have.length(22)
  })

  it('wakes a reader only after what the producer queued for the next turn, as an engine queues its next decode', async () => {
    const buffer = new TokenBuffer()
    const order: string[] = []
    const reading = (async () => {
      for await (const f of buffer.read(0)) {
        order.push(f.token != null ? `write ${f.token.text}` : 'write end')
      }
    })()
    await new Promise(resolve => setImmediate(resolve))
    buffer.push('a', [1])
    // node-llama-cpp dispatches a sequence's next decode on the coming turn of the event loop
    setImmediate(() => { order.push('next decode dispatched') })
    await new Promise(resolve => setTimeout(resolve, 20))
    buffer.finish({ tokenCount: 1 })
    await reading
    expect(order).to.deep.equal(['next decode dispatched', 'write a', 'write end'])
  })
})

describe('token buffer batches with an interval', () => {
  it('sends the first token alone, then at most one batch per interval, and the end at once', async () => {
    const buffer = new TokenBuffer()
    const INTERVAL = 40
    const batches: Array<{ at: number, texts: string[] }> = []
    const t0 = performance.now()
    const reading = (async () => {
      for await (const batch of buffer.readBatches(0, undefined, INTERVAL)) {
        batches.push({ at: performance.now() - t0, texts: batch.map(f => f.token?.text ?? 'end') })
      }
    })()
    // a token every 5 ms for 100 ms, then the end 1 ms after the last token
    for (let i = 0; i < 20; i++) {
      buffer.push(`t${i}`, [i])
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    const endAt = performance.now() - t0
    buffer.finish({ tokenCount: 20 })
    await reading
    expect(batches[0].texts).to.deep.equal(['t0'])
    expect(batches.flatMap(b => b.texts)).to.deep.equal([...Array.from({ length: 20 }, (_, i) => `t${i}`), 'end'])
    // far fewer writes than tokens (one per interval, plus the first token and the end), none closer together than the interval (timer slack aside)
    expect(batches.length).to.be.below(20)
    expect(batches.length).to.be.at.most(Math.ceil(endAt / INTERVAL) + 2)
    for (let i = 1; i < batches.length - 1; i++) {
      expect(batches[i].at - batches[i - 1].at).to.be.at.least(INTERVAL - 2)
    }
    // the end does not wait out the interval
    expect(batches[batches.length - 1].at - endAt).to.be.below(INTERVAL / 2)
  })

  it('sends the tokens held back at once when they are complete, before the end frame', async () => {
    const buffer = new TokenBuffer()
    const batches = buffer.readBatches(0, undefined, 10_000)
    buffer.push('a', [1])
    expect((await batches.next()).value?.map((f: StreamFrame) => f.token?.text)).to.deep.equal(['a'])
    buffer.push('b', [2])
    buffer.push('c', [3])
    const pending = batches.next()
    await new Promise(resolve => setTimeout(resolve, 10))
    buffer.complete()
    expect((await pending).value?.map((f: StreamFrame) => f.token?.text)).to.deep.equal(['b', 'c'])
    // a late push after completion (bytes a decoder held back) is not paused either
    buffer.push('d', [])
    expect((await batches.next()).value?.map((f: StreamFrame) => f.token?.text)).to.deep.equal(['d'])
    buffer.finish({ tokenCount: 3 })
    expect((await batches.next()).value?.map((f: StreamFrame) => f.end?.code)).to.deep.equal([StreamEnd.Code.OK])
  })

  it('stops a reader paused between batches on abort and forgets it', async () => {
    const buffer = new TokenBuffer()
    const controller = new AbortController()
    const batches = buffer.readBatches(0, controller.signal, 10_000)
    buffer.push('a', [1])
    expect((await batches.next()).value?.map((f: StreamFrame) => f.token?.text)).to.deep.equal(['a'])
    buffer.push('b', [2])
    const pending = batches.next()
    await new Promise(resolve => setTimeout(resolve, 10))
    controller.abort(new Error('gone'))
    await expect(pending).to.eventually.be.rejectedWith('gone')
    expect((buffer as unknown as { finishers: unknown[] }).finishers).to.have.length(0)
    // so does a reader waiting for a push
    const other = new AbortController()
    const waiting = buffer.readBatches(2, other.signal).next()
    await new Promise(resolve => setTimeout(resolve, 10))
    other.abort(new Error('gone too'))
    await expect(waiting).to.eventually.be.rejectedWith('gone too')
    expect((buffer as unknown as { waiters: unknown[] }).waiters).to.have.length(0)
  })
})
