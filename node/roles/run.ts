/**
 * The roles `cortensor node start` runs on top of the mesh, from the node's
 * configuration: a miner serving a GGUF model, an oracle validating and
 * settling, a router answering HTTP with tasks of one funded session, and a
 * bootstrap relaying gossip. Bootstrap and router nodes also serve the browser
 * page at `/app/`. Every role that touches the chain signs with the node key,
 * so the node's address is the one registered, added as an oracle, or owning
 * the session. Missing or wrong chain settings fail the start with the flag
 * to fix.
 */
import { access } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { getCode } from 'viem/actions'
import { getNode, getOracles, getSession, readDeployment } from '../../contracts/index.ts'
import { ConfigError } from '../config.ts'
import { GpuUnavailableError, ModelLoadError } from '../inference/errors.ts'
import { loadProgress } from '../load-progress.ts'
import { gossipRelay } from './bootstrap/relay.ts'
import { createChainContext } from './shared/chain.ts'
import type { TaskClient } from '../../client/types.ts'
import type { NodeConfig } from '../config.ts'
import type { Embedder, LlamaInferenceEngine } from '../inference/index.ts'
import type { LoadProgressOutput } from '../load-progress.ts'
import type { CortensorNode, NodeAttachment, NodeOptions } from '../node.ts'
import type { MinerFaults } from './miner/index.ts'
import type { ChainContext } from './shared/chain.ts'
import type { PageDefaults } from '../../client/browser/serve.ts'
import type { FastifyInstance } from 'fastify'
import type { Llama } from 'node-llama-cpp'
import type { Address } from 'viem'

/** Where bootstrap and router nodes serve the browser page. */
export const PAGE_PREFIX = '/app'

export interface RoleAttachmentOptions {
  /**
   * Where model load progress goes: `node start` draws a bar on a terminal;
   * default: a line per 10 % through the node's lifecycle lines
   */
  progress?: LoadProgressOutput
}

/** The `attach` hook that starts the configured roles (see `CortensorNode`). */
export function roleAttachment (options: RoleAttachmentOptions = {}): NonNullable<NodeOptions['attach']> {
  return async (node, http) => {
    const stops: Array<() => Promise<void> | void> = []
    const attachment: NodeAttachment = {
      stop: async () => {
        for (const stop of stops.splice(0).reverse()) {
          await Promise.resolve(stop()).catch(() => {})
        }
      }
    }
    try {
      await startRoles(node, node.config, http, stops, options)
    } catch (err) {
      await attachment.stop()
      throw err
    }
    return attachment
  }
}

/** A period given in seconds (`--heartbeat-interval`), in ms; undefined: the role's default. */
function secondsToMs (s: number | undefined): number | undefined {
  return s == null ? undefined : s * 1000
}

