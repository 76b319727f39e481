/**
 * A whole local network on one machine, in one process: a bootstrap node
 * and several role nodes on loopback, each with its own data dir. Used by
 * `npm start` (`cortensor devnet`), the benchmarks and the tests.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveConfig } from './config.ts'
import { NoBootstrapAddressError } from './errors.ts'
import { CortensorNode } from './node.ts'
import type { Role } from './constants.ts'

export interface DevnetInit {
  /** role of each non-bootstrap node, in order (default: miner, miner, miner, oracle, oracle) */
  roles?: Role[]
  /** keep node data here (restarts keep identities); default: a temp dir removed on stop */
  dataDir?: string
  network?: string
  /** bootstrap HTTP port for /health and /metrics; 0 = any free port */
  httpPort?: number
  /** where human progress lines go */
  onLine?(line: string): void
}

export interface Devnet {
  bootstrap: CortensorNode
  nodes: CortensorNode[]
  dataDir: string
  stop(): Promise<void>
}

export const DEFAULT_DEVNET_ROLES: Role[] = ['miner', 'miner', 'miner', 'oracle', 'oracle']
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']

export async function startDevnet (init: DevnetInit = {}): Promise<Devnet> {
  const say = init.onLine ?? (() => {})
  const ownDir = init.dataDir == null
  const dataDir = init.dataDir ?? await mkdtemp(join(tmpdir(), 'cortensor-devnet-'))
  await mkdir(dataDir, { recursive: true })
  const network = init.network ?? 'cortensor-devnet'
  const started: CortensorNode[] = []

  const startNode = async (name: string, roles: Role[], bootstrap: string[], httpPort?: number): Promise<CortensorNode> => {
    const config = await resolveConfig({
      env: {},
      flags: { role: roles, network, dataDir: join(dataDir, name), listen: LOOPBACK, bootstrap, ...(httpPort != null ? { httpPort } : {}) }
    })
    const node = new CortensorNode(config)
    started.push(node)
    await node.start()
    return node
  }

  const stop = async (): Promise<void> => {
    await Promise.all(started.map(async n => n.stop()))
    if (ownDir) {
      await rm(dataDir, { recursive: true, force: true })
    }
  }

  try {
    const bootstrap = await startNode('bootstrap', ['bootstrap'], [], init.httpPort ?? 0)
    const bootAddr = bootstrap.libp2p.getMultiaddrs().find(a => !a.toString().includes('/ws'))?.toString()
    if (bootAddr == null) {
      throw new NoBootstrapAddressError('bootstrap node has no TCP address')
    }
    say(`bootstrap ${bootstrap.libp2p.peerId} on ${bootAddr} (health: http://127.0.0.1:${bootstrap.httpPort}/health)`)
    const roles = init.roles ?? DEFAULT_DEVNET_ROLES
    const nodes = await Promise.all(roles.map(async (role, i) => {
      const node = await startNode(`${role}-${i}`, [role], [bootAddr])
      say(`${role} ${node.libp2p.peerId} (address ${node.peerIdentity.address})`)
      return node
    }))
    return { bootstrap, nodes, dataDir, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
