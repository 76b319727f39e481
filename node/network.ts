/**
 * A whole working network in one process: anvil with the hub deployed, a
 * bootstrap, oracles (on chain, heartbeating), miners (staked on chain,
 * serving a model), and a client node that owns a funded session. The
 * devnet, the lifecycle tests and the benchmarks all start it; every part is
 * the real one (libp2p on loopback, Helia, llama.cpp, anvil).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPublicClient, createWalletClient, defineChain, http, parseEther, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { getChainId } from 'viem/actions'
import { foundry } from 'viem/chains'
import { createTaskClient } from '../client/index.ts'
import { ANVIL_KEYS, ROLE_MINER, addOracle, createSession, deployHub, registerNode, startAnvil } from '../contracts/index.ts'
import { resolveConfig } from './config.ts'
import { NoBootstrapAddressError, OwnerKeyRequiredError, PoolNotFilledError } from './errors.ts'
import { createEmbedder, createInferenceEngine, modelIdOf } from './inference/index.ts'
import { hasFunds, isOracle, isRegistered, loadSavedNetwork, persistentAnvilArgs, saveNetwork, usableSession } from './network-chain.ts'
import { CortensorNode } from './node.ts'
import { miner, minerComponents } from './roles/miner/index.ts'
import { oracle, oracleComponents } from './roles/oracle/index.ts'
import { roleAttachment } from './roles/run.ts'
import { createChainContext } from './roles/shared/chain.ts'
import type { Role } from './constants.ts'
import type { CortensorTaskClient } from '../client/index.ts'
import type { Anvil, CreateSessionParameters, Deployment, HubConfig, HubDomain, HubWalletClient } from '../contracts/index.ts'
import type { Embedder, InferenceEngine, InferenceEngineInit, LlamaInferenceEngine } from './inference/index.ts'
import type { MinerRole } from './roles/miner/index.ts'
import type { MinerFaults } from './roles/miner/index.ts'
import type { OracleRole } from './roles/oracle/index.ts'
import type { QueueTimeouts } from '../protocols/queue/types.ts'
import type { Address, Hex } from 'viem'

/** how long a local network waits for every node to see the whole pool (a loaded 2-core machine fills it in a few seconds) */
const POOL_FILL_TIMEOUT_MS = 30_000
/** how often it looks */
const POOL_POLL_MS = 50

export interface NetworkInit {
  miners: number
  oracles: number
  /** GGUF every miner serves (and oracles replay with) */
  modelPath: string
  /** per-miner GGUF override: a miner running another model under the session's model id */
  minerModelPaths?: Array<string | undefined>
  /**
   * more models the network serves: each by miners of its own (numbered after the first model's, registered for
   * it, `minerModelPaths` as above), and every oracle validates it too with an engine and embedder of its own
   */
  moreModels?: Array<{ modelPath: string, miners: number, minerModelPaths?: Array<string | undefined> }>
  minerFaults?: Array<MinerFaults | undefined>
  /** llama.cpp settings of the miners' engines (`--gpu`, `--gpu-layers`, `--threads`, `--sequences`); default CPU-friendly: 1 thread, 2 sequences */
  minerEngineOptions?: Pick<InferenceEngineInit, 'gpu' | 'gpuLayers' | 'threads' | 'sequences'>
  /** per-miner parallel sequences of its engine (default 2; miner 0 keeps the first engine's 2) */
  minerSequences?: Array<number | undefined>
  /** build the miners' engines another way (the zero-cost engine of the benchmarks); oracles then skip replay */
  minerEngine?(): Promise<InferenceEngine>
  /** keep node data here (restarts keep identities and accepted work); default a temp dir removed on stop */
  dataDir?: string
  network?: string
  /** bootstrap HTTP port (/health, /metrics); default any free port */
  httpPort?: number
  hubConfig?: Partial<HubConfig>
  timeouts?: Partial<QueueTimeouts>
  /** fraction of agreeing settled tasks the oracles audit; default the policy's */
  sampleRate?: number
  /** oracles without a model: they cannot replay (a task that needs a replay is unverifiable) */
  oraclesWithoutModel?: boolean
  /** how long the leader gathers round-0 assignments before one hub transaction; default the oracle's (250 ms) */
  assignBatchMs?: number
  /** how long a client submission waits for others to share its transaction; default the client's (5 ms) */
  submitBatchMs?: number
  heartbeatIntervalMs?: number
  /** miners end a reservation whose session sent no task for this long (default 30 s) */
  reservationIdleMs?: number
  /** redundancy of the session; default min(3, miners) */
  redundancy?: number
  depositWei?: bigint
  pricePerTokenWei?: bigint
  /** use this chain instead of starting anvil (the hub is deployed there, nodes are funded by `ownerKey`) */
  rpcUrl?: string
  /** the key that deploys the hub and funds the nodes; default anvil's first key (required with `rpcUrl`) */
  ownerKey?: Hex
  /** miners and the client node also listen on /p2p-circuit and /webrtc, so browser pages can reach them over WebRTC */
  webrtc?: boolean
  /** the address the in-process nodes and anvil listen on (default 127.0.0.1; e.g. a bridge that network namespaces reach) */
  host?: string
  say?(line: string): void
}

