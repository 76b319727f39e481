/**
 * What a node costs (`npm run bench -- cost`): every role in its own OS
 * process as an operator runs it (`cortensor node start`: a bootstrap,
 * 2 oracles, 3 miners, a router) on anvil with the hub, beside a bare
 * libp2p node with the same transports (bench/bare-node.ts), the baseline.
 *
 * Idle (COST_IDLE_MS, default 60 s, no task, from COST_SETTLE_MS (75 s) after the
 * warm-up tasks): CPU ms per second (the
 * process's own `process.cpuUsage()`, every thread, read by
 * bench/cost-probe.ts), resident memory, and messages and bytes per second
 * on its connections (`/metrics`: libp2p_data_transfer_{bytes,messages}_total).
 *
 * Per task (COST_TASKS, default 20, one after another through the router's
 * OpenAI API, redundancy 3, 16 tokens): each process's CPU, messages and
 * bytes over the task window less its idle rate over the same time, divided
 * by the tasks. The miners run the generated `tiny` model through the real
 * engine (the zero-cost engine cannot be loaded by `node start`, and the
 * process is the one an operator runs); the engine's own CPU for the same
 * generations is measured in this process first and subtracted, so the
 * miner's figure is its work outside inference. Oracles run with
 * `--sample-rate 0`: agreeing outputs are not replayed, so theirs is too.
 *
 * COST_PROFILE=<dir>: V8 CPU profiles of the idle window of every process go
 * there (COST_PROFILE_WINDOW=tasks: of the task window), and the heaviest
 * functions per process are printed.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { writeDeployment } from '../contracts/deploy.ts'
import { ANVIL_KEYS, DEFAULT_HEARTBEAT_TIMEOUT_S, addOracle, createSession, deployHub, getLeader, startAnvil } from '../contracts/index.ts'
import { cachedModel } from '../node/devnet-model.ts'
import { createInferenceEngine } from '../node/inference/index.ts'
import { LOCAL_HUB_CONFIG, localSession } from '../node/network.ts'
import { createChainContext } from '../node/roles/shared/chain.ts'
import { runCli } from '../test/fixtures/cli.ts'
import { startMinerProcess } from '../test/fixtures/miner-process.ts'
import { measureOperations } from './cost-ops.ts'
import { byProtocol, collect, measured, probeEnv, startBareProcess, startCliProcess, wireDelta, wireTotal } from './cost-processes.ts'
import { summarizeProfile } from './cpu-profile.ts'
import { printFigures } from './report.ts'
import type { MeasuredProcess, ProcessSample, WireCounters } from './cost-processes.ts'
import type { BenchFigure } from './report.ts'
import type { Anvil, HubWalletClient } from '../contracts/index.ts'
import type { Address, Hex } from 'viem'

const NETWORK = 'cortensor-cost'
const MINERS = 3
const ORACLES = 2
const REDUNDANCY = 3
const MAX_TOKENS = 16
const IDLE_MS = Number(process.env.COST_IDLE_MS ?? 60_000)
const TASKS = Number(process.env.COST_TASKS ?? 20)
const PROFILE_DIR = process.env.COST_PROFILE
/**
 * After the warm-up tasks, before the idle window: what they set off is over. The miners' reservation of the
 * session ends 30 s after its last task (a heartbeat each), their level is read again 10 s after a verdict
 * (and a changed level re-provides their pool keys, a DHT walk), DHT announcements go out at most 60 s late.
 * Sampled every 15 s, every process used 8–35 ms/s in the first minute after the warm-up and 2–10 ms/s after.
 */
const SETTLE_MS = Number(process.env.COST_SETTLE_MS ?? 75_000)
/** after the last task, before the window closes: its blocks' announcements belong to it */
const TAIL_MS = 5_000
const LISTEN = '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws'
/**
 * The local hub, except the oracle heartbeat timeout: a public network's
 * default (30 s), not the devnet's 3 s quick hand-over, so the oracles beat
 * as they would there.
 */
const HUB_CONFIG = { ...LOCAL_HUB_CONFIG, heartbeatTimeoutS: DEFAULT_HEARTBEAT_TIMEOUT_S }

