import { expect } from 'aegir/chai'
import { Gatherer } from '../../node/roles/oracle/gatherer.ts'

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

describe('gatherer (batched hub writes)', function () {
  it('hands over what came within the window in one batch, and the next items in the next', async function () {
    const batches: string[][] = []
    const g = new Gatherer<string>({ batchMs: 250, maxBatch: 10, flush: async (items) => { batches.push(items) } })
    g.add('a', 'a')
    await sleep(10)
    g.add('b', 'b')
    g.add('b', 'b2')
    expect(batches).to.deep.equal([])
    await sleep(500)
    expect(batches).to.deep.equal([['a', 'b2']])
    g.add('c', 'c')
    await sleep(500)
    expect(batches).to.deep.equal([['a', 'b2'], ['c']])
    await g.stop()
  })

  it('hands over a full batch at once, one batch at a time and in order', async function () {
    const events: string[] = []
    const g = new Gatherer<number>({
      batchMs: 10_000,
      maxBatch: 2,
      flush: async (items) => {
        events.push(`start ${items.join(',')}`)
        await sleep(20)
        events.push(`end ${items.join(',')}`)
      }
    })
    for (let i = 1; i <= 4; i++) {
      g.add(String(i), i)
    }
    expect(g.size).to.equal(0)
    await sleep(300)
    expect(events).to.deep.equal(['start 1,2', 'end 1,2', 'start 3,4', 'end 3,4'])
    await g.stop()
  })

  it('drops what waits on stop, and reports a failed flush', async function () {
    const batches: string[][] = []
    const errors: string[] = []
    const g = new Gatherer<string>({
      batchMs: 30,
      maxBatch: 10,
      flush: async (items) => {
        batches.push(items)
        if (items.includes('bad')) {
          throw new Error('reverted')
        }
      },
      onError: (err) => { errors.push(err.message) }
    })
    g.add('bad', 'bad')
    await sleep(300)
    expect(batches).to.deep.equal([['bad']])
    expect(errors).to.deep.equal(['reverted'])
    g.add('late', 'late')
    await g.stop()
    g.add('after', 'after')
    await sleep(300)
    expect(batches).to.deep.equal([['bad']])
  })

  it('lets the whole waiting batch be taken at once, and its timer hands over nothing after', async function () {
    const batches: string[][] = []
    const g = new Gatherer<string>({ batchMs: 50, maxBatch: 10, flush: async (items) => { batches.push(items) } })
    g.add('a', 'a')
    g.add('b', 'b')
    expect(g.has('a')).to.equal(true)
    expect(g.takeAll()).to.deep.equal(['a', 'b'])
    expect(g.has('a')).to.equal(false)
    expect(g.size).to.equal(0)
    await sleep(200)
    expect(batches).to.deep.equal([])
    // a new item starts a new window
    g.add('c', 'c')
    await sleep(200)
    expect(batches).to.deep.equal([['c']])
    await g.stop()
  })

  it('hands over what waits when stopped with flush, and takes nothing after', async function () {
    const batches: string[][] = []
    const g = new Gatherer<string>({ batchMs: 10_000, maxBatch: 10, flush: async (items) => { await sleep(20); batches.push(items) } })
    g.add('a', 'a')
    g.add('b', 'b')
    await g.stop({ flush: true })
    expect(batches).to.deep.equal([['a', 'b']])
    g.add('c', 'c')
    await sleep(50)
    expect(batches).to.deep.equal([['a', 'b']])
  })
})
