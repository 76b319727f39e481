/**
 * `cortensor task submit "prompt" --session <id>`: join the mesh as a client
 * for one task, submit it on chain and on gossip, print the tokens as they
 * stream (`--stream`) or the settled text, and the verified result: output
 * CID, miners and their outcomes, settlement transaction.
 *
 * The node key (`--key`, or `<data-dir>/key`) must own the session, and no
 * other running node may use it: the key is the peer id on the mesh, and
 * two processes cannot share one. The client's blocks and records live in a
 * temporary directory.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { InterruptedError, InvalidOptionError, NoTopicPeerError } from './errors.ts'
import { print, say, writeOutput } from './output.ts'
import type { Command } from 'commander'

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map(s => s.trim()).filter(Boolean)]
}

function wholeNumber (flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidOptionError(flag, `"${value}" must be a whole number from ${min} to ${max}`)
    }
    return n
  }
}

function fraction (flag: string, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) {
      throw new InvalidOptionError(flag, `"${value}" must be a number from 0 to ${max}`)
    }
    return n
  }
}

/** How long to wait for a peer on the task topic before giving up. */
const MESH_WAIT_MS = 30_000
/** how often the wait looks at the topic's subscribers */
const MESH_POLL_MS = 100

export function registerTaskCommands (program: Command): void {
  const task = program.command('task').description('submit tasks to the network')
  task.command('submit')
    .description('submit a prompt as a task of a funded session; print the streamed tokens and the settled, verified result')
    .argument('<prompt>', 'the prompt')
    .requiredOption('--session <id>', 'the session to charge (owned by the key, which no running node may be using)')
    .option('--stream', 'print tokens as they arrive (otherwise the settled text)')
    .option('--json', 'print the settled result as JSON on stdout')
    .option('--max-tokens <n>', 'tokens to generate', wholeNumber('--max-tokens', 1, 4096), 64)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', fraction('--temperature', 2))
    .option('--timeout <seconds>', 'give up when the task is not settled after this long', wholeNumber('--timeout', 1, 86_400), 300)
    .option('--rpc <url>', 'JSON-RPC URL of the chain')
    .option('--hub <address>', 'hub contract address (or --deployment)')
    .option('--deployment <file>', 'deployment JSON written by `cortensor chain deploy`')
    .option('--bootstrap <multiaddr>', 'bootstrap peer /…/p2p/<peer id>, repeatable or comma-separated', collect)
    .option('--network <name>', 'network name (default: cortensor)')
    .option('--data-dir <dir>', 'where the node key is (default: ~/.cortensor)')
    .option('--key <file>', 'key file to use instead of <data-dir>/key')
    .option('--config <file>', 'node config file (rpc, hub, deployment, bootstrap, network, dataDir, keyFile)')
    .action(async (prompt: string, opts) => {
      await submitTask(prompt, opts)
    })
}

interface SubmitOpts {
  session: string
  stream?: boolean
  json?: boolean
  maxTokens: number
  temperature?: number
  timeout: number
  rpc?: string
  hub?: string
  deployment?: string
  bootstrap?: string[]
  network?: string
  dataDir?: string
  key?: string
  config?: string
}

async function submitTask (prompt: string, opts: SubmitOpts): Promise<void> {
  if (prompt.trim() === '') {
    throw new InvalidOptionError('<prompt>', 'must not be empty')
  }
  const { mkdtemp, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { resolveConfig, ConfigError } = await import('../config.ts')
  const config = await resolveConfig({
    flags: {
      role: 'router',
      session: opts.session,
      rpc: opts.rpc,
      hub: opts.hub,
      deployment: opts.deployment,
      bootstrap: opts.bootstrap,
      network: opts.network,
      dataDir: opts.dataDir,
      key: opts.key,
      config: opts.config,
      listen: ['/ip4/0.0.0.0/tcp/0']
    }
  })
  if (config.bootstrap.length === 0) {
    throw new ConfigError('--bootstrap', 'name at least one bootstrap peer to join the mesh through')
  }
  // the key stays where it is; blocks and records of this one-off client go to a temp dir
  const keyFile = config.keyFile ?? join(config.dataDir, 'key')
  const { access } = await import('node:fs/promises')
  await access(keyFile).catch(() => { throw new ConfigError(opts.key != null ? '--key' : '--data-dir', `no node key at ${keyFile} (cortensor id creates one)`) })
  const work = await mkdtemp(join(tmpdir(), 'cortensor-task-'))
  const { CortensorNode } = await import('../node.ts')
  const node = new CortensorNode({ ...config, dataDir: work, keyFile, httpPort: undefined })
  let client: import('../../client/index.ts').CortensorTaskClient | undefined
  const abort = new AbortController()
  const onSignal = (): void => { abort.abort() }
  process.once('SIGINT', onSignal)
  try {
    await node.start()
    const { connectChain, sessionModel } = await import('../roles/run.ts')
    const chain = await connectChain(node, config, 'client')
    const { modelId } = await sessionModel(chain, config)
    const { createTaskClient } = await import('../../client/index.ts')
    client = await createTaskClient({ node: { libp2p: node.libp2p, store: node.store, network: config.network }, chain, sessionId: config.session ?? 0n, modelId })
    await waitForMesh(node, config.network, modelId, abort.signal)

    const handle = await client.submit(prompt, { maxTokens: opts.maxTokens, temperature: opts.temperature, timeoutMs: opts.timeout * 1000, signal: abort.signal })
    say(`task ${handle.taskId} submitted to session ${handle.sessionId}`)
    handle.onUpdate((u) => { say(`task ${u.taskId}: ${u.status}${u.detail != null ? ` (${u.detail})` : ''}`) })
    if (opts.stream === true) {
      for await (const t of handle.tokens) {
        writeOutput(t.text)
      }
      process.stdout.write('\n')
    }
    const result = await handle.result
    if (opts.json === true) {
      print(JSON.stringify(result))
    } else if (opts.stream !== true) {
      writeOutput(`${result.text}\n`)
    }
    say(`output ${result.outputCid} (${result.completionTokens} tokens, ${result.finishReason})`)
    for (const m of result.miners) {
      say(`miner ${m.address}: ${m.outcome}`)
    }
    say(`settled in tx ${result.txHash} after ${result.settledAtMs - result.submittedAtMs} ms`)
  } finally {
    process.off('SIGINT', onSignal)
    await client?.close().catch(() => {})
    await node.stop().catch(() => {})
    await rm(work, { recursive: true, force: true })
  }
}

/** Wait until a peer (the bootstrap relay, an oracle, a miner) is subscribed to the model's task topic, so the announcement reaches the pool. */
async function waitForMesh (node: import('../node.ts').CortensorNode, network: string, modelId: string, signal: AbortSignal): Promise<void> {
  const { buildTopic } = await import('../../protocols/topics.ts')
  const topic = buildTopic('task', modelId, { prefix: `/${network}` })
  const deadline = Date.now() + MESH_WAIT_MS
  while (node.libp2p.services.pubsub.getSubscribers(topic).length === 0) {
    if (signal.aborted) {
      throw new InterruptedError()
    }
    if (Date.now() > deadline) {
      throw new NoTopicPeerError(topic, MESH_WAIT_MS / 1000)
    }
    await sleep(MESH_POLL_MS, undefined, { signal }).catch(() => {})
  }
}