const say = process.env.CORTENSOR_BENCH_VERBOSE != null ? (l: string) => { process.stderr.write(`${(performance.now() / 1000).toFixed(1)} ${l}\n`) } : undefined
const prompts = Array.from({ length: TASKS + 2 }, (_, i) => `the cost of task ${i} is what the node does besides the model`)

// ---- per operation, in this process while nothing else of the benchmark runs
const operations = await measureOperations()

// ---- the engine alone: CPU of the generations the miners will run
const modelPath = await cachedModel('tiny', (l) => { process.stderr.write(`${l}\n`) })
const engine = await createInferenceEngine({ modelPath, sequences: 2 })
const modelId = engine.modelId
let inferenceCpuUs = 0
{
  for await (const t of engine.generate(prompts[0], { maxTokens: MAX_TOKENS, deterministic: true })) { void t }
  const c0 = process.cpuUsage()
  for (const p of prompts.slice(2)) {
    for await (const t of engine.generate(p, { maxTokens: MAX_TOKENS, deterministic: true })) { void t }
  }
  const c1 = process.cpuUsage(c0)
  inferenceCpuUs = (c1.user + c1.system) / TASKS
  await engine.close()
}
process.stderr.write(`tiny model, ${MAX_TOKENS} tokens: ${(inferenceCpuUs / 1000).toFixed(2)} ms CPU per generation\n`)

const processes: MeasuredProcess[] = []
const dirs: string[] = []
let anvil: Anvil | undefined
let cleaning: Promise<void> | undefined
const cleanup = async (): Promise<void> => {
  cleaning ??= (async () => {
    await Promise.allSettled(processes.splice(0).map(async p => p.stop()))
    await anvil?.stop()
    await Promise.allSettled(dirs.map(async d => rm(d, { recursive: true, force: true })))
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanup().finally(() => { process.exit(130) }) })
}

const tempDir = async (name: string): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), `cortensor-cost-${name}-`))
  dirs.push(d)
  return d
}

const fund = async (owner: HubWalletClient, to: Address): Promise<void> => {
  const hash = await (owner as any).sendTransaction({ to, value: parseEther('10') })
  await (owner as any).waitForTransactionReceipt({ hash, pollingInterval: 50 })
}

/** A fresh key in `<dir>/key`, funded. */
const keyed = async (owner: HubWalletClient, dir: string): Promise<{ key: Hex, address: Address }> => {
  const key = generatePrivateKey()
  await writeFile(join(dir, 'key'), `${key}\n`, { mode: 0o600 })
  const address = privateKeyToAccount(key).address
  await fund(owner, address)
  return { key, address }
}

interface Window { a: ProcessSample, b: ProcessSample, wa: WireCounters, wb: WireCounters }

/** Counters, then CPU, of every process at the window's edges (the /metrics scrape stays outside the CPU window). */
async function measureWindow (during: () => Promise<void>): Promise<Window[]> {
  const wa = await Promise.all(processes.map(async p => p.wire()))
  const a = await Promise.all(processes.map(async p => p.sample()))
  await during()
  const b = await Promise.all(processes.map(async p => p.sample()))
  const wb = await Promise.all(processes.map(async p => p.wire()))
  return processes.map((_, i) => ({ a: a[i], b: b[i], wa: wa[i], wb: wb[i] }))
}

interface Rates { cpuMsPerS: number, rssMiB: number, msgsPerS: number, bytesPerS: number, protocolBytesPerS: Map<string, number> }

