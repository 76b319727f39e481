/**
 * The demo `cortensor devnet` runs: start the local network, then walk one
 * prompt through the mesh and print each step as it happens.
 */
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { fromString, toString } from 'uint8arrays'
import { bytesToHex, formatEther, sha256, toHex } from 'viem'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { startDevnet } from './devnet.ts'
import { startDevnetChain } from './devnet-chain.ts'
import { devnetModel } from './devnet-model.ts'
import { createInferenceEngine, replayCheck } from './inference/index.ts'
import type { LlamaInferenceEngine } from './inference/index.ts'
import type { Role } from './constants.ts'
import type { DevnetChain } from './devnet-chain.ts'
import type { Devnet } from './devnet.ts'
import type { CortensorNode } from './node.ts'
import type { Hex } from 'viem'

export interface RunDevnetOptions {
  miners: number
  oracles: number
  dataDir?: string
  httpPort: number
  prompt: string
  /** GGUF the miners serve; default: the generated `small` preset, cached */
  model?: string
  maxTokens: number
  /** settle on a local anvil chain (default true) */
  chain: boolean
  once: boolean
  say(line: string): void
  print(text: string): void
}

const STATUS_INTERVAL_MS = 10_000

async function until (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`devnet: timed out waiting for ${what}`)
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

class Interrupted extends Error {}

