/**
 * The package as a user gets it: `npm pack` (its `prepack` builds dist/),
 * `npm install <tarball>` into an empty project, then the first things a user
 * does with it: `npx cortensor --help`, a node started from the installed CLI,
 * `import { createTaskClient } from 'cortensor-mesh'` in an ES module, and a
 * TypeScript file type-checked against the package's declarations.
 *
 * Only the tarball and the registry (through npm's cache: `--prefer-offline`)
 * reach the project, so a runtime import of a development dependency, a file
 * missing from `files` or a source-only `.ts` specifier fails here. Everything
 * runs with this Node (the repository's Node 22, as `engines` asks).
 */
import { spawn } from 'node:child_process'
import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { logger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import type { ChildProcess } from 'node:child_process'

const log = logger('cortensor:test:package')
const REPO = fileURLToPath(new URL('../..', import.meta.url))
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
/** `npm pack` builds dist/ (tsc + the browser bundle, ~30 s here), `npm install` unpacks ~670 packages (~1 min here). */
const SETUP_TIMEOUT_MS = 8 * 60_000
const COMMAND_TIMEOUT_MS = 6 * 60_000
const NODE_READY_TIMEOUT_MS = 60_000
const NODE_STOP_TIMEOUT_MS = 10_000
/** 2.5 MB when written; a model, a data dir or node_modules slipping in would be hundreds of MB. */
const MAX_UNPACKED_BYTES = 8 * 1024 * 1024

interface Run { code: number | null, stdout: string, stderr: string }

/**
 * The environment a user's shell would give: this Node first on PATH (the bin's
 * `#!/usr/bin/env node` finds it), and nothing that the test runner's own npm
 * or Node set (npm_* variables would point npm at this repository).
 */
function userEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !['NODE_OPTIONS', 'INIT_CWD', 'DEBUG'].includes(k) && !k.startsWith('CORTENSOR_')) {
      env[k] = v
    }
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter)
  // never fetch a package named like the command from the registry: the installed bin must answer
  env.npm_config_yes = 'false'
  env.npm_config_update_notifier = 'false'
  return env
}

function start (command: string, args: string[], cwd: string): ChildProcess {
  return spawn(command, args, { cwd, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
}

async function run (command: string, args: string[], cwd: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<Run> {
  const t0 = Date.now()
  const child = start(command, args, cwd)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => { stdout += String(d) })
  child.stderr?.on('data', (d) => { stderr += String(d) })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  }).finally(() => { clearTimeout(timer) })
  log('%s %s: exit %s in %d ms', command, args.join(' '), code, Date.now() - t0)
  return { code, stdout, stderr }
}

function must (res: Run, what: string): Run {
  expect(res.code, `${what} failed:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`).to.equal(0)
  return res
}

