/**
 * The composition root: one node process, one identity, one libp2p node
 * (created by Helia on the node's datastore), the roles it was asked to run,
 * and an optional HTTP server. `start()` and `stop()` are idempotent and
 * `stop()` undoes everything `start()` did.
 */
import { join } from 'node:path'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { TypedEventEmitter } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { FsBlockstore } from 'blockstore-fs'
import { LevelDatastore } from 'datastore-level'
import { createHeliaLight } from 'helia'
import { Registry } from 'prom-client'
import { RecordContradictions } from '../protocols/gossip/scoring.ts'
import { ConfigError } from './config.ts'
import { NodeNotStartedError } from './errors.ts'
import { startHttpServer } from './http/server.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { meshOptions } from './mesh.ts'
import { useStringPeerSetAlgebra } from './peer-sets.ts'
import { ContentStore, blockProtocol } from './storage.ts'
import type { NodeConfig } from './config.ts'
import type { HealthReport, HttpServer } from './http/server.ts'
import type { Identity } from './identity.ts'
import type { MeshServices } from './mesh.ts'
import type { Libp2p } from '@libp2p/interface'
import type { SingleKadDHT } from '@libp2p/kad-dht'
import type { FastifyInstance } from 'fastify'
import type { Helia } from 'helia'

export type { HealthReport } from './http/server.ts'

const log = logger('cortensor:node')

export interface NodeEvents {
  /** one human-readable line per lifecycle step (the CLI prints them on stderr) */
  lifecycle: CustomEvent<string>
}

/** What `attach` started on top of the mesh (the roles); stopped first when the node stops. */
export interface NodeAttachment {
  stop(): Promise<void>
}

export interface NodeOptions {
  /**
   * Runs once the mesh is up and, when the node has an HTTP server, before it
   * listens, so roles can add their routes to `http`.
   */
  attach?(node: CortensorNode, http?: FastifyInstance): Promise<NodeAttachment | undefined>
}

export class CortensorNode extends TypedEventEmitter<NodeEvents> {
  readonly config: NodeConfig
  readonly registry = new Registry()
  /** authors of gossip this node found contradicting the chain or its records (their peer score drops) */
  readonly contradictions = new RecordContradictions()
  private readonly options: NodeOptions
  private attachment?: NodeAttachment
  private identity?: Identity
  private helia?: Helia & { libp2p: Libp2p<MeshServices> }
  private http?: HttpServer
  private level?: LevelDatastore
  private storage?: ContentStore
  private startedAt = 0
  private starting?: Promise<void>
  private stopping?: Promise<void>

  constructor (config: NodeConfig, options: NodeOptions = {}) {
    super()
    this.config = config
    this.options = options
  }

  get libp2p (): Libp2p<MeshServices> {
    return this.started().libp2p
  }

  get store (): ContentStore {
    if (this.storage == null) {
      throw new NodeNotStartedError()
    }
    return this.storage
  }

  get peerIdentity (): Identity {
    if (this.identity == null) {
      throw new NodeNotStartedError()
    }
    return this.identity
  }

  /** The node's datastore (LevelDB in the data dir): roles keep their accepted work here so it survives restarts. */
  get datastore (): LevelDatastore {
    if (this.level == null) {
      throw new NodeNotStartedError()
    }
    return this.level
  }

  /** The HTTP server's bound port, once started (undefined when the node has no HTTP server). */
  get httpPort (): number | undefined {
    return this.http?.port
  }

  isStarted (): boolean {
    return this.helia != null && this.stopping == null
  }

  async start (): Promise<void> {
    await this.stopping
    this.starting ??= this.doStart()
    return this.starting
  }

  private started (): Helia & { libp2p: Libp2p<MeshServices> } {
    if (this.helia == null) {
      throw new NodeNotStartedError()
    }
    return this.helia
  }

  /** Report one lifecycle line (roles use it too). */
  say (line: string): void {
    log(line)
    this.safeDispatchEvent('lifecycle', { detail: line })
  }

  private async doStart (): Promise<void> {
    try {
      await this.startParts()
    } catch (err) {
      await this.teardown().catch(() => {})
      this.starting = undefined
      throw translateStartError(err, this.config)
    }
  }

