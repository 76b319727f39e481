/**
 * What a miner advertises: a heartbeat on its model's topic every interval
 * (and whenever its reservation changes, and soon after a peer it is
 * connected to joins that topic: a newcomer found it on the DHT and dialled
 * it, and should not wait a whole period to see it), and its pool keys on
 * the DHT. The
 * hardware class is the hardware probe's unless configured, the speed and
 * hardware facts are the capability benchmark's (node/inference/capability.ts,
 * cached per model and hardware); the level is the
 * node's record on chain unless configured, read again at every re-provide
 * and shortly after a verdict naming the miner (settlement may change it).
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import { repeatingTask } from '@libp2p/utils'
import { bytesToHex } from 'viem'
import { getNode } from '../../../contracts/index.ts'
import { publishMessage } from '../../../protocols/gossip/index.ts'
import { MAX_GPU_DEVICES_PER_HEARTBEAT, addressToBytes } from '../../../protocols/messages/index.ts'
import { buildTopic } from '../../../protocols/topics.ts'
import { measureCapability } from '../../inference/capability.ts'
import { classifyHardware, probeHardware } from '../../inference/hardware.ts'
import { PoolKeys } from '../shared/pool-keys.ts'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_PROVIDE_INTERVAL_MS, JOIN_HEARTBEAT_MIN_GAP_MS, LEVEL_RECHECK_AFTER_VERDICT_MS } from './constants.ts'
import type { ActiveReservation, ChainReader } from './reservation.ts'
import type { MinerBehaviour, MinerRoleInit } from './types.ts'
import type { Heartbeat, Verdict } from '../../../protocols/messages/index.ts'
import type { PoolAdvert } from '../../../protocols/pool/index.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'
import type { Capability } from '../../inference/capability.ts'
import type { LlamaInferenceEngine } from '../../inference/index.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { SubscriptionChangeData } from '@libp2p/gossipsub'
import type { RepeatingTask } from '@libp2p/utils'
import type { Address, Hex } from 'viem'

const log = logger('cortensor:miner')

const MAX_UINT32 = 0xffff_ffff

export interface MinerAdvertInit {
  /** the miner's settings, read each time (`chain` may be attached after start) */
  settings: Pick<MinerRoleInit, 'node' | 'engine' | 'hardwareClass' | 'level' | 'chain' | 'heartbeatIntervalMs' | 'provideIntervalMs' | 'tokensPerSec' | 'capabilityDir'>
  /** the advertised speed may be a lie (a fault) */
  behaviour: Pick<MinerBehaviour, 'advertisedTokensPerSec'>
  /** this miner's address, lower case */
  address: string
  modelId: string
  /** every model served (`modelId` first): listed in each heartbeat, which goes out on each model's topic */
  modelIds?: string[]
  /** the engines of `modelIds`: the heartbeat's context is the smallest of theirs */
  engines?: Array<Pick<LlamaInferenceEngine, 'contextSize'>>
  /** gossip topic prefix */
  prefix: string
  /** the miner's pool view: gossip does not deliver its own heartbeats, so they go in here */
  pool: PoolView
  /** tasks the miner works on now */
  load(): number
  /** the session the miner is reserved for, if any */
  reservation(): ActiveReservation | undefined
  say(line: string): void
}

/** The chain, read-only, if the miner has one. */
export function chainReader (chain?: Pick<ChainContext, 'wallet' | 'hub'>): ChainReader | undefined {
  return chain == null ? undefined : { client: chain.wallet, hub: chain.hub }
}

export class MinerAdvert {
  private readonly init: MinerAdvertInit
  private readonly poolKeys: PoolKeys
  private hardwareClass = 'cpu'
  private level = 0
  private capability?: Capability
  /**
   * Heartbeat sequence: from the start time in ms, one up per heartbeat, so a
   * restarted miner's heartbeats come after its earlier ones (from 0 again,
   * every node would drop them as duplicates of statements already seen)
   */
  private seq = BigInt(Date.now())
  private heartbeats?: RepeatingTask
  /** the pending re-read of the level after a verdict */
  private levelRecheck?: AbortController
  private readonly lifetime = new AbortController()
  /** when the last heartbeat went out (ms since the epoch) */
  private lastBeatAt = 0
  /** the heartbeat due for a peer that joined the topic */
  private joinBeat?: ReturnType<typeof setTimeout>
  private readonly onSubscriptionChange = (evt: CustomEvent<SubscriptionChangeData>): void => {
    const topics = new Set(this.models.map(model => buildTopic('heartbeat', model, { prefix: this.init.prefix })))
    if (evt.detail.subscriptions.some(s => s.subscribe && topics.has(s.topic))) {
      this.beatForNewcomer()
    }
  }