function rates (w: Window): Rates {
  const s = (w.b.atMs - w.a.atMs) / 1000
  const d = wireDelta(w.wa, w.wb)
  return {
    cpuMsPerS: (w.b.cpuUs - w.a.cpuUs) / 1000 / s,
    rssMiB: w.b.rssBytes / 2 ** 20,
    msgsPerS: [...byProtocol(d.messages).values()].reduce((x, y) => x + y, 0) / s,
    bytesPerS: wireTotal(d.bytes) / s,
    protocolBytesPerS: new Map([...byProtocol(d.bytes)].map(([k, v]) => [k, v / s]))
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length

try {
  const t0 = performance.now()
  anvil = await startAnvil()
  const owner = (await createChainContext({ rpcUrl: anvil.url, hub: '0x0000000000000000000000000000000000000000', privateKey: ANVIL_KEYS[0] })).wallet
  const { hub } = await deployHub(owner, { config: HUB_CONFIG })
  const shared = await tempDir('shared')
  const deployment = join(shared, 'deployment.json')
  await writeDeployment(deployment, { chainId: await (owner as any).getChainId(), hub } as any)
  const chain = ['--rpc', anvil.url, '--deployment', deployment]
  const profileDir = PROFILE_DIR != null ? PROFILE_DIR : undefined
  if (profileDir != null) {
    await mkdir(profileDir, { recursive: true })
  }
  const opts = (name: string): { profileDir?: string, onLine?(l: string): void } => ({ profileDir, onLine: say != null ? (l) => { say(`${name}: ${l}`) } : undefined })

  const bootDir = await tempDir('bootstrap')
  const boot = await startCliProcess('bootstrap', 'bootstrap', ['--role', 'bootstrap', '--network', NETWORK, '--data-dir', bootDir, '--listen', LISTEN, '--http-port', '0'], opts('bootstrap'))
  processes.push(boot)
  const bootstrapAddr = boot.lines.map(l => /(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/.exec(l)?.[1]).find(a => a != null)
  if (bootstrapAddr == null) {
    throw new Error(`the bootstrap printed no TCP address:\n${boot.lines.join('\n')}`)
  }
  const common = ['--network', NETWORK, '--listen', LISTEN, '--bootstrap', bootstrapAddr, '--http-port', '0']

  const oracleAddrs: string[] = []
  for (let i = 0; i < ORACLES; i++) {
    const dir = await tempDir(`oracle-${i}`)
    const { address } = await keyed(owner, dir)
    await addOracle(owner, { hub, oracle: address })
    oracleAddrs.push(address.toLowerCase())
    processes.push(await startCliProcess(`oracle ${i}`, 'oracle', ['--role', 'oracle', '--data-dir', dir, ...common, ...chain, '--model', modelPath, '--sample-rate', '0'], opts(`oracle ${i}`)))
  }

  const routerDir = await tempDir('router')
  const routerKey = await keyed(owner, routerDir)
  const routerChain = await createChainContext({ rpcUrl: anvil.url, hub, privateKey: routerKey.key })
  const { sessionId } = await createSession(routerChain.wallet, localSession({ hub, modelId: modelId as Hex, redundancy: REDUNDANCY }))
  const created = await runCli(['router', 'key', 'create', '--data-dir', routerDir, '--json', '--rate-limit', '1000000', '--max-streams', '100'])
  if (created.code !== 0) {
    throw new Error(`router key create: ${created.stderr}`)
  }
  const apiKey = JSON.parse(created.stdout).key as string
  const router = await startCliProcess('router', 'router', ['--role', 'router', '--data-dir', routerDir, ...common, ...chain, '--session', String(sessionId)], opts('router'))
  processes.push(router)
  const routerSees = async (address: string): Promise<boolean> => {
    const res = await fetch(`${router.http}/api/v1/miners`).then(async r => r.json()).catch(() => ({ data: [] }))
    return (res.data ?? []).some((m: { address: string }) => m.address.toLowerCase() === address)
  }

  for (let i = 0; i < MINERS; i++) {
    const name = `miner ${i}`
    const lines: string[] = []
    const o = opts(name)
    const m = await startMinerProcess({ owner, hub, rpcUrl: anvil.url, bootstrapAddr }, modelPath, {
      network: NETWORK,
      args: ['--listen', '/ip4/127.0.0.1/tcp/0/ws', '--http-port', '0'],
      env: probeEnv(name, profileDir),
      onLine: collect(lines, o.onLine),
      seen: routerSees
    })
    processes.push(measured(name, 'miner', m.child, lines, m.stop))
  }
  processes.push(await startBareProcess(LISTEN.split(','), [bootstrapAddr], { profileDir, onLine: opts('bare').onLine }))

  const task = async (prompt: string): Promise<void> => {
    const res = await fetch(`${router.http}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: modelId, prompt, max_tokens: MAX_TOKENS }),
      signal: AbortSignal.timeout(120_000)
    })
    const body = await res.json() as any
    const accepted = (body.cortensor?.miners ?? []).filter((m: { outcome: string }) => m.outcome === 'accepted').length
    if (res.status !== 200 || accepted !== REDUNDANCY) {
      throw new Error(`task "${prompt}": HTTP ${res.status}, ${accepted} of ${REDUNDANCY} accepted: ${JSON.stringify(body).slice(0, 400)}`)
    }
  }
  // every path warm (first streams, first blocks, the miners' reservation of the session), then quiet
  await task(prompts[0])
  await task(prompts[1])
  await new Promise(resolve => setTimeout(resolve, SETTLE_MS))
  process.stderr.write(`network up and warm in ${((performance.now() - t0) / 1000).toFixed(1)} s; idle for ${IDLE_MS / 1000} s\n`)

  const idle = await measureWindow(async () => { await new Promise(resolve => setTimeout(resolve, IDLE_MS)) })
  process.stderr.write(`running ${TASKS} tasks\n`)
  let taskMs = 0
  const busy = await measureWindow(async () => {
    const s = performance.now()
    for (const p of prompts.slice(2)) {
      await task(p)
    }
    taskMs = performance.now() - s
    await new Promise(resolve => setTimeout(resolve, TAIL_MS))
  })
  const leader = (await getLeader(owner, { hub })).toLowerCase()

  // ---- figures
  const idleRates = idle.map(rates)
  const bareIdx = processes.findIndex(p => p.role === 'bare')
  const bare = idleRates[bareIdx]
  const label = (i: number): string => {
    const p = processes[i]
    if (p.role !== 'oracle') {
      return p.role
    }
    return oracleAddrs[Number(p.name.split(' ')[1])] === leader ? 'oracle (leader)' : 'oracle (follower)'
  }
  const rows = new Map<string, number[]>()
  processes.forEach((p, i) => { if (i !== bareIdx) { rows.set(label(i), [...(rows.get(label(i)) ?? []), i]) } })
  const rowName = (r: string, ix: number[]): string => ix.length > 1 ? `${r} (mean of ${ix.length})` : r

  const idleFigures: BenchFigure[] = []
  for (const [r, ix] of rows) {
    const rs = ix.map(i => idleRates[i])
    idleFigures.push({ name: `${rowName(r, ix)}: CPU`, value: mean(rs.map(x => x.cpuMsPerS)), unit: 'ms/s', baseline: { name: 'bare node', value: bare.cpuMsPerS }, goal: r.startsWith('miner') || r.startsWith('oracle') ? '≤ 10 ms/s, ratio ≤ 2' : undefined })
    idleFigures.push({ name: `${rowName(r, ix)}: resident memory`, value: mean(rs.map(x => x.rssMiB)), unit: 'MiB', baseline: { name: 'bare node', value: bare.rssMiB } })
    idleFigures.push({ name: `${rowName(r, ix)}: messages`, value: mean(rs.map(x => x.msgsPerS)), unit: 'msg/s', baseline: { name: 'bare node', value: bare.msgsPerS } })
    idleFigures.push({ name: `${rowName(r, ix)}: bytes on the wire`, value: mean(rs.map(x => x.bytesPerS)), unit: 'B/s', baseline: { name: 'bare node', value: bare.bytesPerS } })
  }
  printFigures(`cost of an idle node, ${IDLE_MS / 1000} s, each role in its own process (${MINERS} miners, ${ORACLES} oracles, bootstrap, router; the bare node: same transports, identify + ping)`, idleFigures)

  const perTask = (w: Window, idleRate: Rates): { cpuMs: number, msgs: number, bytes: number } => {
    const s = (w.b.atMs - w.a.atMs) / 1000
    const d = wireDelta(w.wa, w.wb)
    return {
      cpuMs: ((w.b.cpuUs - w.a.cpuUs) / 1000 - idleRate.cpuMsPerS * s) / TASKS,
      msgs: ([...byProtocol(d.messages).values()].reduce((x, y) => x + y, 0) - idleRate.msgsPerS * s) / TASKS,
      bytes: (wireTotal(d.bytes) - idleRate.bytesPerS * s) / TASKS
    }
  }
  const taskFigures: BenchFigure[] = []
  for (const [r, ix] of rows) {
    const ts = ix.map(i => perTask(busy[i], idleRates[i]))
    const cpu = mean(ts.map(t => t.cpuMs))
    if (r === 'miner') {
      taskFigures.push({ name: `${rowName(r, ix)}: CPU per task outside inference`, value: cpu - inferenceCpuUs / 1000, unit: 'ms', baseline: { name: `the tiny model's generation (${MAX_TOKENS} tokens)`, value: inferenceCpuUs / 1000 } })
      taskFigures.push({ name: `${rowName(r, ix)}: CPU per task with inference`, value: cpu, unit: 'ms' })
    } else {
      taskFigures.push({ name: `${rowName(r, ix)}: CPU per task`, value: cpu, unit: 'ms' })
    }
    taskFigures.push({ name: `${rowName(r, ix)}: messages per task`, value: mean(ts.map(t => t.msgs)), unit: 'msg' })
    taskFigures.push({ name: `${rowName(r, ix)}: bytes per task`, value: mean(ts.map(t => t.bytes)), unit: 'B' })
  }
  printFigures(`work per task at redundancy ${REDUNDANCY}, beyond the idle rate (${TASKS} tasks one after another through the router, ${MAX_TOKENS} tokens, ${(taskMs / TASKS).toFixed(0)} ms each)`, taskFigures)

  // what a wire message costs beyond the checks of the gossip messages it carries: the bootstrap relays and checks
  // every task's 3r + 3 gossip messages (3 of them precommits, recovered) and does nothing else per task
  const op = (prefix: string): number => operations.find(f => f.name.startsWith(prefix))?.value ?? 0
  const bootIx = rows.get('bootstrap') ?? []
  const relay = bootIx.map(i => perTask(busy[i], idleRates[i]))
  const gossipPerTask = 3 * REDUNDANCY + 3
  const checks = gossipPerTask * (op('gossip signature') + op('author key') + op('heartbeat decoded')) + REDUNDANCY * op('precommit')
  operations.push({ name: `one message on the wire, beyond its checks (bootstrap per task: (CPU − ${gossipPerTask} checks) ÷ messages)`, value: (mean(relay.map(t => t.cpuMs)) - checks) / mean(relay.map(t => t.msgs)), unit: 'ms' })
  operations.push({ name: 'idle bare libp2p node', value: bare.cpuMsPerS, unit: 'ms/s' })
  printFigures('per operation (the network-load model\'s CPU costs: simulations/network-constants.ts)', operations)

  // where the bytes go, by protocol: idle per second, and per task beyond the idle rate
  const busyRates = busy.map(rates)
  const protocols = [...new Set([...idleRates, ...busyRates].flatMap(r => [...r.protocolBytesPerS.keys()]))].sort()
  const cols = [...rows.keys(), 'bare']
  const ixOf = (c: string): number[] => c === 'bare' ? [bareIdx] : rows.get(c) ?? []
  const lines = [`| B/s idle; B per task, by protocol | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`]
  for (const p of protocols) {
    const cell = (c: string): string => {
      const idleBps = mean(ixOf(c).map(i => idleRates[i].protocolBytesPerS.get(p) ?? 0))
      const taskB = mean(ixOf(c).map(i => ((busyRates[i].protocolBytesPerS.get(p) ?? 0) - (idleRates[i].protocolBytesPerS.get(p) ?? 0)) * (busy[i].b.atMs - busy[i].a.atMs) / 1000 / TASKS))
      return `${idleBps.toFixed(0)}; ${taskB.toFixed(0)}`
    }
    lines.push(`| ${p} | ${cols.map(cell).join(' | ')} |`)
  }
  process.stdout.write(`${lines.join('\n')}\n\n`)

  if (profileDir != null) {
    for (const p of processes) {
      const file = join(profileDir, `${p.name.replace(/\s+/g, '-')}.cpuprofile`)
      process.stdout.write(`### ${p.name}: heaviest functions over the idle window (${file})\n\n${await summarizeProfile(file, 15)}\n`)
    }
  }
} finally {
  await cleanup()
}
process.exit(0)
