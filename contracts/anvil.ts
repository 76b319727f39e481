/**
 * A local anvil for tests, the devnet and benchmarks: loopback, port 0, ready when it prints
 * "Listening on", stopped cleanly (viem watchers are unwatched first: STACK-FACTS §6).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { logger } from '@libp2p/logger'
import { ANVIL_CHAIN_ID, ANVIL_START_TIMEOUT_MS, ANVIL_UNWATCH_GRACE_MS } from './constants.ts'
import { AnvilNotFoundError, AnvilStartError } from './errors.ts'
import type { ChildProcess } from 'node:child_process'

const log = logger('cortensor:anvil')
const require = createRequire(import.meta.url)

/** anvil's default mnemonic accounts #0–#9 (public test keys, funded with 10 000 ETH each). */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbac7f5d9bc',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6'
] as const

export interface AnvilOptions {
  /** path of the anvil binary; default: $ANVIL_BIN, the platform package, node_modules/.bin/anvil */
  binary?: string
  chainId?: number
  /** extra anvil flags, e.g. ['--block-time', '1'] */
  args?: string[]
  startTimeoutMs?: number
}

export interface Anvil {
  url: string
  port: number
  chainId: number
  process: ChildProcess
  /** call the given unwatch functions, wait for viem to drop its filters, kill anvil, await its exit; idempotent */
  stop(unwatch?: Array<() => void>): Promise<void>
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64'
}

/** Find the anvil binary: $ANVIL_BIN, then the platform package's ELF, then the npm wrapper. */
export function resolveAnvilBinary (explicit?: string): { command: string, prefixArgs: string[] } {
  const tried: string[] = []
  const candidate = explicit ?? process.env.ANVIL_BIN
  if (candidate != null) {
    if (existsSync(candidate)) {
      return { command: candidate, prefixArgs: [] }
    }
    throw new AnvilNotFoundError([candidate])
  }
  const pkg = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (pkg != null) {
    try {
      const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
      tried.push(bin)
      if (existsSync(bin)) {
        return { command: bin, prefixArgs: [] }
      }
    } catch {
      tried.push(pkg)
    }
  }
  // the wrapper script spawns the same binary; run it with this Node so signals reach one process tree
  const wrapper = fileURLToPath(new URL('../node_modules/@foundry-rs/anvil/bin.mjs', import.meta.url))
  tried.push(wrapper)
  if (existsSync(wrapper)) {
    return { command: process.execPath, prefixArgs: [wrapper] }
  }
  throw new AnvilNotFoundError(tried)
}

export async function startAnvil (options: AnvilOptions = {}): Promise<Anvil> {
  const { command, prefixArgs } = resolveAnvilBinary(options.binary)
  const chainId = options.chainId ?? ANVIL_CHAIN_ID
  const args = [...prefixArgs, '--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId), ...(options.args ?? [])]
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new AnvilStartError(`not listening after ${options.startTimeoutMs ?? ANVIL_START_TIMEOUT_MS} ms`))
    }, options.startTimeoutMs ?? ANVIL_START_TIMEOUT_MS)
    const onData = (d: Buffer): void => {
      output += d.toString()
      const m = output.match(/Listening on [\d.]+:(\d+)/)
      if (m != null) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume() // keep draining so anvil never blocks on a full pipe
        resolve(Number(m[1]))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (d: Buffer) => { output += d.toString() })
    child.once('error', err => {
      clearTimeout(timer)
      reject(new AnvilStartError(err.message))
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new AnvilStartError(`exited with code ${code}: ${output.trim().slice(-300)}`))
    })
  })
  const url = `http://127.0.0.1:${port}`
  log('anvil listening on %s (chain %d)', url, chainId)

  let stopping: Promise<void> | undefined
  return {
    url,
    port,
    chainId,
    process: child,
    async stop (unwatch = []) {
      stopping ??= (async () => {
        unwatch.forEach(fn => { fn() })
        if (unwatch.length > 0) {
          await new Promise(resolve => setTimeout(resolve, ANVIL_UNWATCH_GRACE_MS))
        }
        if (child.exitCode == null && child.signalCode == null) {
          child.kill('SIGTERM')
        }
        await exited
        log('anvil on port %d stopped', port)
      })()
      return stopping
    }
  }
}
