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
