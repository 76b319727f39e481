/**
 * Bundle the browser page (`npm run build:browser`): esbuild turns
 * client/browser/page.ts into one classic script, `dist/browser/page.js`,
 * beside a copy of index.html and style.css, so the directory can be opened
 * as files or served by any HTTP server (see serve.ts).
 *
 * The build fails, naming the module and the import chain that pulled it in,
 * if anything Node-only reaches the bundle: a Node builtin the browser cannot
 * provide, a native or server-only package, or the repository's node/ tree.
 *
 * Usage: `node client/browser/build.ts [--outdir <dir>] [--entry <file>] [--no-minify]`
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { PAGE_DIR } from './serve.ts'

const HERE = dirname(fileURLToPath(import.meta.url))
export const REPO_ROOT = resolve(HERE, '..', '..')
export const DEFAULT_ENTRY = join(HERE, 'page.ts')
/** dist/browser, where serve.ts looks for the page (outside git) */
export const DEFAULT_OUTDIR = PAGE_DIR
/** Static files copied beside the bundle. */
export const PAGE_ASSETS = ['index.html', 'style.css']

/**
 * Packages that only work in Node (native addons, servers, filesystem stores, the TCP transport), or that
 * only Node processes use here (tiny-secp256k1: node/native-secp256k1.ts; the page keeps viem's recovery).
 */
export const NODE_ONLY_PACKAGES = [
  'node-datachannel', '@node-datachannel/', '@libp2p/tcp', '@libp2p/prometheus-metrics', 'prom-client', 'classic-level', 'level',
  'datastore-level', 'blockstore-fs', 'datastore-fs', 'node-llama-cpp', '@node-llama-cpp/', '@foundry-rs/anvil', 'fastify', '@fastify/',
  'solc', 'node-gyp-build', 'bufferutil', 'utf-8-validate', 'undici', 'ws', 'tiny-secp256k1'
]

const BUILTINS = new Set(builtinModules.filter(m => !m.startsWith('_')))
const NODE_ONLY_NS = 'node-only'
const SKIP = Symbol.for('cortensor.build.skip')

export interface NodeOnlyImport {
  /** the import specifier, e.g. `node:fs` or `node-datachannel` */
  module: string
  /** why it cannot run in a browser */
  reason: string
  /** entry → … → the importing file, repository-relative */
  chain: string[]
}

export class NodeOnlyImportError extends Error {
  static name = 'NodeOnlyImportError'
  readonly imports: NodeOnlyImport[]

  constructor (imports: NodeOnlyImport[]) {
    const lines = imports.map(i => `  ${i.module} (${i.reason})\n    imported via ${i.chain.join(' → ')}`)
    super(`the browser bundle would contain Node-only code:\n${lines.join('\n')}\nThe light client must import only browser-safe modules (protocols/, libp2p's browser builds), never node/ or Node builtins.`)
    this.name = 'NodeOnlyImportError'
    this.imports = imports
  }
}

export interface BuildBrowserOptions {
  /** default client/browser/page.ts */
  entry?: string
  /** default dist/browser (outside git) */
  outdir?: string
  /** bundle file name (default page.js) */
  outfile?: string
  minify?: boolean
  /** write page.js.map beside the bundle (default true; the package ships the page without it) */
  sourcemap?: boolean
  /** copy index.html and style.css (default: when building the page entry) */
  assets?: boolean
}

export interface BuildBrowserResult {
  outdir: string
  bundle: string
  bytes: number
  ms: number
  /** modules in the bundle */
  inputs: number
}

function packageName (spec: string): string {
  if (spec.startsWith('@')) {
    return spec.split('/').slice(0, 2).join('/')
  }
  return spec.split('/')[0]
}

function deniedPackage (spec: string): string | undefined {
  const name = packageName(spec)
  return NODE_ONLY_PACKAGES.find(p => p.endsWith('/') ? name.startsWith(p) : name === p)
}

function rel (path: string): string {
  return path.startsWith(REPO_ROOT + sep) ? relative(REPO_ROOT, path) : path
}

