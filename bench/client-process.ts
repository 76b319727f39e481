/**
 * A client in its own process, as a user runs one: its own libp2p node and
 * the client SDK on a session it owns, submitting tasks to a local network
 * and timing each one's tokens. The benchmark's process holds anvil, the
 * bootstrap and the oracles; when the client shared that process, its token
 * stream waited behind their gossip checks (each message costs every node in
 * a process a secp256k1 key decompression and signature check, ~5 ms of pure
 * JavaScript here), which is the benchmark's layout, not the client's cost.
 *
 * With a model path the process also times the engine called directly (same
 * model, same settings as a miner) before each task: the baseline, measured
 * in the same process at the same moment, with the network up and idle.
 *
 * `runClientProcess` (the benchmark's side) funds a fresh key, creates the
 * session, writes the key file and runs this file; run directly, this file
 * is the client: it reads its job from CORTENSOR_BENCH_CLIENT (JSON) and
 * prints one JSON line of timings.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { createTaskClient } from '../client/index.ts'
import { createSession } from '../contracts/index.ts'
import { resolveConfig } from '../node/config.ts'
import { createInferenceEngine } from '../node/inference/index.ts'
import { localSession } from '../node/network.ts'
import { CortensorNode } from '../node/node.ts'
import { createChainContext } from '../node/roles/shared/chain.ts'
import { timeTokens } from './report.ts'
import type { LocalNetwork } from '../node/network.ts'
import type { Hex } from 'viem'

interface ClientJob {
  rpcUrl: string
  hub: Hex
  keyFile: string
  dataDir: string
  network: string
  bootstrap: string
  sessionId: string
  modelId: string
  prompt: string
  maxTokens: number
  reps: number
  /** miners the client must see before it submits */
  miners: number
  /** time the engine on this GGUF directly before each task */
  modelPath?: string
}

export interface ClientTimings {
  /** per task: announcement → first token (ms) */
  ttftMs: number[]
  /** per task: tokens/s after the first token */
  tokensPerSec: number[]
  /** per task: the miner whose work settled */
  miners: string[]
  /** with a model path: the engine called directly before each task, first token (ms) and tokens/s after it */
  directTtftMs: number[]
  directTokensPerSec: number[]
}

const SELF = fileURLToPath(import.meta.url)

/** Run `reps` tasks from a client process on `net`, on a new session of its own (redundancy `redundancy`). */
export async function runClientProcess (net: LocalNetwork, options: { prompt: string, maxTokens: number, reps: number, miners: number, redundancy: number, modelPath?: string, network?: string, onLine?(line: string): void }): Promise<ClientTimings> {
  const dir = await mkdtemp(join(tmpdir(), 'cortensor-bench-client-'))
  try {
    const key = generatePrivateKey()
    const keyFile = join(dir, 'client.key')
    await writeFile(keyFile, `${key}\n`, { mode: 0o600 })
    const hash = await (net.owner as any).sendTransaction({ to: privateKeyToAccount(key).address, value: parseEther('10') })
    await (net.owner as any).waitForTransactionReceipt({ hash, pollingInterval: 50 })
    const chain = await createChainContext({ rpcUrl: net.rpcUrl, hub: net.hub, privateKey: key })
    const { sessionId } = await createSession(chain.wallet, localSession({ hub: net.hub, modelId: net.modelId as Hex, redundancy: options.redundancy }))
    const job: ClientJob = {
      rpcUrl: net.rpcUrl,
      hub: net.hub,
      keyFile,
      dataDir: join(dir, 'node'),
      network: options.network ?? 'cortensor-devnet',
      bootstrap: net.bootstrapAddr,
      sessionId: sessionId.toString(),
      modelId: net.modelId,
      prompt: options.prompt,
      maxTokens: options.maxTokens,
      reps: options.reps,
      miners: options.miners,
      modelPath: options.modelPath
    }
    const child = spawn(process.execPath, [SELF], { env: { ...process.env, CORTENSOR_BENCH_CLIENT: JSON.stringify(job) }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += String(d) })
    child.stderr.on('data', (d) => {
      stderr += String(d)
      for (const line of String(d).split('\n').filter(l => l.length > 0)) {
        options.onLine?.(line)
      }
    })
    const code = await new Promise<number | null>(resolve => { child.on('close', resolve) })
    if (code !== 0) {
      throw new Error(`client process exited with ${code}:\n${stderr}`)
    }
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function main (job: ClientJob): Promise<void> {
  const config = await resolveConfig({
    env: {},
    flags: { role: ['router'], network: job.network, dataDir: job.dataDir, key: job.keyFile, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [job.bootstrap] }
  })
  const node = new CortensorNode(config)
  await node.start()
  const chain = await createChainContext({ rpcUrl: job.rpcUrl, hub: job.hub, privateKey: node.peerIdentity.privateKey })
  const client = await createTaskClient({ node: { libp2p: node.libp2p, store: node.store, network: job.network }, chain, sessionId: BigInt(job.sessionId), modelId: job.modelId })
  try {
    const deadline = Date.now() + 60_000
    while (client.pool.serving(job.modelId).length < job.miners) {
      if (Date.now() > deadline) {
        throw new Error(`the client sees ${client.pool.serving(job.modelId).length} of ${job.miners} miners`)
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    // one task to settle the session's first reservation and warm every path
    await (await client.submit(job.prompt, { maxTokens: 8 })).result
    const engine = job.modelPath != null ? await createInferenceEngine({ modelPath: job.modelPath, threads: 1, sequences: 2 }) : undefined
    const out: ClientTimings = { ttftMs: [], tokensPerSec: [], miners: [], directTtftMs: [], directTokensPerSec: [] }
    try {
      if (engine != null) {
        // warm the engine as the miner's was warmed
        await timeTokens(engine.generate(job.prompt, { maxTokens: 8, deterministic: true }), performance.now())
      }
      for (let r = 0; r < job.reps; r++) {
        if (engine != null) {
          const direct = await timeTokens(engine.generate(job.prompt, { maxTokens: job.maxTokens, deterministic: true }), performance.now())
          out.directTtftMs.push(direct.ttftMs)
          out.directTokensPerSec.push(direct.tokensPerSec)
        }
        const task = await client.submit(job.prompt, { maxTokens: job.maxTokens })
        const mesh = await timeTokens(task.tokens, performance.now())
        out.ttftMs.push(mesh.ttftMs)
        out.tokensPerSec.push(mesh.tokensPerSec)
        const result = await task.result
        out.miners.push(result.miners.find(m => m.outcome === 'accepted')?.address ?? '')
      }
    } finally {
      await engine?.close()
    }
    process.stdout.write(`${JSON.stringify(out)}\n`)
  } finally {
    await client.close()
    await node.stop()
  }
}

if (process.argv[1] === SELF) {
  const job = process.env.CORTENSOR_BENCH_CLIENT
  if (job == null) {
    process.stderr.write('bench/client-process.ts runs from the benchmarks (runClientProcess), with CORTENSOR_BENCH_CLIENT set\n')
    process.exit(2)
  }
  main(JSON.parse(job)).then(() => { process.exit(0) }, (err) => { process.stderr.write(`${err?.stack ?? err}\n`); process.exit(1) })
}
