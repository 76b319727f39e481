/**
 * A miner's pool keys on the DHT: the keys of its (model, hardware class,
 * level) provided at start, again soon while no DHT peer has taken them (the
 * routing table fills after start), then every interval, the level re-read
 * each time. A changed advert is provided at once, and kad-dht stops
 * re-providing the old one's keys (their records expire by themselves).
 */
import { logger } from '@libp2p/logger'
import { poolKeysFor, providePoolKeys } from '../../../protocols/pool/index.ts'
import type { PoolAdvert } from '../../../protocols/pool/index.ts'
import type { CortensorNode } from '../../node.ts'

const log = logger('cortensor:miner')

const PROVIDE_RETRY_MIN_MS = 500
const PROVIDE_RETRY_MAX_MS = 30_000
const PROVIDE_TIMEOUT_MS = 60_000

export interface PoolKeysInit {
  /** the DHT (through libp2p) and the network name the keys are under */
  node: { libp2p: CortensorNode['libp2p'], config: Pick<CortensorNode['config'], 'network'> }
  /** how often to provide again once the keys are stored */
  intervalMs: number
  /** what to provide, read each time: one advert per model served */
  adverts(): PoolAdvert[]
  /** bring the advert up to date (the level on chain) before each round */
  refresh(): Promise<unknown>
  say(line: string): void
}

export class PoolKeys {
  private readonly init: PoolKeysInit
  private timer?: ReturnType<typeof setTimeout>
  private retryMs = PROVIDE_RETRY_MIN_MS
  private readonly abort = new AbortController()
  private provided?: PoolAdvert[]
  private stopped = false

  constructor (init: PoolKeysInit) {
    this.init = init
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.abort.abort()
  }

  /** Provide the current advert's keys now, then on schedule. */
  async provide (): Promise<void> {
    if (this.stopped || this.init.node.libp2p.status !== 'started') {
      return
    }
    clearTimeout(this.timer)
    let next = this.init.intervalMs
    try {
      const { libp2p, config } = this.init.node
      await this.init.refresh().catch((err) => { log('reading the level failed: %s', err?.message) })
      const adverts = this.init.adverts()
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)])
      const stored: number[] = []
      for (const advert of adverts) {
        stored.push(...await providePoolKeys(libp2p.services.dht, config.network, advert, { signal }))
      }
      const advert = adverts[0]
      if (stored.some(n => n === 0)) {
        next = this.backOff()
      } else if (advert != null) {
        const previous = this.provided
        this.provided = adverts
        this.retryMs = PROVIDE_RETRY_MIN_MS
        if (previous?.[0] == null || previous[0].level !== advert.level || previous[0].hardwareClass !== advert.hardwareClass) {
          this.init.say(`pool keys provided on the DHT (${advert.hardwareClass}, level ${advert.level}${adverts.length > 1 ? `, ${adverts.length} models` : ''}; ${Math.min(...stored)}+ peers each)`)
        }
        if (previous != null) {
          await this.cancelStale(previous, adverts)
        }
      }
    } catch (err: any) {
      if (this.stopped) {
        return
      }
      log('providing pool keys failed: %s', err?.message)
      next = this.backOff()
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => { void this.provide() }, next)
    }
  }

  private backOff (): number {
    const wait = this.retryMs
    this.retryMs = Math.min(2 * this.retryMs, PROVIDE_RETRY_MAX_MS)
    return wait
  }

  /** Stop kad-dht re-providing the keys of an advert the miner no longer matches (a level change). */
  private async cancelStale (previous: PoolAdvert[], current: PoolAdvert[]): Promise<void> {
    const { libp2p, config } = this.init.node
    const keep = new Set(current.flatMap(a => poolKeysFor(config.network, a)).map(k => k.toString()))
    for (const key of previous.flatMap(a => poolKeysFor(config.network, a)).filter(k => !keep.has(k.toString()))) {
      await libp2p.services.dht.cancelReprovide(key).catch(() => {})
    }
  }
}
