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
  stop(): Promise<void>
}

async function run (args: string[]): Promise<string> {
  const res = await runCli(args)
  if (res.code !== 0) {
    throw new Error(`cortensor ${args.slice(0, 2).join(' ')} exited with ${res.code}: ${res.stderr}`)
  }
  return res.stdout
}

/** Register, fund and start a miner process serving `modelPath` on `net`; resolves once `net`'s first oracle sees it. */
export async function startMinerProcess (net: LocalNetwork, modelPath: string, options: { network?: string, onLine?(line: string): void } = {}): Promise<MinerProcess> {
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
      '--bootstrap', net.bootstrapAddr, '--model', modelPath, ...chain])
    await untilReady(child, 'miner process', /ready: miner node/, options.onLine)
    const lower = String(address).toLowerCase()
    const deadline = Date.now() + 60_000
    while (net.oracles[0].role.pool.get(lower) == null) {
      if (Date.now() > deadline) {
        throw new Error('the oracle did not see the miner process within 60 s')
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    return { address: lower, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
