import { GPU_OPTIONS, MAX_SEQUENCES, MAX_THREADS, parseGpu, parseGpuLayers } from '../config.ts'
import { InvalidOptionError } from './errors.ts'
import { print, say } from './output.ts'
import type { Command } from 'commander'

function count (flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidOptionError(flag, `"${value}" must be a whole number from ${min} to ${max}`)
    }
    return n
  }
}

/** `cortensor devnet`: a whole local network on this machine answering a prompt (what `npm start` runs). */
export function registerDevnetCommands (program: Command): void {
  program.command('devnet')
    .description('start a whole local network on this machine, send it a prompt, and keep it running until Ctrl-C')
    .option('--miners <n>', 'number of miner nodes', count('--miners', 1, 32), 3)
    .option('--oracles <n>', 'number of oracle nodes', count('--oracles', 1, 8), 2)
    .option('--data-dir <dir>', 'keep node data here (default: a temp dir removed on exit)')
    .option('--http-port <port>', 'bootstrap /health and /metrics port (default: any free port)', count('--http-port', 0, 65535), 0)
    .option('--prompt <text>', 'the demo prompt', 'Explain in one sentence what a peer-to-peer inference network is.')
    .option('--model <file>', 'GGUF model the miners serve (default: the generated small preset, cached in ~/.cache/cortensor)')
    .option('--gpu <backend>', `llama.cpp backend of the miners: ${GPU_OPTIONS.join(', ')} (default: auto)`, (v: string) => parseGpu(v, '--gpu'))
    .option('--gpu-layers <n>', 'model layers the miners offload to the GPU: a number, auto or max (default: auto)', (v: string) => parseGpuLayers(v, '--gpu-layers'))
    .option('--threads <n>', 'CPU threads per miner (default: 1)', count('--threads', 1, MAX_THREADS))
    .option('--sequences <n>', 'tasks each miner runs at once (default: 2)', count('--sequences', 1, MAX_SEQUENCES))
    .option('--max-tokens <n>', 'tokens to generate for the demo prompt', count('--max-tokens', 1, 4096), 48)
    .option('--once', 'exit after the demo prompt instead of running until Ctrl-C')
    .option('--router-port <port>', 'router HTTP port (default: 5010, or any free port when it is taken)', count('--router-port', 0, 65535))
    .option('--rpc-url <url>', 'use this chain instead of starting anvil (needs --key)')
    .option('--key <file>', 'with --rpc-url: key file (0x hex private key) of a funded account that deploys the hub and funds the nodes (about 10 ETH per node)')
    .action(async (opts) => {
      let ownerKey: `0x${string}` | undefined
      if (opts.rpcUrl != null) {
        let u: URL | undefined
        try {
          u = new URL(opts.rpcUrl)
        } catch {}
        if (u == null || !['http:', 'https:'].includes(u.protocol)) {
          throw new InvalidOptionError('--rpc-url', `"${opts.rpcUrl}" is not an http(s) URL`)
        }
        if (opts.key == null) {
          throw new InvalidOptionError('--key', 'an external chain (--rpc-url) needs a funded key to deploy the hub and fund the nodes')
        }
        const { readKeyFile } = await import('../identity.ts')
        ownerKey = (await readKeyFile(opts.key).catch((err: Error) => { throw new InvalidOptionError('--key', err.message) })).privateKey
      } else if (opts.key != null) {
        throw new InvalidOptionError('--key', 'only used with --rpc-url (the local anvil funds everything itself)')
      }
      // a backend this machine lacks is refused before anything starts
      const gpu = opts.gpu === 'cpu' ? false : opts.gpu
      if (gpu != null) {
        const { getSharedLlama } = await import('../inference/index.ts')
        await getSharedLlama(gpu).catch((err: Error) => { throw new InvalidOptionError('--gpu', err.message) })
      }
      const { runDevnet } = await import('../devnet-demo.ts')
      await runDevnet({
        miners: opts.miners,
        oracles: opts.oracles,
        dataDir: opts.dataDir,
        httpPort: opts.httpPort,
        prompt: opts.prompt,
        model: opts.model,
        minerEngineOptions: {
          ...(gpu != null ? { gpu } : {}),
          ...(opts.gpuLayers != null ? { gpuLayers: opts.gpuLayers } : {}),
          ...(opts.threads != null ? { threads: opts.threads } : {}),
          ...(opts.sequences != null ? { sequences: opts.sequences } : {})
        },
        maxTokens: opts.maxTokens,
        once: opts.once === true,
        routerPort: opts.routerPort,
        rpcUrl: opts.rpcUrl,
        ownerKey,
        say,
        print
      })
    })
}