export interface MinerHandle { node: CortensorNode, role: MinerRole, engine: InferenceEngine, dataDir: string }
export interface OracleHandle { node: CortensorNode, role: OracleRole, dataDir: string }

export interface LocalNetwork {
  /** the anvil this network started; undefined on an external chain (`rpcUrl`) */
  anvil?: Anvil
  /** the chain's JSON-RPC URL */
  rpcUrl: string
  hub: Address
  /** the hub's deployment record (what `chain deploy` writes; the CLI's `--deployment`) */
  deployment: Deployment
  /** the directory holding every node's data dir */
  dataDir: string
  domain: HubDomain
  sessionId: bigint
  modelId: string
  bootstrap: CortensorNode
  bootstrapAddr: string
  miners: MinerHandle[]
  oracles: OracleHandle[]
  clientNode: CortensorNode
  client: CortensorTaskClient
  /** the hub owner's wallet (anvil key 0, or `ownerKey`) */
  owner: HubWalletClient
  /** stop a miner (its last heartbeat says it is busy), its engine stays loaded for a restart */
  stopMiner(i: number): Promise<void>
  restartMiner(i: number): Promise<void>
  stopOracle(i: number): Promise<void>
  restartOracle(i: number): Promise<void>
  stop(): Promise<void>
}

/** Hub settings for a local network: quick leader hand-over, one oracle's replay signature suffices. */
export const LOCAL_HUB_CONFIG: Partial<HubConfig> = {
  leaderWindowS: 3600,
  heartbeatTimeoutS: 3,
  // the queue's ack timeout already decides when a miner is replaced; the hub only bounds it from below
  precommitWindowS: 1,
  replayQuorum: 1,
  minStakeWei: parseEther('0.01')
}

/**
 * The session a local network's client opens (and the benchmarks' clients):
 * reserved for a day, practically no task budget, 1 gwei per token, 5 ETH
 * deposit unless given.
 */
export function localSession (p: { hub: Address, modelId: Hex, redundancy: number, pricePerTokenWei?: bigint, depositWei?: bigint }): CreateSessionParameters {
  return {
    hub: p.hub,
    modelId: p.modelId,
    redundancy: p.redundancy,
    minMiners: 1,
    maxMiners: Math.max(p.redundancy, 1),
    validationMode: 0,
    slaClass: 1,
    reservePeriodS: 86_400,
    maxTasks: 1_000_000,
    pricePerTokenWei: p.pricePerTokenWei ?? 10n ** 9n,
    depositWei: p.depositWei ?? parseEther('5')
  }
}

const listenOn = (host: string): string[] => [`/ip4/${host}/tcp/0`, `/ip4/${host}/tcp/0/ws`]
/** a relay reservation on the bootstrap and WebRTC signalled through it */
const BROWSER_REACHABLE = ['/p2p-circuit', '/webrtc']
const NODE_FUNDING_WEI = parseEther('10')
const MINER_STAKE_WEI = parseEther('0.1')

