/**
 * What `cortensor devnet` (`npm start`) runs: a whole local network — anvil
 * with the hub, a bootstrap, oracles, miners with the generated model, a
 * client owning a funded session — then one prompt through the full task
 * lifecycle (submit on chain → TaskQueued gossip → selection → ack → token
 * stream → precommit → reveal → validation → batch settlement), printed as
 * it happens; then a status line per task until Ctrl-C.
 */
import { formatEther } from 'viem'
import { getNode } from '../contracts/index.ts'
import { SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { devnetModel } from './devnet-model.ts'
import { startNetwork } from './network.ts'
import type { LocalNetwork } from './network.ts'
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
  once: boolean
  say(line: string): void
  print(text: string): void
}

const STATUS_INTERVAL_MS = 10_000

class Interrupted extends Error {}

export async function runDevnet (opts: RunDevnetOptions): Promise<void> {
  const { say, print } = opts
  const t0 = Date.now()
  const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`

  // signals are handled from the first moment, so Ctrl-C during start-up still stops what was started
  let net: LocalNetwork | undefined
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
    say(`[${elapsed()}] starting a local network: anvil, 1 bootstrap, ${opts.oracles} oracles, ${opts.miners} miners, 1 client`)
    const modelPath = opts.model ?? await devnetModel(say)
    check()
    const starting = startNetwork({
      miners: opts.miners,
      oracles: opts.oracles,
      modelPath,
      dataDir: opts.dataDir,
      httpPort: opts.httpPort,
      // the demo replays every output so the check is visible
      sampleRate: 1,
      say: (l) => { say(`[${elapsed()}]   ${l}`) }
    })
    net = await Promise.race([starting, interruption.then(() => undefined)])
    if (net == null) {
      // stop what the start-up got to once it returns
      await starting.then(async n => { await n.stop() }, () => {})
      throw new Interrupted()
    }
    say(`[${elapsed()}] mesh formed: ${net.miners.length + net.oracles.length + 2} nodes, bootstrap DHT routing table ${net.bootstrap.health().dht.routingTableSize}, health on http://127.0.0.1:${net.bootstrap.httpPort}/health`)

    await demoPrompt(net, opts, elapsed)
    check()

    if (!opts.once) {
      const n = net
      say(`[${elapsed()}] network is up; status every ${STATUS_INTERVAL_MS / 1000}s, Ctrl-C to stop`)
      const timer = setInterval(() => {
        const tasks = n.client.tasks()
        const settled = tasks.filter(t => t.status === 'settled').length
        say(`[${elapsed()}] status: ${n.client.miners().length} miners in the pool, ${tasks.length} task(s), ${settled} settled; bootstrap has ${n.bootstrap.health().connectedPeers} peers`)
      }, STATUS_INTERVAL_MS)
      await interruption
      clearInterval(timer)
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) {
      throw err
    }
  } finally {
    if (net != null) {
      say(`[${elapsed()}] stopping ${net.miners.length + net.oracles.length + 2} nodes and anvil`)
      await net.stop()
      say(`[${elapsed()}] stopped`)
    }
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

async function demoPrompt (net: LocalNetwork, opts: RunDevnetOptions, elapsed: () => string): Promise<void> {
  const { say, print } = opts
  const task = await net.client.submit(opts.prompt, { maxTokens: opts.maxTokens })
  say(`[${elapsed()}] task ${task.taskId} submitted on chain against session ${task.sessionId} and announced on the mesh`)
  task.onUpdate((u) => { say(`[${elapsed()}] task ${u.taskId}: ${u.status}${u.detail != null ? ` (${u.detail})` : ''}`) })
  print(`prompt: ${opts.prompt}`)
  let streamed = ''
  let count = 0
  for await (const t of task.tokens) {
    streamed += t.text
    count++
  }
  print(`streamed ${count} tokens (the generated model's weights are random, so the text is too):`)
  print(`  ${JSON.stringify(streamed)}`)
  const result = await task.result
  print(`output: ${result.outputCid} (${result.completionTokens} tokens, ${result.finishReason})`)
  for (const m of result.miners) {
    print(`miner ${m.address}: ${m.outcome}`)
  }
  print(`settled on chain: tx ${result.txHash}`)
  for (const m of result.miners) {
    const info = await getNode(net.owner, { hub: net.hub, node: m.address as Hex })
    print(`  miner ${m.address} earnings: ${formatEther(info.earningsWei)} ETH`)
  }
  say(`[${elapsed()}] task ${task.taskId} settled in ${result.settledAtMs - result.submittedAtMs} ms from submission`)
}
