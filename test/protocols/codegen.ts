/**
 * Regenerates the wire codecs in protocols/messages/ from the .proto files.
 *
 * protons emits TypeScript with `namespace` and `enum`, which Node's type
 * stripping (and this repo's `erasableSyntaxOnly`) cannot run, so the
 * generated .ts is compiled once more by tsc into plain ESM `.js` plus its
 * `.d.ts`; those two are what is committed and imported (`./task.js`).
 *
 * Run: node_modules/.bin/node test/protocols/codegen.ts
 * The messages spec calls `generateMessages()` and compares with the committed
 * files, so the generated code cannot go stale.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const MESSAGES_DIR = join(REPO_ROOT, 'protocols', 'messages')

const PROTONS_BIN = join(REPO_ROOT, 'node_modules', 'protons', 'dist', 'bin', 'protons.js')
const TSC_BIN = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

function run (bin: string, args: string[]): void {
  const res = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' })
  if (res.status !== 0 && bin === PROTONS_BIN) {
    throw new Error(`protons failed: ${res.stderr}`)
  }
  // tsc reports protons' own loose typing as errors but still emits; the
  // emitted files are checked for existence below instead
}

export function protoFiles (): string[] {
  return readdirSync(MESSAGES_DIR).filter(f => f.endsWith('.proto')).sort()
}

/** Generate every codec; returns file name → content (`task.js`, `task.d.ts`, …). */
export function generateMessages (): Map<string, string> {
  // inside the repo so tsc resolves protons-runtime's types
  const cacheDir = join(REPO_ROOT, 'node_modules', '.cache')
  mkdirSync(cacheDir, { recursive: true })
  const tmp = mkdtempSync(join(cacheDir, 'cortensor-protons-'))
  try {
    const protos = protoFiles()
    run(PROTONS_BIN, ['-o', tmp, ...protos.map(p => join(MESSAGES_DIR, p))])
    const sources = protos.map(p => join(tmp, basename(p, '.proto') + '.ts'))
    run(TSC_BIN, ['--ignoreConfig', '--declaration', '--target', 'es2024', '--module', 'node16', '--moduleResolution', 'node16',
      '--skipLibCheck', '--removeComments', 'false', '--outDir', join(tmp, 'out'), ...sources])
    const out = new Map<string, string>()
    for (const proto of protos) {
      const name = basename(proto, '.proto')
      const header = `// Generated from ${proto} by protons, compiled by tsc (test/protocols/codegen.ts). Do not edit.\n`
      out.set(`${name}.js`, header + '// @ts-nocheck\n' + readFileSync(join(tmp, 'out', `${name}.js`), 'utf8'))
      out.set(`${name}.d.ts`, header + readFileSync(join(tmp, 'out', `${name}.d.ts`), 'utf8'))
    }
    return out
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] != null && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [name, content] of generateMessages()) {
    writeFileSync(join(MESSAGES_DIR, name), content)
    process.stdout.write(`wrote protocols/messages/${name}\n`)
  }
}