  constructor (init: MinerAdvertInit) {
    this.init = init
    this.poolKeys = new PoolKeys({
      node: init.settings.node,
      intervalMs: init.settings.provideIntervalMs ?? DEFAULT_PROVIDE_INTERVAL_MS,
      adverts: () => this.adverts,
      refresh: async () => this.refreshLevel(),
      say: (line) => { init.say(line) }
    })
  }

  /** Settle the hardware class, the measured capability and the level to start from, before anything is advertised. */
  async prepare (): Promise<void> {
    this.hardwareClass = this.init.settings.hardwareClass ?? await this.probeHardwareClass()
    this.level = this.init.settings.level ?? 0
    const { engine, node, capabilityDir } = this.init.settings
    try {
      const c = this.capability = await measureCapability(engine, { dir: capabilityDir ?? join(node.config.dataDir, 'capability') })
      this.init.say(`capability of model ${c.modelId.slice(0, 10)}…: ${c.tokensPerSecond.toFixed(1)} tokens/s, first token ${c.firstTokenMs.toFixed(1)} ms on ${c.facts.backend}${c.facts.gpuDevices.length > 0 ? ` (${c.facts.gpuDevices.join(', ')})` : ''}, ${c.facts.threads} threads, ${c.facts.sequences} sequences${c.cached ? ' (cached)' : ''}`)
    } catch (err: any) {
      log('capability benchmark failed: %s', err?.message)
    }
  }

  /** The capability measured at start (undefined if the benchmark failed). */
  get measured (): Capability | undefined {
    return this.capability
  }

  /** The speed heartbeats advertise: configured, else a lie (the fault), else measured; 0 when unknown. */
  private advertisedTokensPerSec (): number {
    return this.init.behaviour.advertisedTokensPerSec(this.init.settings.tokensPerSec) ?? this.capability?.tokensPerSecond ?? 0
  }

  /** Heartbeats from now on, and the pool keys on the DHT. */
  start (): void {
    const interval = this.init.settings.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS
    this.heartbeats = repeatingTask(async () => { await this.heartbeat() }, interval)
    this.heartbeats.start()
    this.init.settings.node.libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    void this.heartbeat()
    void this.poolKeys.provide()
  }

  stop (): void {
    this.lifetime.abort()
    this.heartbeats?.stop()
    this.init.settings.node.libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    clearTimeout(this.joinBeat)
    this.poolKeys.stop()
  }

  /**
   * A connected peer joined a heartbeat topic of this miner: beat now, or
   * JOIN_HEARTBEAT_MIN_GAP_MS after the last beat, so peers joining (or a
   * peer joining and leaving over and over) cost at most one heartbeat per
   * gap. The periodic heartbeats go on as before.
   */
  private beatForNewcomer (): void {
    if (this.joinBeat != null || this.lifetime.signal.aborted) {
      return
    }
    const waitMs = Math.max(0, this.lastBeatAt + JOIN_HEARTBEAT_MIN_GAP_MS - Date.now())
    this.joinBeat = setTimeout(() => {
      this.joinBeat = undefined
      void this.heartbeat()
    }, waitMs)
  }

  /** What the miner advertises in its heartbeats and under its DHT pool keys. */
  get advert (): PoolAdvert {
    return { model: this.init.modelId, hardwareClass: this.hardwareClass, level: this.level }
  }

  /** The advert of every model served (pool keys for each). */
  get adverts (): PoolAdvert[] {
    return this.models.map(model => ({ model, hardwareClass: this.hardwareClass, level: this.level }))
  }

  private get models (): string[] {
    return this.init.modelIds ?? [this.init.modelId]
  }

  /**
   * The last heartbeat of a miner that stops: fully loaded, so draws pass it over (they take a busy miner
   * only when the others cannot fill the task) until observers stop counting it live. A killed miner
   * sends none.
   */
  async farewell (): Promise<void> {
    await this.heartbeat({ leaving: true })
  }