export async function startNetwork (init: NetworkInit): Promise<LocalNetwork> {
  const say = init.say ?? (() => {})
  const host = init.host ?? '127.0.0.1'
  const ownDir = init.dataDir == null
  const dataDir = init.dataDir ?? await mkdtemp(join(tmpdir(), 'cortensor-net-'))
  await mkdir(dataDir, { recursive: true })
  const network = init.network ?? 'cortensor-devnet'
  const started = new Set<CortensorNode>()
  const stoppers: Array<() => Promise<void>> = []
  const engines: InferenceEngine[] = []
  let anvil: Anvil | undefined

  const newNode = async (name: string, roles: Role[], bootstrap: string[], httpPort?: number): Promise<CortensorNode> => {
    const reachable = init.webrtc === true && (roles.includes('miner') || roles.includes('router'))
    const config = await resolveConfig({
      env: {},
      flags: { role: roles, network, dataDir: join(dataDir, name), listen: reachable ? [...listenOn(host), ...BROWSER_REACHABLE] : listenOn(host), bootstrap, ...(httpPort != null ? { httpPort } : {}) }
    })
    // the bootstrap runs as `node start --role bootstrap` does: relaying gossip and serving the browser page
    const node = new CortensorNode(config, roles.includes('bootstrap') ? { attach: roleAttachment() } : {})
    started.add(node)
    await node.start()
    return node
  }

  const stopAll = async (): Promise<void> => {
    for (const s of stoppers.splice(0).reverse()) {
      await s().catch(() => {})
    }
    await Promise.allSettled([...started].map(async n => n.stop()))
    await Promise.allSettled(engines.map(async e => e.close()))
    await anvil?.stop()
    if (ownDir) {
      await rm(dataDir, { recursive: true, force: true })
    }
  }

  try {
    // on a data dir of its own the chain lives on there: a network started again on it goes on with the same chain
    const keepChain = !ownDir && init.rpcUrl == null
    if (init.rpcUrl == null) {
      anvil = await startAnvil({ host, ...(keepChain ? { args: persistentAnvilArgs(dataDir) } : {}) })
    } else if (init.ownerKey == null) {
      throw new OwnerKeyRequiredError()
    }
    const rpcUrl = init.rpcUrl ?? anvil?.url ?? ''
    const chainId = await getChainId(createPublicClient({ transport: http(rpcUrl) }))
    const chain = chainId === foundry.id ? foundry : defineChain({ id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } })
    const wallet = (key: Hex): HubWalletClient => createWalletClient({ account: privateKeyToAccount(key), chain, transport: http(rpcUrl), pollingInterval: 50 }).extend(publicActions) as unknown as HubWalletClient
    const owner = wallet(init.ownerKey ?? ANVIL_KEYS[0])
    const hubConfig = { ...LOCAL_HUB_CONFIG, ...init.hubConfig }
    // the model id every engine serves under (the session's model): the first miner engine's
    const first = init.minerEngine != null ? await init.minerEngine() : await createInferenceEngine({ modelPath: init.modelPath, threads: 1, sequences: 2, ...init.minerEngineOptions })
    engines.push(first)
    const modelId = first.modelId
    const saved = keepChain ? await loadSavedNetwork(dataDir, owner, { hubConfig, modelId }) : undefined
    const deployment = saved?.deployment ?? await deployHub(owner, { config: hubConfig })
    const hub = deployment.hub
    say(`${anvil != null ? 'anvil' : 'chain'} on ${rpcUrl} (chain id ${chainId}), hub ${hub}${saved != null ? ` (going on with the chain kept in ${dataDir})` : ''}`)

    const bootstrap = await newNode('bootstrap', ['bootstrap'], [], init.httpPort ?? 0)
    const bootstrapAddr = bootstrap.libp2p.getMultiaddrs().find(a => !a.toString().includes('/ws'))?.toString()
    if (bootstrapAddr == null) {
      throw new NoBootstrapAddressError()
    }
    say(`bootstrap ${bootstrap.libp2p.peerId} on ${bootstrapAddr}`)

    const fund = async (address: Address): Promise<void> => {
      if (saved != null && await hasFunds(owner, address, NODE_FUNDING_WEI / 2n)) {
        return
      }
      const o = owner as any
      const hash = await o.sendTransaction({ to: address, value: NODE_FUNDING_WEI })
      await o.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    }

    const heartbeatIntervalMs = init.heartbeatIntervalMs ?? 2000
    const timeouts = init.timeouts

    const miners: MinerHandle[] = []
    const startMiner = async (i: number, engine: InferenceEngine, register = false, served: string = modelId): Promise<MinerHandle> => {
      const node = await newNode(`miner-${i}`, ['miner'], [bootstrapAddr])
      if (register && !(saved != null && await isRegistered(owner, hub, node.peerIdentity.address))) {
        // on chain before its first heartbeat: nodes keep only miners the hub would assign in their pools
        await fund(node.peerIdentity.address)
        await registerNode(wallet(node.peerIdentity.privateKey), { hub, roles: ROLE_MINER, hardwareClass: 0, models: [served as Hex], stakeWei: MINER_STAKE_WEI })
      }
      const ctx = await createChainContext({ rpcUrl, hub, privateKey: node.peerIdentity.privateKey })
      const role = miner({ engine, domain: ctx.domain, chain: ctx, modelId: served, heartbeatIntervalMs, reservationIdleMs: init.reservationIdleMs, timeouts, faults: init.minerFaults?.[i], onLine: (l) => { say(`miner ${i}: ${l}`) } })(minerComponents(node))
      // stopped before the nodes if the start-up fails later
      stoppers.push(async () => { await role.stop() })
      await role.start()
      return { node, role, engine, dataDir: join(dataDir, `miner-${i}`) }
    }
    for (let i = 0; i < init.miners; i++) {
      let engine: InferenceEngine
      if (i === 0) {
        engine = first
      } else if (init.minerEngine != null) {
        engine = await init.minerEngine()
      } else {
        engine = await createInferenceEngine({ modelPath: init.minerModelPaths?.[i] ?? init.modelPath, threads: 1, sequences: 2, ...init.minerEngineOptions, ...(init.minerSequences?.[i] != null ? { sequences: init.minerSequences[i] } : {}) })
      }
      if (i !== 0) {
        engines.push(engine)
      }
      const m = await startMiner(i, engine, true)
      miners.push(m)
    }
    say(`${miners.length} miners serving ${modelId.slice(0, 18)}…, staked on chain`)
    const moreIds = await Promise.all((init.moreModels ?? []).map(async m => modelIdOf(m.modelPath)))
    for (const [j, more] of (init.moreModels ?? []).entries()) {
      const served = moreIds[j]
      for (let k = 0; k < more.miners; k++) {
        const engine = await createInferenceEngine({ modelPath: more.minerModelPaths?.[k] ?? more.modelPath, threads: 1, sequences: 2, ...init.minerEngineOptions })
        engines.push(engine)
        const m = await startMiner(miners.length, engine, true, served)
        miners.push(m)
      }
      say(`${more.miners} miners serving ${served.slice(0, 18)}…, staked on chain`)
    }

    // an engine per model to replay with; the embedding rung embeds with the task's model, as `node start --role oracle` does by default
    const oracleEngines: LlamaInferenceEngine[] = []
    const oracleEmbedders: Record<string, Embedder> = {}
    if (init.minerEngine == null && init.oraclesWithoutModel !== true) {
      for (const path of [init.modelPath, ...(init.moreModels ?? []).map(m => m.modelPath)]) {
        const engine = await createInferenceEngine({ modelPath: path, threads: 1, sequences: 1 })
        engines.push(engine)
        oracleEngines.push(engine)
        const embedder = await createEmbedder({ engine })
        stoppers.push(async () => { await embedder.close() })
        oracleEmbedders[engine.modelId] = embedder
      }
    }
    const oracles: OracleHandle[] = []
    const startOracle = async (i: number): Promise<OracleHandle> => {
      const node = await newNode(`oracle-${i}`, ['oracle'], [bootstrapAddr])
      const chain = await createChainContext({ rpcUrl, hub, privateKey: node.peerIdentity.privateKey })
      const role = oracle({ modelIds: [modelId, ...moreIds], engines: oracleEngines, embedders: oracleEmbedders, heartbeatIntervalMs, timeouts, sampleRate: init.sampleRate, assignBatchMs: init.assignBatchMs, onLine: (l) => { say(`oracle ${i}: ${l}`) } })(oracleComponents(node, chain))
      return { node, role, dataDir: join(dataDir, `oracle-${i}`) }
    }
    for (let i = 0; i < init.oracles; i++) {
      const o = await startOracle(i)
      await fund(o.node.peerIdentity.address)
      if (saved == null || !(await isOracle(owner, hub, o.node.peerIdentity.address))) {
        await addOracle(owner, { hub, oracle: o.node.peerIdentity.address })
      }
      await o.role.start()
      oracles.push(o)
    }
    say(`${oracles.length} oracles on chain; leader ${oracles[0]?.node.peerIdentity.address}`)

    const clientNode = await newNode('client', ['router'], [bootstrapAddr], 0)
    await fund(clientNode.peerIdentity.address)
    const clientChain = await createChainContext({ rpcUrl, hub, privateKey: clientNode.peerIdentity.privateKey })
    const redundancy = init.redundancy ?? Math.min(3, init.miners)
    const sessionId = await usableSession(owner, hub, saved, clientNode.peerIdentity.address, redundancy) ??
      (await createSession(clientChain.wallet, localSession({ hub, modelId: modelId as Hex, redundancy, pricePerTokenWei: init.pricePerTokenWei, depositWei: init.depositWei }))).sessionId
    if (keepChain) {
      await saveNetwork(dataDir, owner, { deployment, hubConfig, modelId, sessionId: sessionId.toString(), redundancy })
    }
    const client = await createTaskClient({
      node: { libp2p: clientNode.libp2p, store: clientNode.store, network },
      chain: clientChain,
      sessionId,
      modelId,
      heartbeatIntervalMs,
      submitBatchMs: init.submitBatchMs
    })
    stoppers.push(async () => { await client.close() })
    say(`client ${clientNode.peerIdentity.address} owns session ${sessionId} (redundancy ${redundancy})`)

    // ready when every node sees the pool and the gossip mesh reaches the miners
    const deadline = Date.now() + POOL_FILL_TIMEOUT_MS
    while (client.miners().length < init.miners || oracles.some(o => o.role.pool.list().length < miners.length)) {
      if (Date.now() > deadline) {
        throw new PoolNotFilledError(client.miners().length, init.miners)
      }
      await sleep(POOL_POLL_MS)
    }

    const net: LocalNetwork = {
      anvil,
      rpcUrl,
      hub,
      deployment,
      dataDir,
      domain: clientChain.domain,
      sessionId,
      modelId,
      bootstrap,
      bootstrapAddr,
      miners,
      oracles,
      clientNode,
      client,
      owner,
      stopMiner: async (i) => {
        const m = miners[i]
        await m.role.stop()
        await m.node.stop()
        started.delete(m.node)
      },
      restartMiner: async (i) => {
        const m = await startMiner(i, miners[i].engine, false, miners[i].role.modelId)
        miners[i] = m
      },
      stopOracle: async (i) => {
        const o = oracles[i]
        await o.role.stop()
        await o.node.stop()
        started.delete(o.node)
      },
      restartOracle: async (i) => {
        const o = await startOracle(i)
        await o.role.start()
        oracles[i] = o
      },
      stop: async () => {
        for (const o of oracles) {
          await o.role.stop().catch(() => {})
        }
        for (const m of miners) {
          await m.role.stop().catch(() => {})
        }
        await stopAll()
      }
    }
    return net
  } catch (err) {
    await stopAll()
    throw err
  }
}