export async function runDevnet (opts: RunDevnetOptions): Promise<void> {
  const { say } = opts
  const t0 = Date.now()
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`

  // signals are handled from the first moment, so Ctrl-C during start-up still stops what was started
  let net: Devnet | undefined
  let chain: DevnetChain | undefined
  const engines: LlamaInferenceEngine[] = []
  let cleaning: Promise<void> | undefined
  const cleanup = async (): Promise<void> => {
    cleaning ??= (async () => {
      await Promise.allSettled(engines.map(async e => e.close()))
      await chain?.stop()
      if (net != null) {
        say(`[${elapsed()}] stopping ${net.nodes.length + 1} nodes`)
        await net.stop()
        say(`[${elapsed()}] stopped`)
      }
    })()
    return cleaning
  }
  let interrupted = false
  let wake = (): void => {}
  const interruption = new Promise<void>((resolve) => { wake = resolve })
  const onSignal = (signal: string): void => {
    if (interrupted) {
      process.exit(130)
    }
    interrupted = true
    say(`${signal}: shutting down`)
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref()
    wake()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const check = (): void => {
    if (interrupted) {
      throw new Interrupted()
    }
  }

  try {
    say(`[${elapsed()}] starting a local network: 1 bootstrap, ${opts.miners} miners, ${opts.oracles} oracles`)
    const roles: Role[] = [...Array(opts.miners).fill('miner'), ...Array(opts.oracles).fill('oracle')]
    net = await startDevnet({ roles, dataDir: opts.dataDir, httpPort: opts.httpPort, onLine: (l) => { say(`[${elapsed()}]   ${l}`) } })
    check()
    const modelPath = opts.model ?? await devnetModel(say)
    check()
    const miners = net.nodes.filter(n => n.config.roles.includes('miner'))
    // one engine per miner, and one for the oracle's replay check
    for (let i = 0; i <= miners.length; i++) {
      engines.push(await createInferenceEngine({ modelPath, threads: 1, sequences: 1 }))
      check()
    }
    say(`[${elapsed()}]   model ${engines[0].modelId.slice(0, 18)}… loaded by ${miners.length} miners and 1 oracle (${engines[0].summary.parameters.toLocaleString('en')} parameters)`)
    if (opts.chain) {
      const leader = net.nodes[net.nodes.length - 1]
      chain = await startDevnetChain({
        miners: miners.map(m => ({ privateKey: m.peerIdentity.privateKey })),
        leader: { privateKey: leader.peerIdentity.privateKey },
        modelId: engines[0].modelId,
        say: (l) => { say(`[${elapsed()}]   ${l}`) }
      })
      check()
    }
    const all = [net.bootstrap, ...net.nodes]
    const ready = net
    await until('every node to join through the bootstrap', () => ready.nodes.every(n => n.libp2p.getPeers().length > 0), 20_000)
    // content routing needs the DHT: wait until every node is in the bootstrap's routing table and vice versa
    await until('the DHT routing tables to fill', () => ready.bootstrap.health().dht.routingTableSize >= ready.nodes.length &&
      ready.nodes.every(n => n.health().dht.routingTableSize > 0), 30_000)
    check()
    say(`[${elapsed()}] mesh formed: ${all.length} nodes, bootstrap DHT routing table ${net.bootstrap.health().dht.routingTableSize}`)
    await demoPrompt(net.bootstrap, net.nodes, engines, chain, opts, elapsed)
    check()

    if (!opts.once) {
      say(`[${elapsed()}] network is up; status every ${STATUS_INTERVAL_MS / 1000}s, Ctrl-C to stop`)
      const timer = setInterval(() => {
        const h = ready.bootstrap.health()
        say(`[${elapsed()}] status: ${h.connectedPeers} peers connected to the bootstrap, routing table ${h.dht.routingTableSize}, uptime ${h.uptimeSeconds}s`)
      }, STATUS_INTERVAL_MS)
      await interruption
      clearInterval(timer)
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) {
      throw err
    }
  } finally {
    await cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

interface TaskDoc {
  /** the on-chain task id (decimal string), when the devnet settles on chain */
  taskId?: string
  prompt: string
  params: { maxTokens: number, temperature: number }
  modelId: string
}

interface OutputDoc {
  task: CID
  miner: string
  modelId: string
  /** CID of the output text alone (raw bytes): what redundant miners agree on and commit to */
  output: CID
  text: string
  tokens: number[]
  finishReason: 'length' | 'eos' | 'stop'
  generateMs: number
  /** the miner's EIP-712 precommit over (task id, output digest, salt) and what it commits to */
  precommit?: { outputDigest: Hex, salt: Hex, signature: Hex }
}

/**
 * One prompt through the mesh: the client (an oracle node here) stores the
 * task in Helia and announces its CID on gossip; every miner fetches it by
 * CID over bitswap, runs the model, stores its output in Helia and announces
 * the output CID; the oracle fetches every output, compares the redundant
 * results and replays one of them on its own copy of the model.
 */
async function demoPrompt (bootstrap: CortensorNode, nodes: CortensorNode[], engines: LlamaInferenceEngine[], chain: DevnetChain | undefined, opts: RunDevnetOptions, elapsed: () => string): Promise<void> {
  const { say, print } = opts
  const client = nodes[nodes.length - 1]
  const miners = nodes.filter(n => n.config.roles.includes('miner'))
  const checker = engines[engines.length - 1]
  const topic = `/${client.config.network}/1/demo/tasks`
  const resultsTopic = `/${client.config.network}/1/demo/results`
  const results = new Map<string, string>()
  const seen = new Set<string>()
  // the bootstrap relays the network's gossip, so nodes that only know it still reach each other
  bootstrap.libp2p.services.pubsub.subscribe(topic)
  bootstrap.libp2p.services.pubsub.subscribe(resultsTopic)

  miners.forEach((miner, i) => {
    const engine = engines[i]
    miner.libp2p.services.pubsub.subscribe(topic)
    miner.libp2p.services.pubsub.addEventListener('message', (evt) => {
      if (evt.detail.topic !== topic) {
        return
      }
      const text = toString(evt.detail.data)
      if (seen.has(`${i}:${text}`)) {
        return
      }
      seen.add(`${i}:${text}`)
      const cid = CID.parse(text)
      void (async () => {
        const task = await miner.store.getJson<TaskDoc>(cid, { signal: AbortSignal.timeout(20_000) })
        const started = Date.now()
        const out = await engine.complete(task.prompt, { ...task.params, deterministic: true })
        const output = await miner.store.putBytes(fromString(out.text))
        const doc: OutputDoc = { task: cid, miner: miner.peerIdentity.address, modelId: engine.modelId, output, text: out.text, tokens: out.tokens, finishReason: out.finishReason, generateMs: Date.now() - started }
        if (chain != null && task.taskId != null) {
          // commit to the output: sha256 digest of the output CID, a fresh salt, signed with the node key
          const outputDigest = bytesToHex(output.multihash.digest)
          const salt = bytesToHex(randomBytes(32))
          const signature = await chain.precommit({ privateKey: miner.peerIdentity.privateKey }, BigInt(task.taskId), outputDigest, salt)
          doc.precommit = { outputDigest, salt, signature }
        }
        const outCid = await miner.store.putJson(doc)
        await miner.libp2p.services.pubsub.publish(resultsTopic, fromString(outCid.toString()))
      })().catch((err) => { say(`a miner failed its task: ${err.message}`) })
    })
  })
  client.libp2p.services.pubsub.subscribe(resultsTopic)
  client.libp2p.services.pubsub.addEventListener('message', (evt) => {
    if (evt.detail.topic === resultsTopic && evt.detail.type === 'signed') {
      results.set(evt.detail.from.toString(), toString(evt.detail.data))
    }
  })
  await until('gossip subscriptions', () => client.libp2p.services.pubsub.getSubscribers(topic).length >= 1 && miners.every(m => m.libp2p.services.pubsub.getSubscribers(resultsTopic).length >= 1), 20_000)

  const params = { maxTokens: opts.maxTokens, temperature: 0 }
  let taskId: bigint | undefined
  if (chain != null) {
    // the prompt's digest and the parameters go on chain against the session's deposit
    const promptCid = await client.store.putJson({ prompt: opts.prompt })
    const submitted = await chain.submit(bytesToHex(promptCid.multihash.digest), sha256(toHex(JSON.stringify(params))), opts.maxTokens)
    taskId = submitted.taskId
    await chain.assign(taskId, miners.map(m => m.peerIdentity.address))
    say(`[${elapsed()}] task ${taskId} submitted on chain (selection seed ${submitted.seed.toString(16).slice(0, 12)}…), assigned to ${miners.length} miners by the leader oracle`)
  }
  const cid = await client.store.putJson({ ...(taskId != null ? { taskId: taskId.toString() } : {}), prompt: opts.prompt, params, modelId: checker.modelId } satisfies TaskDoc)
  say(`[${elapsed()}] task stored in Helia as ${cid}`)
  const announced = Date.now()
  await client.libp2p.services.pubsub.publish(topic, fromString(cid.toString()))
  say(`[${elapsed()}] task announced on ${topic}; ${miners.length} miners working`)
  await until(`results from all ${miners.length} miners`, () => results.size >= miners.length, 120_000)
  say(`[${elapsed()}] ${miners.length} results in ${Date.now() - announced} ms`)

  const outputs: Array<{ cid: string, doc: OutputDoc }> = []
  for (const outCid of results.values()) {
    outputs.push({ cid: outCid, doc: await client.store.getJson<OutputDoc>(CID.parse(outCid), { signal: AbortSignal.timeout(20_000) }) })
  }
  const first = outputs[0].doc
  print(`prompt: ${opts.prompt}`)
  print(`output (${first.tokens.length} tokens, ${first.finishReason}; the generated model's weights are random, so the text is too):`)
  print(`  ${JSON.stringify(first.text)}`)
  for (const { cid: outCid, doc } of outputs) {
    print(`miner ${doc.miner}: output ${doc.output} in ${doc.generateMs} ms (result ${outCid})`)
  }
  const agree = new Set(outputs.map(o => o.doc.output.toString())).size === 1
  print(`redundancy: ${outputs.length} miners, ${agree ? 'identical outputs (same output CID)' : 'outputs DIFFER'}`)
  const verdict = await replayCheck(checker, { prompt: opts.prompt, params: { maxTokens: opts.maxTokens, temperature: 0 }, output: first.tokens, finishReason: first.finishReason })
  print(`replay check by the oracle: ${verdict.valid ? 'valid' : `INVALID (${verdict.reason})`} over ${first.tokens.length} positions in ${verdict.evaluateMs.toFixed(0)} ms`)
  if (chain != null && taskId != null && verdict.valid && agree) {
    // the settlement lists miners in the order they were assigned
    const order = miners.map(m => m.peerIdentity.address.toLowerCase())
    const sorted = [...outputs].sort((x, y) => order.indexOf(x.doc.miner.toLowerCase()) - order.indexOf(y.doc.miner.toLowerCase()))
    const entries = sorted.map(({ doc }) => {
      if (doc.precommit == null) {
        throw new Error(`miner ${doc.miner} sent no precommit`)
      }
      return { miner: doc.miner as Hex, tokens: doc.tokens.length, outputDigest: doc.precommit.outputDigest, salt: doc.precommit.salt, signature: doc.precommit.signature }
    })
    const settled = await chain.settle(taskId, entries)
    print(`settled on chain: tx ${settled.hash} (${settled.gasUsed} gas), ${formatEther(settled.paidWei)} ETH paid from the session deposit`)
    for (const e of entries) {
      print(`  miner ${e.miner} earnings: ${await chain.earnings(e.miner)} ETH`)
    }
  }
}