  private async startParts (): Promise<void> {
    const { config } = this
    const identity = await loadOrCreateIdentity(config.dataDir, config.keyFile)
    this.identity = identity
    this.say(`${identity.created ? 'created' : 'loaded'} node key: peer ${identity.peerId} / address ${identity.address}`)

    const datastore = new LevelDatastore(join(config.dataDir, 'datastore'))
    await datastore.open()
    this.level = datastore
    const blockstore = new FsBlockstore(join(config.dataDir, 'blocks'))
    const helia = withBitswap(withLibp2pLight(createHeliaLight({ datastore, blockstore }),
      meshOptions({ config, privateKey: identity.libp2pKey, registry: this.registry, contradictions: this.contradictions })))
    this.helia = helia as unknown as Helia & { libp2p: Libp2p<MeshServices> }
    await helia.start()
    if (!useStringPeerSetAlgebra(this.helia.libp2p.services.dht)) {
      log('kad-dht\'s peer sets are not the expected shape: their set algebra decodes peer ids')
    }
    this.storage = new ContentStore(helia, { announce: config.announceBlocks })
    await this.storage.serveBlocks(helia.libp2p, blockProtocol(config.network))
    this.startedAt = Date.now()
    this.say(`mesh up as ${config.roles.join('+')} on ${this.libp2p.getMultiaddrs().map(String).join(' ') || '(no listen address)'}`)

    const attach = this.options.attach
    if (config.httpPort != null) {
      this.http = await startHttpServer({
        node: this,
        host: config.httpHost,
        port: config.httpPort,
        setup: attach == null ? undefined : async (app) => { this.attachment = await attach(this, app) }
      })
      this.say(`http on http://${config.httpHost}:${this.http.port}`)
    } else if (attach != null) {
      this.attachment = await attach(this)
    }
  }

  async stop (): Promise<void> {
    if (this.starting == null) {
      return
    }
    this.stopping ??= this.doStop()
    return this.stopping
  }

  private async doStop (): Promise<void> {
    try {
      await this.starting?.catch(() => {})
      await this.teardown()
      this.say('stopped')
    } finally {
      this.starting = undefined
      this.stopping = undefined
    }
  }

  /** Undo whatever start() got done, in reverse order. */
  private async teardown (): Promise<void> {
    try {
      await this.attachment?.stop()
    } finally {
      this.attachment = undefined
      await this.closeParts()
    }
  }

  private async closeParts (): Promise<void> {
    try {
      await this.http?.close()
    } finally {
      this.http = undefined
      try {
        await this.storage?.close()
        await this.helia?.stop()
      } finally {
        this.helia = undefined
        this.storage = undefined
        this.registry.clear()
        // Helia does not close the datastore it was given; release the LevelDB lock whatever happened above
        await this.level?.close()
        this.level = undefined
      }
    }
  }

  health (): HealthReport {
    const libp2p = this.libp2p
    const dht = libp2p.services.dht as SingleKadDHT
    return {
      status: 'ok',
      peerId: libp2p.peerId.toString(),
      address: this.peerIdentity.address,
      roles: this.config.roles,
      addresses: libp2p.getMultiaddrs().map(String),
      connectedPeers: libp2p.getPeers().length,
      dht: { mode: dht.getMode(), routingTableSize: dht.routingTable?.size ?? 0 },
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000)
    }
  }
}

/** Start errors caused by configuration become ConfigErrors naming the option. */
function translateStartError (err: any, config: NodeConfig): Error {
  if (err?.exitCode === 2) {
    return err
  }
  const text = `${err?.message ?? ''} ${err?.cause?.message ?? ''} ${err?.code ?? ''}`
  if (/EADDRINUSE|address already in use/i.test(text)) {
    return new ConfigError('--listen', `an address is already in use (${config.listen.join(', ')})`)
  }
  if (/EADDRNOTAVAIL|EACCES/i.test(text)) {
    return new ConfigError('--listen', `cannot listen on ${config.listen.join(', ')} (${err.code ?? err.message})`)
  }
  if (/NoValidAddressesError|no valid addresses|could not listen/i.test(text)) {
    return new ConfigError('--listen', `cannot listen on ${config.listen.join(', ')}: ${err.message}`)
  }
  if (err?.name === 'OpenFailedError' || (/LOCK|lock/.test(text) && /level|datastore|IO error|database/i.test(text))) {
    const cause = String(err?.cause?.message ?? err?.message ?? '').split('\n')[0]
    return new ConfigError('--data-dir', `${config.dataDir} is in use by another running node (or not writable): ${cause}`)
  }
  return err
}

export async function createNode (config: NodeConfig, options?: NodeOptions): Promise<CortensorNode> {
  return new CortensorNode(config, options)
}