async function startRoles (node: CortensorNode, config: NodeConfig, http: FastifyInstance | undefined, stops: Array<() => Promise<void> | void>, options: RoleAttachmentOptions): Promise<void> {
  const say = (line: string): void => { node.say(line) }
  const progress: LoadProgressOutput = options.progress ?? { tty: false, write: () => {}, line: say }
  const roles = config.roles
  const prefix = `/${config.network}`

  if (roles.includes('bootstrap')) {
    const relay = gossipRelay({ network: config.network, onLine: say })({ pubsub: node.libp2p.services.pubsub })
    stops.push(() => { relay.stop() })
  }

  // what the machine cannot do fails before the chain is dialled and any model is loaded
  const modelRole = (['miner', 'oracle'] as const).find(r => roles.includes(r))
  let llama: Llama | undefined
  if (modelRole != null) {
    if (config.models.length === 0) {
      throw new ConfigError('--model', `the ${modelRole} role needs a GGUF model file (${modelRole === 'miner' ? 'the model it serves' : 'each model whose outputs it replays'})`)
    }
    llama = await startLlama(config)
  }

  const chainRoles = roles.filter(r => r !== 'bootstrap')
  let chain: ChainContext | undefined
  if (chainRoles.length > 0) {
    chain = await connectChain(node, config, chainRoles[0])
    say(`chain ${config.rpc}: hub ${chain.hub}, signing as ${chain.address}`)
  }

  let engine: LlamaInferenceEngine | undefined
  const engines: LlamaInferenceEngine[] = []
  let modelFiles: string[] = []
  if (llama != null) {
    // a model id or CID instead of a file: fetched from the peers that serve it
    const { resolveModelFiles } = await import('../models/index.ts')
    modelFiles = await resolveModelFiles(node, config.models, { say, progress }).catch((err: any) => {
      throw /^(NoModelProvider|ModelHashMismatch|InvalidModelRecord)Error$/.test(err?.name) ? new ConfigError('--model', err.message) : err
    })
    for (const path of modelFiles) {
      const e = await loadModel(config, llama, path, say, progress)
      stops.push(async () => { await e.close() })
      if (engines.some(o => o.modelId === e.modelId)) {
        throw new ConfigError('--model', `${path} is the same model as another --model (${e.modelId})`)
      }
      engines.push(e)
    }
    engine = engines[0]
  }

  if (roles.includes('miner') && chain != null && engine != null) {
    const { miner, minerComponents } = await import('./miner/index.ts')
    const registered = await getNode(chain.wallet, { hub: chain.hub, node: chain.address })
    const unregistered = engines.filter(e => !registered.registered || (registered.roles & 1) === 0 || !registered.models.some(m => m.toLowerCase() === e.modelId.toLowerCase()))
    if (unregistered.length > 0) {
      say(`warning: ${chain.address} is not registered on the hub as a miner of ${unregistered.map(e => e.modelId).join(', ')}; oracles will not pay it for ${unregistered.length === 1 ? 'that model' : 'those models'}. ` +
        `Register with: cortensor node register --roles miner ${config.models.map(m => `--model ${m}`).join(' ')} --stake 0.1eth --key ${join(config.dataDir, 'key')} --rpc ${config.rpc}`)
    }
    const faults = minerFaults(process.env.CORTENSOR_MINER_FAULTS)
    if (faults != null) {
      say(`warning: CORTENSOR_MINER_FAULTS makes this miner misbehave on purpose (${JSON.stringify(faults)}); for fault tests and demos only`)
    }
    const role = miner({ engine, engines: engines.slice(1), domain: chain.domain, chain, modelId: engine.modelId, topicPrefix: prefix, faults, timeouts: config.queueTimeouts, heartbeatIntervalMs: secondsToMs(config.heartbeatInterval), onLine: (l) => { say(`miner: ${l}`) } })(minerComponents(node))
    await role.start()
    stops.push(async () => { await role.stop() })
    // every model served is also served as a file to miners that start with its id or CID
    const { startModelShare } = await import('../models/index.ts')
    const share = await startModelShare(node, modelFiles, say)
    stops.push(async () => { await share.stop() })
    for (const e of engines) {
      say(`miner serving ${e.modelId} (${e.threads} thread${e.threads === 1 ? '' : 's'}, ${e.sequences} sequence${e.sequences === 1 ? '' : 's'}, ${e.llama.gpu === false ? 'cpu' : e.llama.gpu})`)
    }
  }

  if (roles.includes('oracle') && chain != null && engine != null) {
    const { oracle, oracleComponents } = await import('./oracle/index.ts')
    const oracles = await getOracles(chain.wallet, { hub: chain.hub })
    if (!oracles.some(o => o.toLowerCase() === chain?.address.toLowerCase())) {
      say(`warning: ${chain.address} is not in the hub's oracle set; the hub owner adds it with: cortensor chain add-oracle ${chain.address} --key <owner key> --rpc ${config.rpc}`)
    }
    const embedders = await loadEmbedders(config, engines, say, stops)
    const role = oracle({ engines, ...embedders, sampleRate: config.sampleRate, timeouts: config.queueTimeouts, topicPrefix: prefix, onLine: (l) => { say(`oracle: ${l}`) } })(oracleComponents(node, chain))
    await role.start()
    stops.push(async () => { await role.stop() })
    say(`oracle validating ${engines.map(e => e.modelId).join(', ')}${(await role.isLeader()) ? ' (leader)' : ''}`)
  }

  let routerUrl: ((host?: string) => string) | undefined
  if (roles.includes('router') && chain != null) {
    const client = await openSessionClient(node, config, chain)
    stops.push(async () => { await client.close() })
    const { startRouterRole } = await import('./router/role.ts')
    const router = await startRouterRole(node, client, { app: http })
    stops.push(async () => { await router.close() })
    routerUrl = (host) => `http://${host ?? `${config.httpHost}:${node.httpPort ?? router.port ?? ''}`}`
    say(`router for session ${config.session} (keys: cortensor router key create --data-dir ${config.dataDir})`)
  }

  if (http != null && (roles.includes('bootstrap') || roles.includes('router'))) {
    await servePage(node, config, http, chain, routerUrl, say)
  }
}

const FAULT_FLAGS = ['revealMismatch', 'copyOthers', 'misdraw', 'equivocate', 'withholdReveal'] as const
/** numeric faults: ms before each token, a really slow engine (tokens/s), a claimed speed (tokens/s) */
const FAULT_NUMBERS = ['tokenDelayMs', 'firstTokenDelayMs', 'throttleTokensPerSec', 'claimTokensPerSec'] as const

