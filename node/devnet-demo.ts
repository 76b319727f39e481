/**
 * What `cortensor devnet` (`npm start`) runs: a whole local network — anvil
 * with the hub, a bootstrap, oracles, miners with the generated model, a
 * client owning a funded session — then one prompt through the full task
 * lifecycle (submit on chain → TaskQueued gossip → selection → ack → token
 * stream → precommit → reveal → validation → batch settlement), printed as
 * it happens, the tokens as they stream; then it keeps the network up with
 * a router (OpenAI-compatible, with an API key printed once) and the browser
 * page, printing a line per task status change until Ctrl-C.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatEther } from 'viem'
import { writeDeployment } from '../contracts/deploy.ts'
import { ANVIL_KEYS, getNode } from '../contracts/index.ts'
import { ROUTER_HTTP_PORT, SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { devnetModel } from './devnet-model.ts'
import { startNetwork } from './network.ts'
import type { LocalNetwork, NetworkInit } from './network.ts'
import type { Hex } from 'viem'

/** The anvil account the devnet offers the browser page's wallet: the network funds its nodes from account 0. */
export const PAGE_WALLET_ANVIL_INDEX = 9

/**
 * The settings the CLI's chain and task commands take, for this network:
 * its deployment written next to the nodes' data dirs, and on anvil a key
 * file of the page's funded wallet (a well-known anvil key), so `session
 * create` and `task submit` work against the devnet as the README shows.
 */
async function cliSettings (n: LocalNetwork): Promise<string> {
  const deployment = join(n.dataDir, 'deployment.json')
  await writeDeployment(deployment, n.deployment)
  let line = `for the CLI: CHAIN="--rpc ${n.rpcUrl} --deployment ${deployment}" BOOT=${n.bootstrapAddr} (--network ${n.bootstrap.config.network})`
  if (n.anvil != null) {
    const key = join(n.dataDir, 'page-wallet.key')
    await writeFile(key, `${ANVIL_KEYS[PAGE_WALLET_ANVIL_INDEX]}\n`, { mode: 0o600 })
    line += `\n  the page wallet's key as a file: ${key}`
  }
  return line
}

/** The page's URL with the chain, the hub and the model set, so direct mode works with no router. */
export function directPageUrl (n: Pick<LocalNetwork, 'bootstrap' | 'rpcUrl' | 'hub' | 'modelId'>): string {
  const q = new URLSearchParams({ rpc: n.rpcUrl, hub: n.hub, models: n.modelId })
  return `http://127.0.0.1:${n.bootstrap.httpPort}/app/?${q.toString()}`
}

