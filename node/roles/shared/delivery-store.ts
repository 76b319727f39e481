/**
 * A node's delivery book (protocols/pool/delivery.ts) kept in its datastore,
 * per chain like its task records (records.ts `chainNamespace`): the
 * measurements the leader's verdicts carried and the blocks that settled
 * their tasks. A restarted node loads them before it takes any gossip, so
 * its draws count the same measurements as before the restart, and as the
 * other oracles', at once. Writes are gathered (DELIVERY_SAVE_MS) and the
 * last one made on `stop()`.
 */
import { logger } from '@libp2p/logger'
import { DELIVERY_SAVE_MS } from './constants.ts'
import { RecordStore } from './records.ts'
import type { DeliveryBook, DeliverySnapshot } from '../../../protocols/pool/delivery.ts'
import type { Datastore } from 'interface-datastore'

const log = logger('cortensor:delivery')
/** the one record under the chain's prefix */
const BOOK_ID = 'book'

export interface DeliveryStoreInit {
  datastore: Datastore
  /** whose book: `/cortensor/<role>/delivery/<chain>/book` */
  role: string
  book: DeliveryBook
  /** how long changes gather before a write; default DELIVERY_SAVE_MS */
  saveMs?: number
}

export class DeliveryStore {
  private readonly init: DeliveryStoreInit
  private readonly records: RecordStore<DeliverySnapshot>
  private timer?: ReturnType<typeof setTimeout>
  private writing: Promise<void> = Promise.resolve()
  private loaded = false
  private stopped = false

  constructor (init: DeliveryStoreInit) {
    this.init = init
    this.records = new RecordStore(init.datastore, `/cortensor/${init.role}/delivery`)
  }

  /** Load this chain's stored book into the node's (`chainNamespace`), then keep it stored as it changes. */
  async load (namespace: string): Promise<void> {
    this.records.useChain(namespace)
    for await (const { id, value } of this.records.all()) {
      if (id === BOOK_ID) {
        this.init.book.restore(value)
      }
    }
    this.loaded = true
    this.init.book.onChange = () => { this.schedule() }
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
      await this.records.put(BOOK_ID, this.init.book.snapshot())
    }).catch((err) => { log.error('storing the delivery book: %s', err?.message ?? err) })
    await this.writing
  }

  /** No more scheduled writes; the book as it is now is written. */
  async stop (): Promise<void> {
    if (this.stopped) {
      return
    }
    this.stopped = true
    this.init.book.onChange = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    await this.save()
  }
}
