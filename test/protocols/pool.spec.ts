import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { bytesToHex } from 'viem'
import { PoolView, availableTo, reservationOf } from '../../node/roles/shared/pool.ts'
import { Heartbeat, checkHeartbeat, decoders } from '../../protocols/messages/index.ts'
import {
  POOL_KEY_VERSION, RAW_CODEC, SHA2_256_CODE, findPoolMiners, poolKey, poolKeyString, poolKeysFor, providePoolKeys
} from '../../protocols/pool/index.ts'
import { poolFromRecords, selectMiners, selectionSeed } from '../../protocols/selection/index.ts'
import * as f from './fixtures.ts'
import type { PoolEntry } from '../../protocols/pool/view.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

const MODEL = '0x' + 'ab'.repeat(32)

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A content router that answers findProviders from a table, optionally slowly. */
function fakeRouting (self: PeerId, table: Map<string, Array<{ id: PeerId, multiaddrs: Multiaddr[] }>>, delayMs = 0): any {
  return {
    peerId: self,
    contentRouting: {
      async * findProviders (key: CID, options: { signal?: AbortSignal } = {}) {
        for (const p of table.get(key.toString()) ?? []) {
          if (delayMs > 0) {
            await new Promise((resolve, reject) => {
              const t = setTimeout(resolve, delayMs)
              options.signal?.addEventListener('abort', () => { clearTimeout(t); reject(options.signal?.reason) }, { once: true })
            })
          }
          yield { ...p, routing: 'fake' }
        }
      }
    }
  }
}

describe('protocols/pool: DHT pool keys', () => {
  it('is a CIDv1 (raw, sha2-256) over the versioned key string', () => {
    const query = { model: MODEL, hardwareClass: 'cpu', level: 2 }
    const text = poolKeyString('cortensor', query)
    expect(text).to.equal(JSON.stringify([POOL_KEY_VERSION, 'cortensor', MODEL, 'cpu', 2]))
    const key = poolKey('cortensor', query)
    expect(key.version).to.equal(1)
    expect(key.code).to.equal(RAW_CODEC)
    expect(key.multihash.code).to.equal(SHA2_256_CODE)
    expect(Buffer.from(key.multihash.digest).toString('hex')).to.equal(createHash('sha256').update(text).digest('hex'))
    // deterministic, and the same from any node
    expect(poolKey('cortensor', { ...query }).equals(key)).to.equal(true)
  })

  it('differs by network, model, hardware class and level; omitted fields mean "any"', () => {
    const base = { model: MODEL, hardwareClass: 'cpu', level: 1 }
    const keys = [
      poolKey('cortensor', base),
      poolKey('other-net', base),
      poolKey('cortensor', { ...base, model: 'tiny' }),
      poolKey('cortensor', { ...base, hardwareClass: 'gpu' }),
      poolKey('cortensor', { ...base, level: 2 }),
      poolKey('cortensor', { model: MODEL }),
      poolKey('cortensor', { model: MODEL, level: 1 }),
      poolKey('cortensor', { model: MODEL, hardwareClass: 'cpu' })
    ].map(k => k.toString())
    expect(new Set(keys).size).to.equal(keys.length)
    expect(poolKeyString('n', { model: 'm' })).to.equal(JSON.stringify([POOL_KEY_VERSION, 'n', 'm', null, null]))
  })

  it('treats hex model ids case-insensitively and keeps names as they are', () => {
    expect(poolKey('n', { model: MODEL.toUpperCase().replace('0X', '0x') }).equals(poolKey('n', { model: MODEL }))).to.equal(true)
    expect(poolKey('n', { model: 'Tiny' }).equals(poolKey('n', { model: 'tiny' }))).to.equal(false)
  })

  it('a miner provides one key per lookup shape: model, +class, +level, +both', () => {
    const keys = poolKeysFor('n', { model: MODEL, hardwareClass: 'gpu', level: 3 })
    expect(keys.map(String)).to.deep.equal([
      poolKey('n', { model: MODEL }),
      poolKey('n', { model: MODEL, hardwareClass: 'gpu' }),
      poolKey('n', { model: MODEL, level: 3 }),
      poolKey('n', { model: MODEL, hardwareClass: 'gpu', level: 3 })
    ].map(String))
  })

  it('rejects bad input by field with InvalidPoolKeyError', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => poolKey('', { model: MODEL }), 'network'],
      [() => poolKey('n'.repeat(65), { model: MODEL }), 'network'],
      [() => poolKey('n', { model: '' }), 'model'],
      [() => poolKey('n', { model: 'm'.repeat(129) }), 'model'],
      [() => poolKey('n', { model: MODEL, hardwareClass: '' }), 'hardwareClass'],
      [() => poolKey('n', { model: MODEL, hardwareClass: 'x'.repeat(33) }), 'hardwareClass'],
      [() => poolKey('n', { model: MODEL, level: -1 }), 'level'],
      [() => poolKey('n', { model: MODEL, level: 1.5 }), 'level'],
      [() => poolKey('n', { model: MODEL, level: 256 }), 'level']
    ]
    for (const [fn, field] of cases) {
      let thrown: any
      try { fn() } catch (err) { thrown = err }
      expect(thrown?.name, field).to.equal('InvalidPoolKeyError')
      expect(thrown.field).to.equal(field)
    }
  })
})