/** Every file an `exports` entry names (conditions resolved to their paths). */
function exportTargets (exports: unknown): string[] {
  if (typeof exports === 'string') {
    return [exports.replace(/^\.\//, '')]
  }
  return Object.values(exports as Record<string, unknown>).flatMap(exportTargets)
}

describe('npm package', function () {
  this.timeout(COMMAND_TIMEOUT_MS)
  let tmp: string
  let app: string
  let packed: { filename: string, size: number, unpackedSize: number, files: Array<{ path: string }> }
  let child: ChildProcess | undefined

  before(async function () {
    this.timeout(SETUP_TIMEOUT_MS)
    tmp = await mkdtemp(join(tmpdir(), 'cortensor-package-'))
    const pack = must(await run('npm', ['pack', '--json', '--pack-destination', tmp], REPO), 'npm pack')
    // prepack's build prints to stdout before npm's JSON report
    packed = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m)))[0]
    app = join(tmp, 'app')
    await mkdir(app)
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2))
    must(await run('npm', ['install', join(tmp, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app), 'npm install')
  })

  afterEach(async function () {
    if (child != null && child.exitCode == null && child.signalCode == null) {
      child.kill('SIGKILL')
      await new Promise(resolve => child?.once('close', resolve))
    }
    child = undefined
  })

  after(async function () {
    if (tmp != null) {
      await rm(tmp, { recursive: true, force: true })
    }
  })

  it('packs the build, the bin and nothing else', async function () {
    const files = packed.files.map(f => f.path)
    const manifest = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
    for (const f of [
      'package.json', 'bin/cortensor.js', 'dist/node/cli/main.js',
      // the protons codecs are JavaScript with their own declarations
      'dist/protocols/messages/task.js', 'dist/protocols/messages/task.d.ts',
      'dist/contracts/generated/cortensorHub.js',
      // read or served at run time
      'dist/node/roles/router/dashboard.html', 'dist/browser/index.html', 'dist/browser/page.js', 'dist/browser/style.css',
      ...exportTargets(manifest.exports)
    ]) {
      expect(files, f).to.include(f)
    }
    const strays = files.filter(f => !f.startsWith('dist/') && !['package.json', 'README.md', 'bin/cortensor.js'].includes(f))
    expect(strays, 'outside dist/').to.deep.equal([])
    const sources = files.filter(f => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /\.(sol|map|tsbuildinfo|gguf|proto)$/.test(f) || f.includes('/test/'))
    expect(sources, 'sources, maps, tests').to.deep.equal([])
    expect(packed.unpackedSize).to.be.below(MAX_UNPACKED_BYTES)
    log('tarball %d bytes, %d unpacked, %d files', packed.size, packed.unpackedSize, files.length)
  })

  it('npx cortensor --help lists the commands', async function () {
    const res = must(await run('npx', ['cortensor', '--help'], app), 'npx cortensor --help')
    expect(res.stdout).to.include('Usage: cortensor')
    for (const command of ['node', 'id', 'chain', 'session', 'model', 'sim', 'devnet', 'router', 'task']) {
      expect(res.stdout).to.match(new RegExp(`^ {2}${command} `, 'm'))
    }
    const version = must(await run('npx', ['cortensor', '--version'], app), 'npx cortensor --version')
    expect(version.stdout.trim()).to.equal(JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version)
  })

  it('the installed CLI runs a bootstrap node that serves the browser page', async function () {
    this.timeout(NODE_READY_TIMEOUT_MS + NODE_STOP_TIMEOUT_MS + 10_000)
    // the bin npx runs, started directly so the signal reaches the node itself
    child = start(join(app, 'node_modules', '.bin', 'cortensor'), ['node', 'start', '--role', 'bootstrap', '--data-dir', join(tmp, 'bootstrap'),
      '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--http-port', '0'], app)
    let output = ''
    child.stdout?.on('data', (d) => { output += String(d) })
    child.stderr?.on('data', (d) => { output += String(d) })
    const proc = child
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no "ready" line within ${NODE_READY_TIMEOUT_MS} ms:\n${output}`)) }, NODE_READY_TIMEOUT_MS)
      const check = (): void => {
        const http = output.match(/http on (http:\/\/127\.0\.0\.1:\d+)/)
        if (http != null && /^ready: bootstrap node /m.test(output)) {
          clearTimeout(timer)
          resolve(http[1])
        }
      }
      proc.stdout?.on('data', check)
      proc.stderr?.on('data', check)
      proc.once('close', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${output}`)) })
    })
    expect((await fetch(`${url}/health`)).status).to.equal(200)
    const page = await fetch(`${url}/app/`)
    expect(page.status).to.equal(200)
    expect(await page.text()).to.include('page.js')
    const script = await fetch(`${url}/app/page.js`)
    expect(script.status).to.equal(200)
    const code = await script.text()
    expect(code.length).to.be.above(100_000)
    // the package's page is built without a source map, and points to none
    expect(code).to.not.include('sourceMappingURL')
    const config = await (await fetch(`${url}/app/config.json`)).json()
    expect(config.bootstrap).to.have.length.above(0)
    expect(config.bootstrap[0]).to.match(/\/ws\/p2p\//)
    const closed = new Promise<number | null>(resolve => proc.once('close', resolve))
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), NODE_STOP_TIMEOUT_MS)
    expect(await closed, output).to.equal(0)
    clearTimeout(timer)
    expect(output).to.not.include('browser page not built')
  })

  it('imports the SDK and the other entry points from an ES module', async function () {
    await writeFile(join(app, 'sdk.mjs'), `
import { createTaskClient, createChainContext, createSession, TaskFailedError, ContractRuleError } from 'cortensor-mesh'
import { CortensorNode, resolveConfig, roleAttachment } from 'cortensor-mesh/node'
import { cortensorHubAbi, deployHub, startAnvil } from 'cortensor-mesh/contracts'
import { createLightClient } from 'cortensor-mesh/browser'
import { DirectClient } from 'cortensor-mesh/browser/direct'
const fns = { createTaskClient, createChainContext, createSession, CortensorNode, resolveConfig, roleAttachment, deployHub, startAnvil, createLightClient, DirectClient }
const configError = await resolveConfig({ flags: { role: 'wizard' }, env: {} }).then(() => undefined, err => ({ name: err.name, message: err.message }))
console.log(JSON.stringify({
  entry: import.meta.resolve('cortensor-mesh'),
  types: Object.fromEntries(Object.entries(fns).map(([k, v]) => [k, typeof v])),
  abiEntries: cortensorHubAbi.length,
  taskFailed: new TaskFailedError('timeout', 'gave up').name,
  contractRule: ContractRuleError.name,
  configError
}))
`)
    const res = must(await run(process.execPath, ['sdk.mjs'], app), 'node sdk.mjs')
    const out = JSON.parse(res.stdout)
    expect(out.entry).to.equal(new URL('node_modules/cortensor-mesh/dist/index.js', pathToFileURL(`${app}/`)).href)
    for (const [name, type] of Object.entries(out.types)) {
      expect(type, name).to.equal('function')
    }
    expect(out.abiEntries).to.be.above(10)
    expect(out.taskFailed).to.equal('TaskFailedError')
    expect(out.contractRule).to.equal('ContractRuleError')
    expect(out.configError).to.deep.equal({ name: 'ConfigError', message: '--role: unknown role "wizard" (roles: bootstrap, miner, oracle, router)' })
  })

  it('type-checks a TypeScript project against the package (Node and bundler resolution)', async function () {
    await writeFile(join(app, 'app.ts'), `
import { createTaskClient, createChainContext, TaskFailedError } from 'cortensor-mesh'
import type { ChainContext, TaskClient, TaskClientInit, TaskResult, TokenEvent } from 'cortensor-mesh'
import { CortensorNode, resolveConfig } from 'cortensor-mesh/node'
import type { NodeConfig } from 'cortensor-mesh/node'
import { createLightClient } from 'cortensor-mesh/browser'

export async function ask (init: TaskClientInit, prompt: string): Promise<string> {
  const client: TaskClient = await createTaskClient(init)
  const task = await client.submit(prompt, { maxTokens: 8, temperature: 0 })
  for await (const t of task.tokens) {
    const piece: TokenEvent = t
    void piece.text
  }
  const result: TaskResult = await task.result
  await client.close()
  return result.text
}

export async function setUp (): Promise<{ node: CortensorNode, chain: ChainContext, config: NodeConfig }> {
  const config = await resolveConfig({ flags: { dataDir: './me' } })
  const node = new CortensorNode(config)
  const chain = await createChainContext({ rpcUrl: 'http://127.0.0.1:8545', hub: '0x0000000000000000000000000000000000000001', privateKey: '0x01' })
  return { node, chain, config }
}

export function failed (err: unknown): string | undefined {
  return err instanceof TaskFailedError ? err.code : undefined
}

// the declarations are real types, not any: a wrong field type is an error
// @ts-expect-error modelId is a string
export const wrong: Pick<TaskClientInit, 'modelId'> = { modelId: 42 }

export { createLightClient }
`)
    const base = { target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, module: 'nodenext' }, files: ['app.ts'] }))
    await writeFile(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'] }, files: ['app.ts'] }))
    const node = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], app)
    expect(node.code, node.stdout).to.equal(0)
    const bundler = await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], app)
    expect(bundler.code, bundler.stdout).to.equal(0)
  })
})
