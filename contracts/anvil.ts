/**
 * A local anvil for tests, the devnet and benchmarks: loopback, port 0, ready when it prints
 * "Listening on", stopped cleanly (viem watchers are unwatched first: STACK-FACTS §6), and
 * never outliving the process that started it, even one killed with SIGKILL.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { logger } from '@libp2p/logger'
import { bytesToHex } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { ANVIL_CHAIN_ID, ANVIL_START_TIMEOUT_MS, ANVIL_UNWATCH_GRACE_MS } from './constants.ts'
import { AnvilNotFoundError, AnvilStartError } from './errors.ts'
import type { ChildProcess } from 'node:child_process'
import type { Hex } from 'viem'

const log = logger('cortensor:anvil')
const require = createRequire(import.meta.url)

/** anvil's default test mnemonic (public; its accounts #0–#9 hold 10 000 ETH each on a fresh anvil). */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'

/** Private keys of anvil's default accounts #0–#9, derived from the public test mnemonic. */
export const ANVIL_KEYS: readonly Hex[] = Array.from({ length: 10 }, (_, i) => {
  const key = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: i }).getHdKey().privateKey
  return bytesToHex(key as Uint8Array)
})

export interface AnvilOptions {
  /** path of the anvil binary; default: $ANVIL_BIN, the platform package, node_modules/.bin/anvil */
  binary?: string
  chainId?: number
  /** extra anvil flags, e.g. ['--block-time', '1'] */
  args?: string[]
  /** the address anvil listens on; default 127.0.0.1 */
  host?: string
  startTimeoutMs?: number
}

export interface Anvil {
  url: string
  port: number
  chainId: number
  /** anvil's process, or on POSIX the shell that runs it and ends it when this process ends */
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
  try {
    // resolved like any dependency, so it is found from the sources and from an installed package's dist/ alike
    const wrapper = require.resolve('@foundry-rs/anvil/bin.mjs')
    tried.push(wrapper)
    if (existsSync(wrapper)) {
      return { command: process.execPath, prefixArgs: [wrapper] }
    }
  } catch {
    tried.push('@foundry-rs/anvil/bin.mjs')
  }
  throw new AnvilNotFoundError(tried)
}

/**
 * anvil under a POSIX shell that watches this process: a watcher holds the
 * read end of a pipe whose only writer is this process, so when this process
 * ends in any way (stop(), a crash, SIGKILL) `cat` sees the end of its input
 * and anvil is killed. The shell waits for anvil and exits with it, so an
 * anvil that dies on its own is seen at once.
 */
const GUARD_SCRIPT = 'exec 3<&0; "$@" < /dev/null & a=$!; { cat <&3 > /dev/null; kill $a 2> /dev/null; } & w=$!; exec 3<&-; ' +
  'wait $a; s=$?; kill $w 2> /dev/null; exit $s'

function spawnGuarded (command: string, args: string[]): { child: ChildProcess, guarded: boolean } {
  if (process.platform === 'win32' || !existsSync('/bin/sh')) {
    return { child: spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }), guarded: false }
  }
  return { child: spawn('/bin/sh', ['-c', GUARD_SCRIPT, 'anvil-guard', command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }), guarded: true }
}

export async function startAnvil (options: AnvilOptions = {}): Promise<Anvil> {
  const { command, prefixArgs } = resolveAnvilBinary(options.binary)
  const chainId = options.chainId ?? ANVIL_CHAIN_ID
  const host = options.host ?? '127.0.0.1'
  const args = [...prefixArgs, '--host', host, '--port', '0', '--chain-id', String(chainId), ...(options.args ?? [])]
  const { child, guarded } = spawnGuarded(command, args)
  // the guard's input stays open for this process's lifetime; its end is anvil's
  child.stdin?.on('error', () => {})
  const kill = (): void => {
    if (guarded) {
      child.stdin?.end()
    } else if (child.exitCode == null && child.signalCode == null) {
      child.kill('SIGTERM')
    }
  }
  let output = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill()
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
  const url = `http://${host}:${port}`
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
          kill()
        }
        await exited
        log('anvil on port %d stopped', port)
      })()
      return stopping
    }
  }
}
