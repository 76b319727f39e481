/**
 * Zero-cost-engine miners in a process of their own, for the queue benchmark:
 * with all 20 miners in the benchmark's process, 25 libp2p nodes share one
 * JavaScript thread (each gossip message costs every node a secp256k1 key
 * decompression and signature check, ~5 ms of pure JavaScript here), and one
 * core does all the work while the other waits. Miners split over a few
 * processes use both cores, as miners on their own machines would.
 *
 * `startMinersProcess` (the benchmark's side) funds and registers the
 * miners' keys on chain and runs this file; run directly, this file starts
 * one node and MinerRole per key (job in CORTENSOR_BENCH_MINERS, JSON),
 * writes `ready` to stderr, and stops them all on SIGTERM.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { ROLE_MINER, registerNode } from '../contracts/index.ts'
import { resolveConfig } from '../node/config.ts'
import { CortensorNode } from '../node/node.ts'
import { MinerRole } from '../node/roles/miner/index.ts'
import { createChainContext } from '../node/roles/shared/chain.ts'
import { stopChild, untilReady } from '../test/fixtures/child.ts'
import { ZeroCostEngine } from './zero-engine.ts'
import type { LocalNetwork } from '../node/network.ts'
import type { QueueTimeouts } from '../protocols/queue/types.ts'
import type { ChildProcess } from 'node:child_process'
import type { Hex } from 'viem'

interface MinersJob {
  rpcUrl: string
  hub: Hex
  network: string
  bootstrap: string
  dir: string
  keyFiles: string[]
  heartbeatIntervalMs: number
  timeouts?: Partial<QueueTimeouts>
}

export interface MinersProcess {
  /** the miners' addresses, lower case */
  addresses: string[]
  stop(): Promise<void>
}

const SELF = fileURLToPath(import.meta.url)
const STAKE_WEI = parseEther('0.1')

/** Register `count` zero-cost miners on `net`'s hub and run them in one process. */
export async function startMinersProcess (net: LocalNetwork, count: number, options: { heartbeatIntervalMs: number, timeouts?: Partial<QueueTimeouts>, network?: string, onLine?(line: string): void }): Promise<MinersProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'cortensor-bench-miners-'))
  let child: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    await stopChild(child)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const keys = Array.from({ length: count }, () => generatePrivateKey())
    const keyFiles: string[] = []
    for (const [i, key] of keys.entries()) {
      const keyFile = join(dir, `miner-${i}.key`)
      await writeFile(keyFile, `${key}\n`, { mode: 0o600 })
      keyFiles.push(keyFile)
      const hash = await (net.owner as any).sendTransaction({ to: privateKeyToAccount(key).address, value: parseEther('1') })
      await (net.owner as any).waitForTransactionReceipt({ hash, pollingInterval: 50 })
      const ctx = await createChainContext({ rpcUrl: net.rpcUrl, hub: net.hub, privateKey: key })
      await registerNode(ctx.wallet, { hub: net.hub, roles: ROLE_MINER, hardwareClass: 0, models: [net.modelId as Hex], stakeWei: STAKE_WEI })
    }
    const job: MinersJob = {
      rpcUrl: net.rpcUrl,
      hub: net.hub,
      network: options.network ?? 'cortensor-devnet',
      bootstrap: net.bootstrapAddr,
      dir,
      keyFiles,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      timeouts: options.timeouts
    }
    child = spawn(process.execPath, [SELF], { env: { ...process.env, CORTENSOR_BENCH_MINERS: JSON.stringify(job) }, stdio: ['ignore', 'ignore', 'pipe'] })
    await untilReady(child, 'miners process', /^ready$/m, options.onLine)
    return { addresses: keys.map(k => privateKeyToAccount(k).address.toLowerCase()), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function main (job: MinersJob): Promise<void> {
  const stoppers: Array<() => Promise<void>> = []
  const stopAll = async (): Promise<void> => {
    for (const s of stoppers.splice(0).reverse()) {
      await s().catch(() => {})
    }
  }
  process.once('SIGTERM', () => { void stopAll().then(() => { process.exit(0) }) })
  const verbose = process.env.CORTENSOR_BENCH_VERBOSE != null
  for (const [i, keyFile] of job.keyFiles.entries()) {
    const config = await resolveConfig({
      env: {},
      flags: { role: ['miner'], network: job.network, dataDir: join(job.dir, `miner-${i}`), key: keyFile, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [job.bootstrap] }
    })
    const node = new CortensorNode(config)
    await node.start()
    stoppers.push(async () => { await node.stop() })
    const ctx = await createChainContext({ rpcUrl: job.rpcUrl, hub: job.hub, privateKey: node.peerIdentity.privateKey })
    const role = new MinerRole({
      node,
      engine: new ZeroCostEngine(),
      domain: ctx.domain,
      chain: ctx,
      heartbeatIntervalMs: job.heartbeatIntervalMs,
      timeouts: job.timeouts,
      onLine: verbose ? (l) => { process.stderr.write(`${(performance.now() / 1000).toFixed(2)} miner ${i}: ${l}\n`) } : undefined
    })
    await role.start()
    stoppers.push(async () => { await role.stop() })
  }
  process.stderr.write('ready\n')
}

if (process.argv[1] === SELF) {
  const job = process.env.CORTENSOR_BENCH_MINERS
  if (job == null) {
    process.stderr.write('bench/miners-process.ts runs from the queue benchmark (startMinersProcess), with CORTENSOR_BENCH_MINERS set\n')
    process.exit(2)
  }
  main(JSON.parse(job)).catch((err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1) })
}