function escapeRe (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** Specifiers worth a second look: `node:*`, builtin names and the Node-only packages (with subpaths). */
const SUSPECT_RE = new RegExp(`^(node:.*|(${[...BUILTINS].map(escapeRe).join('|')})(/.*)?|(${NODE_ONLY_PACKAGES.map(p => p.endsWith('/') ? `${escapeRe(p)}[^/]+` : escapeRe(p)).join('|')})(/.*)?)$`)

/** esbuild plugin: Node-only imports resolve to an empty marker module instead of failing obscurely; the build then reports them. */
function nodeOnlyGuard (found: Map<string, { module: string, reason: string, importer: string }>): esbuild.Plugin {
  return {
    name: 'cortensor-node-only-guard',
    setup (build) {
      build.onResolve({ filter: SUSPECT_RE }, async (args) => {
        if (args.pluginData?.[SKIP] === true) {
          return undefined
        }
        const spec = args.path
        const mark = (reason: string): esbuild.OnResolveResult => {
          const key = `${spec}\0${args.importer}`
          found.set(key, { module: spec, reason, importer: args.importer })
          return { path: key, namespace: NODE_ONLY_NS }
        }
        const denied = deniedPackage(spec)
        // let esbuild resolve it the browser way first: packages may map a builtin to a shim or to nothing
        const res = await build.resolve(spec, { importer: args.importer, resolveDir: args.resolveDir, kind: args.kind, pluginData: { [SKIP]: true } })
        if (res.errors.length > 0) {
          return denied != null ? mark(`${denied.replace(/\/$/, '')} runs only in Node`) : mark('a Node builtin with no browser replacement')
        }
        if (res.namespace === '') {
          // disabled by the importing package's "browser" field: an empty module
          return res
        }
        if (denied != null) {
          return mark(`${denied.replace(/\/$/, '')} runs only in Node`)
        }
        // a builtin name served by an npm package (e.g. the buffer or events polyfills)
        return res
      })
      build.onLoad({ filter: /.*/, namespace: NODE_ONLY_NS }, () => ({ contents: '', loader: 'js' }))
    }
  }
}

/** Shortest import chain entry → importer, from the metafile's import graph. */
function chainTo (importer: string, entry: string, meta: esbuild.Metafile | undefined): string[] {
  const target = rel(importer)
  if (meta == null) {
    return [target]
  }
  const start = rel(entry)
  const prev = new Map<string, string>()
  const queue = [start]
  const seen = new Set(queue)
  while (queue.length > 0) {
    const cur = queue.shift() as string
    if (cur === target) {
      const chain = [cur]
      let p = prev.get(cur)
      while (p != null) {
        chain.unshift(p)
        p = prev.get(p)
      }
      return chain
    }
    for (const imp of meta.inputs[cur]?.imports ?? []) {
      if (!seen.has(imp.path)) {
        seen.add(imp.path)
        prev.set(imp.path, cur)
        queue.push(imp.path)
      }
    }
  }
  return [start, '…', target]
}

/** Bundle the page (or any entry) for browsers; throws NodeOnlyImportError if Node-only code would be included. */
export async function buildBrowser (opts: BuildBrowserOptions = {}): Promise<BuildBrowserResult> {
  const t0 = performance.now()
  const entry = resolve(opts.entry ?? DEFAULT_ENTRY)
  const outdir = resolve(opts.outdir ?? DEFAULT_OUTDIR)
  const bundle = join(outdir, opts.outfile ?? 'page.js')
  const found = new Map<string, { module: string, reason: string, importer: string }>()
  await mkdir(outdir, { recursive: true })
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: opts.sourcemap === false ? false : 'linked',
    metafile: true,
    logLevel: 'silent',
    legalComments: 'none',
    // write only once the bundle is known to be clean
    write: false,
    plugins: [nodeOnlyGuard(found)]
  })
  const meta = result.metafile
  for (const input of Object.keys(meta?.inputs ?? {})) {
    // the repository's node/ tree is the Node runtime (servers, storage, llama.cpp)
    if (input.startsWith('node/')) {
      found.set(input, { module: input, reason: 'the repository\'s node/ tree is the Node runtime', importer: input })
    }
  }
  if (found.size > 0) {
    const imports = [...found.values()].map(f => ({
      module: f.module,
      reason: f.reason,
      chain: f.importer === f.module ? chainTo(f.importer, entry, meta) : [...chainTo(f.importer, entry, meta), f.module]
    }))
    throw new NodeOnlyImportError(imports)
  }
  let bytes = 0
  for (const file of result.outputFiles) {
    await writeFile(file.path, file.contents)
    if (file.path === bundle) {
      bytes = file.contents.byteLength
    }
  }
  if (opts.assets ?? entry === resolve(DEFAULT_ENTRY)) {
    for (const asset of PAGE_ASSETS) {
      await copyFile(join(HERE, asset), join(outdir, asset))
    }
  }
  return { outdir, bundle, bytes, ms: performance.now() - t0, inputs: Object.keys(meta?.inputs ?? {}).length }
}

/** Whether a built page exists in `dir` (page.js and index.html). */
export async function isBuilt (dir: string = DEFAULT_OUTDIR): Promise<boolean> {
  try {
    await stat(join(dir, 'page.js'))
    await stat(join(dir, 'index.html'))
    return true
  } catch {
    return false
  }
}

function argValue (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  try {
    const res = await buildBrowser({
      ...(argValue(args, '--outdir') != null ? { outdir: argValue(args, '--outdir') } : {}),
      ...(argValue(args, '--entry') != null ? { entry: argValue(args, '--entry') } : {}),
      minify: !args.includes('--no-minify')
    })
    process.stdout.write(`browser bundle: ${rel(res.bundle)} (${(res.bytes / 1024).toFixed(0)} KiB, ${res.inputs} modules, ${res.ms.toFixed(0)} ms)\n` +
      `open ${rel(join(res.outdir, 'index.html'))}?bootstrap=<ws multiaddr> or serve the directory\n`)
  } catch (err: any) {
    const message = err instanceof NodeOnlyImportError ? err.message : `browser build failed: ${err.errors?.map((e: esbuild.Message) => e.text).join('; ') ?? err.message}`
    process.stderr.write(`${message}\n`)
    process.exitCode = 1
  }
}
