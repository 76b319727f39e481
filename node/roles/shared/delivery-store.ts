/**
 * What a node's draws are made from beyond the live heartbeats, kept in its
 * datastore per chain like its task records (records.ts `chainNamespace`):
 * the delivery book (protocols/pool/delivery.ts: the measurements the
 * leader's verdicts carried, the blocks that settled their tasks) and the
 * reputation scores the verdicts gave. A restarted node loads them before it
 * takes any gossip, so its draws weigh and filter miners as before the
 * restart, and as the other oracles', at once. Writes are gathered
 * (DELIVERY_SAVE_MS) and the last one made on `stop()`.
 */
import { logger } from '@libp2p/logger'
import { DELIVERY_SAVE_MS } from './constants.ts'
import { RecordStore } from './records.ts'
import type { DeliverySnapshot } from '../../../protocols/pool/delivery.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'
import type { Datastore } from 'interface-datastore'

const log = logger('cortensor:delivery')
/** the one record under the chain's prefix */
const BOOK_ID = 'book'

/** The stored record. */
export interface StoredDelivery {
  delivery: DeliverySnapshot
  /** reputation by miner address */
  reputation?: Record<string, number>
}

export interface DeliveryStoreInit {
  datastore: Datastore
  /** whose book: `/cortensor/<role>/delivery/<chain>/book` */
  role: string
  pool: Pick<PoolView, 'delivery' | 'reputations' | 'restoreReputations' | 'onReputationChange'>
  /** how long changes gather before a write; default DELIVERY_SAVE_MS */
  saveMs?: number
}

export class DeliveryStore {
  private readonly init: DeliveryStoreInit
  private readonly records: RecordStore<StoredDelivery>
  private timer?: ReturnType<typeof setTimeout>
  private writing: Promise<void> = Promise.resolve()
  private loaded = false
  private stopped = false

  constructor (init: DeliveryStoreInit) {
    this.init = init
    this.records = new RecordStore(init.datastore, `/cortensor/${init.role}/delivery`)
  }

  /** Load this chain's stored book and scores into the node's pool (`chainNamespace`), then keep them stored as they change. */
  async load (namespace: string): Promise<void> {
    const { pool } = this.init
    this.records.useChain(namespace)
    for await (const { id, value } of this.records.all()) {
      if (id === BOOK_ID) {
        pool.delivery.restore(value.delivery ?? { samples: {}, settled: [] })
        pool.restoreReputations(value.reputation ?? {})
      }
    }
    this.loaded = true
    pool.delivery.onChange = () => { this.schedule() }
    pool.onReputationChange = () => { this.schedule() }
  }

  private schedule (): void {
    if (this.timer != null || this.stopped) {
      return
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.save()
    }, this.init.saveMs ?? DELIVERY_SAVE_MS)
  }

  /** Write the book now (after any write in progress). */
  async save (): Promise<void> {
    if (!this.loaded) {
      return
    }
    this.writing = this.writing.then(async () => {
      await this.records.put(BOOK_ID, { delivery: this.init.pool.delivery.snapshot(), reputation: this.init.pool.reputations() })
    }).catch((err) => { log.error('storing the delivery book: %s', err?.message ?? err) })
    await this.writing
  }

  /** No more scheduled writes; the book as it is now is written. */
  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    this.init.pool.delivery.onChange = undefined
    this.init.pool.onReputationChange = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    await this.save()
  }
}