export interface RunDevnetOptions {
  miners: number
  oracles: number
  dataDir?: string
  httpPort: number
  prompt: string
  /** GGUF the miners serve; default: the generated `small` preset, cached */
  model?: string
  /** llama.cpp settings of the miners' engines (`--gpu`, `--gpu-layers`, `--threads`, `--sequences`) */
  minerEngineOptions?: NetworkInit['minerEngineOptions']
  maxTokens: number
  once: boolean
  /** router port; default 5010, or any free port when that one is taken */
  routerPort?: number
  /** an external chain instead of anvil, and the funded key that deploys and funds there */
  rpcUrl?: string
  ownerKey?: Hex
  say(line: string): void
  print(text: string): void
  /** raw text on stdout (streamed tokens); default process.stdout.write */
  write?(text: string): void
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
    say(`[${elapsed()}] starting a local network: ${opts.rpcUrl != null ? `the chain at ${opts.rpcUrl}` : 'anvil'}, 1 bootstrap, ${opts.oracles} oracles, ${opts.miners} miners, 1 client`)
    const modelPath = opts.model ?? await devnetModel(say)
    check()
    const starting = startNetwork({
      miners: opts.miners,
      oracles: opts.oracles,
      modelPath,
      minerEngineOptions: opts.minerEngineOptions,
      dataDir: opts.dataDir,
      httpPort: opts.httpPort,
      rpcUrl: opts.rpcUrl,
      ownerKey: opts.ownerKey,
      // the demo audits every settled task (replays its output after settlement) so the check is visible
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

    // Ctrl-C while the demo prompt runs stops the network now, not once the prompt is answered
    await Promise.race([demoPrompt(net, opts, elapsed), interruption.then(() => { throw new Interrupted() })])
    check()

    if (!opts.once) {
      const n = net
      const router = await startDevnetRouter(n, opts)
      // the first miner also serves the model as a file, so a miner of your own can start with its id
      // (`--model <id>`) and fetch it from the network; imported in the background
      const share = import('./models/index.ts').then(async m => m.startModelShare(n.miners[0].node, [modelPath], (l) => { say(`[${elapsed()}]   miner 0: ${l}`) }))
      share.catch((err: Error) => { say(`[${elapsed()}]   miner 0: not sharing the model: ${err.message}`) })
      try {
        say(`[${elapsed()}] network is up; Ctrl-C to stop`)
        print(`router (OpenAI-compatible): ${router.url}/v1  API key: ${router.key}`)
        print(`  curl ${router.url}/v1/chat/completions -H 'authorization: Bearer ${router.key}' -H 'content-type: application/json' -d '{"model":"${n.modelId}","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'`)
        print(`dashboard: ${router.url}/   browser page: http://127.0.0.1:${n.bootstrap.httpPort}/app/?router=${encodeURIComponent(router.url)}`)
        print(`chain: ${n.rpcUrl}  hub: ${n.hub}  session: ${n.sessionId}`)
        print(`browser page, direct mode (no router; pays from the page's wallet): ${directPageUrl(n)}`)
        if (n.anvil != null) {
          print(`  a funded key for the page's wallet (anvil account ${PAGE_WALLET_ANVIL_INDEX}, used by no node): ${ANVIL_KEYS[PAGE_WALLET_ANVIL_INDEX]}`)
        }
        print(await cliSettings(n))
        // the demo task was printed above; follow every change from here on
        const seen = new Map<string, string>(n.client.tasks().map(t => [t.taskId, t.status]))
        const statusTimer = setInterval(() => {
          for (const t of n.client.tasks()) {
            if (seen.get(t.taskId) !== t.status) {
              seen.set(t.taskId, t.status)
              const extra = t.status === 'settled' && t.result != null ? ` in ${t.result.settledAtMs - t.result.submittedAtMs} ms, tx ${t.result.txHash.slice(0, 12)}…, miners ${t.result.miners.map(m => m.outcome).join('/')}` : ''
              say(`[${elapsed()}] task ${t.taskId}: ${t.status}${extra}`)
            }
          }
        }, 250)
        const poolTimer = setInterval(() => {
          const tasks = n.client.tasks()
          const settled = tasks.filter(t => t.status === 'settled').length
          say(`[${elapsed()}] status: ${n.client.miners().length} miners in the pool, ${tasks.length} task(s), ${settled} settled; bootstrap has ${n.bootstrap.health().connectedPeers} peers`)
        }, STATUS_INTERVAL_MS)
        await interruption
        clearInterval(statusTimer)
        clearInterval(poolTimer)
      } finally {
        await router.close()
        await share.then(async s => { await s.stop() }, () => {})
      }
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) {
      throw err
    }
  } finally {
    if (net != null) {
      say(`[${elapsed()}] stopping ${net.miners.length + net.oracles.length + 2} nodes${net.anvil != null ? ' and anvil' : ''}`)
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
  const write = opts.write ?? ((text: string) => { process.stdout.write(text) })
  let count = 0
  write('answer: ')
  for await (const t of task.tokens) {
    // printable as it arrives; the generated model's weights are random, so the text is too
    write(JSON.stringify(t.text).slice(1, -1))
    count++
  }
  write('\n')
  print(`streamed ${count} tokens`)
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

async function startDevnetRouter (net: LocalNetwork, opts: RunDevnetOptions): Promise<{ url: string, key: string, close(): Promise<void> }> {
  const { startRouterRole } = await import('./roles/router/role.ts')
  const { KeyStore } = await import('./roles/router/keys.ts')
  const keys = KeyStore.memory()
  const { key } = await keys.create({ label: 'devnet' })
  const wanted = opts.routerPort ?? ROUTER_HTTP_PORT
  const role = await startRouterRole(net.clientNode, net.client, { port: wanted, keys }).catch(async (err) => {
    if (opts.routerPort == null && err?.source === '--http-port') {
      opts.say(`port ${wanted} is taken; the router takes any free port`)
      return startRouterRole(net.clientNode, net.client, { port: 0, keys })
    }
    throw err
  })
  return { url: `http://127.0.0.1:${role.port}`, key, close: async () => { await role.close() } }
}