/**
 * Deliberate misbehaviour of a miner process (`MinerFaults`), for fault
 * tests and demos: CORTENSOR_MINER_FAULTS='{"tokenDelayMs":40}'. Unset for
 * an honest miner.
 */
export function minerFaults (json: string | undefined): MinerFaults | undefined {
  if (json == null || json === '') {
    return undefined
  }
  let raw: Record<string, unknown>
  try {
    raw = JSON.parse(json)
  } catch {
    throw new ConfigError('CORTENSOR_MINER_FAULTS', 'must be a JSON object')
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('CORTENSOR_MINER_FAULTS', 'must be a JSON object')
  }
  const faults: MinerFaults = {}
  for (const [key, value] of Object.entries(raw)) {
    if ((FAULT_NUMBERS as readonly string[]).includes(key) && typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      faults[key as typeof FAULT_NUMBERS[number]] = value
    } else if ((FAULT_FLAGS as readonly string[]).includes(key) && typeof value === 'boolean') {
      faults[key as typeof FAULT_FLAGS[number]] = value
    } else {
      throw new ConfigError('CORTENSOR_MINER_FAULTS', `unknown fault or bad value: ${key} (${FAULT_NUMBERS.join(', ')}: numbers >= 0; ${FAULT_FLAGS.join(', ')}: booleans)`)
    }
  }
  return faults
}

/** The chain context of the node key, checked: the RPC answers and the hub is a contract there. */
export async function connectChain (node: CortensorNode, config: NodeConfig, role: string): Promise<ChainContext> {
  if (config.rpc == null) {
    throw new ConfigError('--rpc', `the ${role} role needs the chain: pass --rpc <url> and --hub <address> (or --deployment <file>)`)
  }
  let hub = config.hub as Address | undefined
  if (hub == null) {
    if (config.deployment == null) {
      throw new ConfigError('--hub', `the ${role} role needs the hub contract: pass --hub <address> or --deployment <file written by cortensor chain deploy>`)
    }
    hub = (await readDeployment(config.deployment).catch((err: Error) => { throw new ConfigError('--deployment', err.message) })).hub
  }
  const chain = await createChainContext({ rpcUrl: config.rpc, hub, privateKey: node.peerIdentity.privateKey, pollingIntervalMs: 250 })
    .catch((err: Error) => { throw new ConfigError('--rpc', `cannot reach ${config.rpc}: ${firstLine(err)}`) })
  const code = await getCode(chain.wallet, { address: hub }).catch((err: Error) => { throw new ConfigError('--rpc', `cannot reach ${config.rpc}: ${firstLine(err)}`) })
  if (code == null || code === '0x') {
    throw new ConfigError(config.hub != null ? '--hub' : '--deployment', `no contract at ${hub} on ${config.rpc}`)
  }
  return chain
}

/** llama.cpp on the backend `--gpu` names; one that this machine lacks is a ConfigError naming the flag. */
async function startLlama (config: NodeConfig): Promise<Llama> {
  const { getSharedLlama } = await import('../inference/index.ts')
  const gpu = config.gpu === 'cpu' ? false : config.gpu
  return getSharedLlama(gpu).catch((err: any) => {
    throw new ConfigError('--gpu', err instanceof GpuUnavailableError ? err.message : `cannot start llama.cpp with ${config.gpu}: ${firstLine(err)}`)
  })
}

/** Load one model with the operator's engine settings, showing progress; a setting the machine cannot honour names its flag. */
async function loadModel (config: NodeConfig, llama: Llama, path: string, say: (line: string) => void, out: LoadProgressOutput): Promise<LlamaInferenceEngine> {
  await access(path).catch(() => { throw new ConfigError('--model', `${path}: no such readable file`) })
  say(`loading model ${path}`)
  const { createInferenceEngine } = await import('../inference/index.ts')
  const bar = loadProgress(`loading ${basename(path)}`, out)
  try {
    const engine = await createInferenceEngine({
      modelPath: path,
      llama,
      ...(config.gpuLayers != null ? { gpuLayers: config.gpuLayers } : {}),
      ...(config.threads != null ? { threads: config.threads } : {}),
      ...(config.sequences != null ? { sequences: config.sequences } : {}),
      onLoadProgress: (fraction) => { bar.update(fraction) }
    })
    bar.done()
    return engine
  } catch (err: any) {
    if (out.tty) {
      out.write('\n')
    }
    if (config.gpuLayers != null && llama.gpu !== false && err instanceof ModelLoadError) {
      throw new ConfigError('--gpu-layers', `${path}: ${firstLine(err)}`)
    }
    throw new ConfigError('--model', `${path}: ${firstLine(err)}`)
  }
}

/**
 * The oracle's embedders for outputs that replay but differ: one over
 * `--embedding-model` for every model's tasks, or by default one per model,
 * over that model's own engine (each closed by `stops`).
 */