describe('protocols/pool: lookup and provide', () => {
  it('findPoolMiners returns each provider once with all its addresses, never this node', async () => {
    const self = await peer()
    const a = await peer()
    const b = await peer()
    const key = poolKey('n', { model: MODEL })
    const table = new Map([[key.toString(), [
      { id: a, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/1')] },
      { id: self, multiaddrs: [] },
      { id: b, multiaddrs: [] },
      { id: a, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/1'), multiaddr('/ip4/127.0.0.1/tcp/2')] }
    ]]])
    const found = await findPoolMiners(fakeRouting(self, table), 'n', { model: MODEL })
    expect(found.map(m => m.peerId.toString())).to.deep.equal([a.toString(), b.toString()])
    expect(found[0].multiaddrs.map(String)).to.deep.equal(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
    expect(await findPoolMiners(fakeRouting(self, table), 'n', { model: 'another-model' })).to.deep.equal([])
    expect(await findPoolMiners(fakeRouting(self, table), 'n', { model: MODEL }, { limit: 1 })).to.have.length(1)
  })

  it('a timeout ends the lookup with what was found; the caller\'s abort rejects', async () => {
    const self = await peer()
    const ids = [await peer(), await peer(), await peer()]
    const key = poolKey('n', { model: MODEL })
    const table = new Map([[key.toString(), ids.map(id => ({ id, multiaddrs: [] }))]])
    const partial = await findPoolMiners(fakeRouting(self, table, 200), 'n', { model: MODEL }, { timeoutMs: 300 })
    expect(partial.length).to.be.lessThan(3)
    const controller = new AbortController()
    setTimeout(() => { controller.abort(new Error('caller gave up')) }, 50)
    let thrown: any
    try {
      await findPoolMiners(fakeRouting(self, table, 200), 'n', { model: MODEL }, { signal: controller.signal })
    } catch (err) {
      thrown = err
    }
    expect(thrown?.message).to.equal('caller gave up')
  })

  it('providePoolKeys provides the four keys and counts the peers that stored each', async () => {
    const provided: string[] = []
    const dht = {
      async * provide (key: CID) {
        provided.push(key.toString())
        yield { name: 'FINAL_PEER' }
        yield { name: 'PEER_RESPONSE', messageType: 'ADD_PROVIDER' }
        yield { name: 'PEER_RESPONSE', messageType: 'ADD_PROVIDER' }
        yield { name: 'QUERY_ERROR' }
      }
    }
    const advert = { model: MODEL, hardwareClass: 'cpu', level: 0 }
    expect(await providePoolKeys(dht, 'n', advert)).to.deep.equal([2, 2, 2, 2])
    expect(provided).to.deep.equal(poolKeysFor('n', advert).map(String))
  })
})

describe('node pool view: the selection input', () => {
  const heartbeatMs = 1000
  const now = 1_700_000_100_000

  async function view (): Promise<{ pool: PoolView, addr(n: number): string }> {
    const pool = new PoolView(heartbeatMs)
    const p = await peer()
    // miner 1 free, 2 reserved by session 7, 3 reserved by session 8, 4 free but silent for too long
    pool.onHeartbeat(f.heartbeat({ node: f.address(1) }), p, now)
    pool.onHeartbeat(f.heartbeat({ node: f.address(2), reservedBySession: 7n, reservedUntilMs: BigInt(now + 30_000) }), p, now)
    pool.onHeartbeat(f.heartbeat({ node: f.address(3), reservedBySession: 8n }), p, now)
    pool.onHeartbeat(f.heartbeat({ node: f.address(4) }), p, now - 10 * heartbeatMs)
    return { pool, addr: (n) => bytesToHex(f.address(n)) }
  }

  it('excludes miners reserved by another session and unhealthy ones, keeping every index', async () => {
    const { pool, addr } = await view()
    const recs = pool.records(7n, now)
    expect(recs.map(r => r.id)).to.deep.equal([1, 2, 3, 4].map(addr))
    expect(recs.map(r => r.reserved)).to.deep.equal([false, false, true, false])
    expect(recs.map(r => r.healthy)).to.deep.equal([true, true, true, false])
    expect(pool.records(8n, now).map(r => r.reserved)).to.deep.equal([false, true, false, false])
    expect(pool.records(9n, now).map(r => r.reserved)).to.deep.equal([false, true, true, false])
  })

  it('a draw for session 9 only ever picks the free, healthy miner', async () => {
    const { pool, addr } = await view()
    const snapshot = poolFromRecords(pool.records(9n, now), { model: 'tiny-llama' })
    expect(snapshot.pool.countSelectable()).to.equal(1)
    for (let i = 0; i < 50; i++) {
      const seed = new Uint8Array(32).fill(i + 1)
      expect(snapshot.ids[selectMiners(snapshot.pool, seed, 1)[0]]).to.equal(addr(1))
    }
    // session 7 may also use the miner it reserved
    const own = poolFromRecords(pool.records(7n, now), { model: 'tiny-llama' })
    expect(own.pool.countSelectable()).to.equal(2)
  })

  it('draws a task\'s round 0 from the view as the leader would from the same records, or nothing when it cannot fill the places', async () => {
    const { pool, addr } = await view()
    const chainSeed = new Uint8Array(32).fill(9)
    const task = { sessionId: 7n, taskId: 42n, model: 'tiny-llama', chainSeed, count: 2 }
    const snapshot = poolFromRecords(pool.records(7n, now), { model: 'tiny-llama' })
    const expected = Array.from(selectMiners(snapshot.pool, selectionSeed(chainSeed, 42n), 2), i => snapshot.ids[i])
    expect(pool.draw(task, now)).to.deep.equal(expected)
    expect([...pool.draw(task, now)].sort()).to.deep.equal([addr(1), addr(2)])
    // session 9 has one selectable miner: one place is filled, two are not
    expect(pool.draw({ ...task, sessionId: 9n, count: 1 }, now)).to.deep.equal([addr(1)])
    expect(pool.draw({ ...task, sessionId: 9n }, now)).to.deep.equal([])
  })

  it('a miner that frees itself is selectable again from its next heartbeat', async () => {
    const { pool, addr } = await view()
    pool.onHeartbeat(f.heartbeat({ node: f.address(3), reservedBySession: 0n, seq: 2n, timestampMs: 1_700_000_000_001n }), await peer(), now + 500)
    const snapshot = poolFromRecords(pool.records(9n, now + 500), { model: 'tiny-llama' })
    expect(snapshot.ids.filter((_, i) => snapshot.pool.effectiveWeight(i) > 0)).to.deep.equal([addr(1), addr(3)])
  })

  it('keeps a miner live for three of its own advertised periods, else three of the view\'s', async () => {
    const pool = new PoolView(heartbeatMs)
    const p = await peer()
    pool.onHeartbeat(f.heartbeat({ node: f.address(1), intervalMs: 60_000 }), p, now)
    pool.onHeartbeat(f.heartbeat({ node: f.address(2) }), p, now)
    // a period beyond what a heartbeat may carry counts as the longest allowed
    pool.onHeartbeat(f.heartbeat({ node: f.address(3), intervalMs: 2 ** 31 }), p, now)
    const healthy = (at: number): boolean[] => [1, 2, 3].map(n => pool.healthy(pool.get(bytesToHex(f.address(n))) as PoolEntry, at))
    expect(healthy(now + 3 * heartbeatMs)).to.deep.equal([true, true, true])
    expect(healthy(now + 3 * heartbeatMs + 1)).to.deep.equal([true, false, true])
    expect(healthy(now + 180_000)).to.deep.equal([true, false, true])
    expect(healthy(now + 180_001)).to.deep.equal([false, false, true])
    expect(healthy(now + 3 * 60 * 60_000)).to.deep.equal([false, false, true])
    expect(healthy(now + 3 * 60 * 60_000 + 1)).to.deep.equal([false, false, false])
  })

  it('reads the reservation out of a heartbeat', () => {
    expect(reservationOf(f.heartbeat())).to.equal(undefined)
    expect(reservationOf(f.heartbeat({ reservedBySession: 5n }))).to.deep.equal({ sessionId: 5n })
    expect(reservationOf(f.heartbeat({ reservedBySession: 5n, reservedUntilMs: 99n }))).to.deep.equal({ sessionId: 5n, untilMs: 99 })
    expect(availableTo(f.heartbeat({ reservedBySession: 5n }), 5n)).to.equal(true)
    expect(availableTo(f.heartbeat({ reservedBySession: 5n }), 6n)).to.equal(false)
    expect(availableTo(f.heartbeat(), 6n)).to.equal(true)
  })

  it('the reservation end travels in the heartbeat and is only valid with a session', () => {
    const h = f.heartbeat({ reservedBySession: 5n, reservedUntilMs: 1_700_000_030_000n })
    const back = decoders.heartbeat(Heartbeat.encode(h))
    expect(back.reservedUntilMs).to.equal(1_700_000_030_000n)
    checkHeartbeat(back)
    expect(decoders.heartbeat(Heartbeat.encode(f.heartbeat())).reservedUntilMs).to.equal(undefined)
    expect(() => { checkHeartbeat(f.heartbeat({ reservedUntilMs: 5n })) }).to.throw().with.property('name', 'InvalidFieldError')
  })
})

describe('node pool view: DHT discovery', () => {
  it('looks a model up and dials the miners found while no healthy miner of it is in view', async () => {
    const self = await peer()
    const a = await peer()
    const b = await peer()
    const table = new Map([[poolKey('n', { model: 'tiny-llama' }).toString(), [
      { id: a, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')] },
      { id: b, multiaddrs: [] }
    ]]])
    const dialled: string[] = []
    const merged: string[] = []
    const libp2p = {
      ...fakeRouting(self, table),
      getConnections: () => [],
      peerStore: { merge: async (id: PeerId) => { merged.push(id.toString()) } },
      dial: async (id: PeerId) => { dialled.push(id.toString()) }
    }
    const pool = new PoolView(1000)
    const lookups: number[] = []
    const discovery = pool.discover({ libp2p, network: 'n', models: ['tiny-llama'], intervalMs: 60_000, onLookup: (_, found) => { lookups.push(found.length) } })
    try {
      const found = await discovery.lookup('tiny-llama')
      expect(found.map(m => m.peerId.toString())).to.deep.equal([a.toString(), b.toString()])
      expect(dialled).to.include.members([a.toString(), b.toString()])
      expect(merged).to.deep.equal([a.toString()])
      expect(lookups.length).to.be.greaterThan(0)
      // once a healthy miner of the model is in view, the timer does not look up again
      pool.onHeartbeat(f.heartbeat({ models: ['tiny-llama'] }), a)
      expect(pool.serving('tiny-llama')).to.have.length(1)
      expect(pool.serving('other')).to.have.length(0)
    } finally {
      discovery.stop()
    }
  })
})
