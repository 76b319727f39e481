import { Option } from 'commander'
import { SHUTDOWN_TIMEOUT_MS } from '../constants.ts'
import { print, say } from './output.ts'
import type { CortensorNode } from '../node.ts'
import type { Command } from 'commander'

// heavy modules (libp2p, Helia, viem) load only when a command runs, so `--help` and bad flags answer fast
const ENV_VARS = 'CORTENSOR_ROLE, CORTENSOR_NETWORK, CORTENSOR_DATA_DIR, CORTENSOR_KEY_FILE, CORTENSOR_LISTEN, CORTENSOR_ANNOUNCE, CORTENSOR_BOOTSTRAP, CORTENSOR_HTTP_PORT, CORTENSOR_HTTP_HOST, CORTENSOR_DHT_CLIENT, CORTENSOR_RPC, CORTENSOR_HUB, CORTENSOR_DEPLOYMENT, CORTENSOR_MODEL, CORTENSOR_GPU, CORTENSOR_GPU_LAYERS, CORTENSOR_THREADS, CORTENSOR_SEQUENCES, CORTENSOR_SESSION, CORTENSOR_QUEUE_TIMEOUTS, CORTENSOR_CONFIG'

function collect (value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map(s => s.trim()).filter(Boolean)]
}

/** a repeatable flag whose values are file paths (kept whole: a path may hold a comma) */
function repeat (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

/** Flags shared by every command that needs a node's identity or configuration. */
function identityOptions (cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'node data directory: key, blockstore, datastore (default: ~/.cortensor)')
    .option('--key <file>', 'key file to use instead of <data-dir>/key (0x-prefixed hex secp256k1 private key)')
    .option('--config <file>', 'JSON or YAML config file (keys: roles, network, dataDir, keyFile, listen, announce, bootstrap, httpPort, httpHost, dhtClient, announceBlocks, rpc, hub, deployment, model (a file or a list), gpu, gpuLayers, threads, sequences, session, queueTimeouts)')
}

/**
 * Wait for SIGINT/SIGTERM, then stop the node within the shutdown budget;
 * a second signal or an overrun exits at once.
 */
async function runUntilSignal (node: CortensorNode): Promise<void> {
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      say(`${signal}: shutting down`)
      const force = setTimeout(() => {
        say(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms, exiting`)
        process.exit(1)
      }, SHUTDOWN_TIMEOUT_MS)
      force.unref()
      const again = (): void => { process.exit(130) }
      process.once('SIGINT', again)
      node.stop().then(() => {
        // the force timer stays armed (unref'd): if a leaked handle kept the process alive, it still exits
        process.off('SIGINT', again)
        resolve()
      }, (err) => {
        say(`error while stopping: ${err.message}`)
        process.exit(1)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

/** `cortensor node …` and `cortensor id`; returns the `node` command so other areas can add subcommands. */
export function registerNodeCommands (program: Command): Command {
  const node = program.command('node').description('run and manage a node')

  identityOptions(node.command('start'))
    .description('start a node with one or more roles and keep it running until SIGINT/SIGTERM')
    .addOption(new Option('--role <roles>', 'comma-separated roles: bootstrap, miner, oracle, router (default: miner)'))
    .option('--network <name>', 'network name; protocol ids are built from it (default: cortensor)')
    .option('--listen <multiaddr>', 'listen address, repeatable or comma-separated', collect)
    .option('--announce <multiaddr>', 'address to announce instead of the listen addresses (hosts behind port-mapping NAT), repeatable', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap peer /…/p2p/<peer id>, repeatable or comma-separated', collect)
    .option('--http-port <port>', 'HTTP port for /health and /metrics (default: 8090 for bootstrap, 5010 for router, none otherwise; 0 = any free port)')
    .option('--http-host <host>', 'HTTP listen host (default: 127.0.0.1)')
    .option('--dht-client', 'run the DHT in client mode (for nodes others cannot dial)')
    .option('--announce-blocks', 'announce the prompts and outputs this node stores on the DHT (default off)')
    .option('--rpc <url>', 'JSON-RPC URL of the chain (miner, oracle, router)')
    .option('--hub <address>', 'hub contract address (or --deployment)')
    .option('--deployment <file>', 'deployment JSON written by `cortensor chain deploy` (gives the hub address)')
    .option('--model <file>', 'GGUF model the miner serves / the oracle replays with; repeat it to serve (miner) or validate (oracle) several models', repeat)
    .option('--gpu <backend>', 'llama.cpp backend: auto (a GPU when one is usable, else the CPU), cpu, vulkan, cuda or metal (default: auto)')
    .option('--gpu-layers <n>', 'model layers offloaded to the GPU: a number, auto (what fits) or max (default: auto)')
    .option('--threads <n>', 'CPU threads per model (default: 1, the fastest on small shared machines; raise it on idle cores)')
    .option('--sequences <n>', 'tasks a miner runs at once per model, sharing one loaded model (default: 2)')
    .option('--heartbeat-interval <s>', 'seconds between a miner\'s heartbeats (default: 30; longer for a model with many miners, see docs/simulation.md)')
    .option('--embedding-model <file>', 'GGUF model the oracle embeds differing outputs with (default: --model)')
    .option('--sample-rate <p>', 'fraction of agreeing settled tasks the oracle audits by replay (default: the network policy, 0.01)')
    .option('--session <id>', 'funded session the router submits tasks to (owned by this node\'s key)')
    .option('--queue-timeouts <list>', 'task deadlines in ms, the same on every miner and oracle of a network: ackMs=2000,precommitMs=15000 (names: assignMs, ackMs, precommitMs, revealMs, validateMs, settleMs; default: the queue\'s)')
    .addHelpText('after', `\nEnvironment: ${ENV_VARS} (flags override env, env overrides the config file).`)
    .action(async (opts) => {
      const { resolveConfig } = await import('../config.ts')
      const config = await resolveConfig({ flags: opts })
      const { CortensorNode } = await import('../node.ts')
      const { roleAttachment } = await import('../roles/run.ts')
      // model load progress: a bar redrawn in place on a terminal, a line per 10 % otherwise
      const tty = process.stderr.isTTY === true
      const n = new CortensorNode(config, { attach: roleAttachment(tty ? { progress: { tty, write: (text) => { process.stderr.write(text) }, line: say } } : {}) })
      n.addEventListener('lifecycle', (evt) => { say(evt.detail) })
      await n.start()
      say(`ready: ${config.roles.join('+')} node ${n.libp2p.peerId} (Ctrl-C to stop)`)
      await runUntilSignal(n)
    })

  identityOptions(program.command('id'))
    .description('print this node\'s peer id and EVM address (creates the key on first use)')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const { resolveConfig } = await import('../config.ts')
      const { loadOrCreateIdentity } = await import('../identity.ts')
      const config = await resolveConfig({ flags: { dataDir: opts.dataDir, keyFile: opts.key, config: opts.config } })
      const id = await loadOrCreateIdentity(config.dataDir, config.keyFile)
      if (id.created) {
        say(`created a new node key in ${config.dataDir}`)
      }
      if (opts.json === true) {
        print(JSON.stringify({ peerId: id.peerId.toString(), address: id.address }))
      } else {
        print(`peer id: ${id.peerId}\naddress: ${id.address}`)
      }
    })

  return node
}