async function loadEmbedders (config: NodeConfig, engines: LlamaInferenceEngine[], say: (line: string) => void, stops: Array<() => Promise<void> | void>): Promise<{ embedder?: Embedder, embedders?: Record<string, Embedder> }> {
  const { createEmbedder } = await import('../inference/index.ts')
  const path = config.embeddingModel
  if (path != null) {
    await access(path).catch(() => { throw new ConfigError('--embedding-model', `${path}: no such readable file`) })
    const embedder = await createEmbedder({ modelPath: path, engine: engines[0] }).catch((err: any) => {
      throw new ConfigError('--embedding-model', `cannot embed with ${path}: ${firstLine(err)}`)
    })
    stops.push(async () => { await embedder.close() })
    say(`embedding outputs of every model with ${path}`)
    return { embedder }
  }
  const embedders: Record<string, Embedder> = {}
  for (const engine of engines) {
    const embedder = await createEmbedder({ engine }).catch((err: any) => {
      throw new ConfigError('--model', `cannot embed with ${engine.modelPath}: ${firstLine(err)}`)
    })
    stops.push(async () => { await embedder.close() })
    embedders[engine.modelId] = embedder
  }
  say(`embedding outputs with ${engines.length === 1 ? 'the served model' : 'each task\'s own model'}`)
  return { embedders }
}

/** The configured session, checked: it exists, is open, and belongs to the node key. */
export async function sessionModel (chain: ChainContext, config: NodeConfig): Promise<{ sessionId: bigint, modelId: string }> {
  if (config.session == null) {
    throw new ConfigError('--session', 'the funded session to submit tasks to is needed (cortensor session create prints its id)')
  }
  const session = await getSession(chain.wallet, { hub: chain.hub, sessionId: config.session })
    .catch((err: Error) => { throw new ConfigError('--session', `session ${config.session}: ${firstLine(err)}`) })
  if (/^0x0{40}$/.test(session.owner)) {
    throw new ConfigError('--session', `session ${config.session} does not exist on hub ${chain.hub}`)
  }
  if (session.closed) {
    throw new ConfigError('--session', `session ${config.session} is closed`)
  }
  if (session.owner.toLowerCase() !== chain.address.toLowerCase()) {
    throw new ConfigError('--session', `session ${config.session} belongs to ${session.owner}, not to this node's key ${chain.address}; create one with cortensor session create --key ${config.keyFile ?? join(config.dataDir, 'key')}`)
  }
  return { sessionId: config.session, modelId: session.modelId }
}

async function openSessionClient (node: CortensorNode, config: NodeConfig, chain: ChainContext): Promise<TaskClient & { close(): Promise<void> }> {
  const { sessionId, modelId } = await sessionModel(chain, config)
  const { createTaskClient } = await import('../../client/index.ts')
  return createTaskClient({
    node: { libp2p: node.libp2p, store: node.store, network: config.network },
    chain,
    sessionId,
    modelId
  })
}

async function servePage (node: CortensorNode, config: NodeConfig, http: FastifyInstance, chain: ChainContext | undefined, routerUrl: ((host?: string) => string) | undefined, say: (line: string) => void): Promise<void> {
  const { registerBrowserApp, browserBootstrapAddrs, PAGE_DIR } = await import('../../client/browser/serve.ts')
  const built = await access(join(PAGE_DIR, 'index.html')).then(() => true, () => false)
  if (!built) {
    // running from the repository: build the page now (a second or two); otherwise the page answers 404 naming the
    // build command. An installed package ships the built page (its build needs esbuild, a development dependency).
    try {
      const { buildBrowser } = await import('../../client/browser/build.ts')
      await buildBrowser({})
    } catch (err: any) {
      say(`browser page not built (${firstLine(err)}); run npm run build:browser`)
    }
  }
  registerBrowserApp(http, {
    prefix: PAGE_PREFIX,
    defaults: ({ host }) => {
      const health = node.health()
      const self = browserBootstrapAddrs(health.addresses, health.peerId, host)
      const defaults: PageDefaults & Record<string, unknown> = {
        // a router is itself a good first peer only if it listens on WebSockets; the configured bootstrap nodes otherwise
        bootstrap: self.length > 0 ? self : config.bootstrap.filter(a => /\/(ws|wss)(\/|$)/.test(a)),
        network: config.network
      }
      if (routerUrl != null) {
        defaults.router = routerUrl(host)
      }
      if (chain != null && config.rpc != null) {
        defaults.rpc = config.rpc
        defaults.hub = chain.hub
      }
      return defaults
    }
  })
  say(`browser page on ${PAGE_PREFIX}/`)
}

function firstLine (err: any): string {
  return String(err?.shortMessage ?? err?.message ?? err).split('\n')[0]
}