  async heartbeat (options: { leaving?: boolean } = {}): Promise<void> {
    if (this.lifetime.signal.aborted) {
      return
    }
    const { settings, address, prefix } = this.init
    this.lastBeatAt = Date.now()
    const reservation = this.init.reservation()
    const contextSize = Math.min(...(this.init.engines ?? [settings.engine]).map(e => e.contextSize))
    const heartbeat: Heartbeat = {
      node: addressToBytes(address as Hex),
      models: this.models,
      hardwareClass: this.hardwareClass,
      level: this.level,
      tokensPerSecondMilli: Math.min(MAX_UINT32, Math.round(this.advertisedTokensPerSec() * 1000)),
      // the share of the engine's parallel sequences in use
      loadPermille: options.leaving === true ? 1000 : Math.min(1000, Math.round(this.init.load() * 1000 / Math.max(1, settings.engine.sequences ?? 1))),
      reservedBySession: reservation?.sessionId ?? 0n,
      reservedUntilMs: reservation?.untilMs != null ? BigInt(reservation.untilMs) : undefined,
      // routers and clients refuse a task whose max_tokens cannot fit before submitting it
      contextTokens: contextSize > 0 ? contextSize : undefined,
      timestampMs: BigInt(Date.now()),
      seq: this.seq++,
      intervalMs: settings.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      ...this.hardwareFields()
    }
    // gossip does not deliver a node's own messages: its own draws need its own entry
    this.init.pool.onHeartbeat(heartbeat, settings.node.libp2p.peerId)
    // on each model's topic (where that model's oracles and clients listen), each copy its own sequence number
    for (const [i, model] of this.models.entries()) {
      try {
        await publishMessage(settings.node.libp2p.services.pubsub, 'heartbeat', i === 0 ? heartbeat : { ...heartbeat, seq: this.seq++ }, { prefix, model })
      } catch (err: any) {
        log('heartbeat failed: %s', err?.message)
      }
    }
  }

  /** The measured capability's fields of a heartbeat (none before the benchmark ran). */
  private hardwareFields (): Pick<Heartbeat, 'firstTokenMs' | 'hardware'> {
    const c = this.capability
    if (c == null) {
      return {}
    }
    return {
      firstTokenMs: Math.min(MAX_UINT32, Math.ceil(c.firstTokenMs)),
      hardware: {
        backend: c.facts.backend,
        gpuDevices: c.facts.gpuDevices.slice(0, MAX_GPU_DEVICES_PER_HEARTBEAT),
        vramBytes: BigInt(c.facts.vramBytes),
        threads: c.facts.threads,
        sequences: c.facts.sequences
      }
    }
  }

  /** A verdict about this miner is settled shortly after: its level may change, so look again then. */
  onVerdict (m: Verdict): void {
    const { settings, address } = this.init
    if (this.lifetime.signal.aborted || settings.level != null || chainReader(settings.chain) == null || !m.miners.some(v => bytesToHex(v.miner).toLowerCase() === address)) {
      return
    }
    this.levelRecheck?.abort()
    const recheck = this.levelRecheck = new AbortController()
    void sleep(LEVEL_RECHECK_AFTER_VERDICT_MS, undefined, { signal: AbortSignal.any([recheck.signal, this.lifetime.signal]) })
      .then(async () => {
        await this.refreshLevel()
          .then(changed => { if (changed) { void this.poolKeys.provide() } })
          .catch((err) => { log('reading the level failed: %s', err?.message) })
      }, () => {})
  }

  private async probeHardwareClass (): Promise<string> {
    const llama = (this.init.settings.engine as Partial<LlamaInferenceEngine>).llama
    if (llama == null) {
      return 'cpu'
    }
    try {
      return classifyHardware(await probeHardware(llama)).hardwareClass
    } catch (err: any) {
      log('hardware probe failed: %s', err?.message)
      return 'cpu'
    }
  }

  /** Re-read the node's level on chain (unless configured); true when it changed. */
  private async refreshLevel (): Promise<boolean> {
    const chain = chainReader(this.init.settings.chain)
    if (this.init.settings.level != null || chain == null) {
      return false
    }
    const info = await getNode(chain.client, { hub: chain.hub, node: this.init.address as Address })
    if (info.level === this.level) {
      return false
    }
    this.init.say(`level ${this.level} → ${info.level} (node record on chain)`)
    this.level = info.level
    void this.heartbeat()
    return true
  }
}
