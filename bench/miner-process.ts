/**
 * A miner in its own process, as an operator runs it: `cortensor node
 * register` then `cortensor node start --role miner` against a local
 * network's chain and bootstrap. The benchmarks use it where one process
 * holding every node would measure the other nodes' work instead: each
 * gossip message costs every node in a process a secp256k1 signature check
 * (~3–4 ms of pure JS here), and a miner's token loop runs on the same
 * JavaScript thread.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { writeDeployment } from '../contracts/deploy.ts'
import { runCli, spawnCli } from '../test/fixtures/cli.ts'
import { stopChild, untilReady } from './child.ts'
import type { LocalNetwork } from '../node/network.ts'
import type { ChildProcess } from 'node:child_process'

export interface MinerProcess {
  address: string
  child: ChildProcess
  stop(): Promise<void>
}

/** What starting a miner process needs of a local network: its chain, its hub owner, its bootstrap, and (to wait for the miner to be seen) its oracles. */
export type MinerNetwork = Pick<LocalNetwork, 'owner' | 'hub' | 'rpcUrl' | 'bootstrapAddr'> & Partial<Pick<LocalNetwork, 'oracles'>>

export interface MinerProcessOptions {
  network?: string
  onLine?(line: string): void
  /** more `node start` flags (another --listen, --http-port) */
  args?: string[]
  /** more environment for the process (NODE_OPTIONS) */
  env?: Record<string, string>
  /** resolves once the network sees the miner; default: the network's first oracle has it in its pool */
  seen?(address: string): boolean | Promise<boolean>
}

async function run (args: string[]): Promise<string> {
  const res = await runCli(args)
  if (res.code !== 0) {
    throw new Error(`cortensor ${args.slice(0, 2).join(' ')} exited with ${res.code}: ${res.stderr}`)
  }
  return res.stdout
}

/** Register, fund and start a miner process serving `modelPath` on `net`; resolves once the network sees it (`options.seen`). */
export async function startMinerProcess (net: MinerNetwork, modelPath: string, options: MinerProcessOptions = {}): Promise<MinerProcess> {
  const network = options.network ?? 'cortensor-devnet'
  const dir = await mkdtemp(join(tmpdir(), 'cortensor-bench-miner-'))
  let child: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    await stopChild(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const deployment = join(dir, 'deployment.json')
    await writeDeployment(deployment, { chainId: await (net.owner as any).getChainId(), hub: net.hub } as any)
    const chain = ['--rpc', net.rpcUrl, '--deployment', deployment]
    const { address } = JSON.parse(await run(['id', '--data-dir', dir, '--json']))
    const hash = await (net.owner as any).sendTransaction({ to: address, value: parseEther('10') })
    await (net.owner as any).waitForTransactionReceipt({ hash, pollingInterval: 50 })
    await run(['node', 'register', '--roles', 'miner', '--model', modelPath, '--stake', '0.1eth', '--key', join(dir, 'key'), ...chain])
    child = spawnCli(['node', 'start', '--role', 'miner', '--network', network, '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0',
      '--bootstrap', net.bootstrapAddr, '--model', modelPath, ...chain, ...(options.args ?? [])], options.env)
    await untilReady(child, 'miner process', /ready: miner node/, options.onLine)
    const lower = String(address).toLowerCase()
    const seen = options.seen ?? ((a: string) => net.oracles?.[0]?.role.pool.get(a) != null)
    const deadline = Date.now() + 60_000
    while (!(await seen(lower))) {
      if (Date.now() > deadline) {
        throw new Error('the network did not see the miner process within 60 s')
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return { address: lower, child, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
