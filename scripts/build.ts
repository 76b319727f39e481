/**
 * `npm run build` (also run by `npm pack` and `npm publish` through `prepack`):
 * writes what an installed package runs to dist/. Node strips types only
 * outside node_modules, so the package ships JavaScript.
 *
 * tsc (tsconfig.build.json) compiles node/, protocols/, contracts/, client/,
 * simulations/ and the entry index.ts to .js and .d.ts, rewriting the sources'
 * `.ts` import specifiers to `.js` (`rewriteRelativeImportExtensions`). The
 * protons codecs in protocols/messages/ are JavaScript with declarations
 * already, and are copied as they are; so are the files modules read beside
 * themselves at run time (the router's dashboard). The browser page is bundled
 * to dist/browser/ (client/browser/build.ts): bootstrap and router nodes serve
 * it at /app/, and an installed package cannot build it, since esbuild is a
 * development dependency.
 *
 * Inside the repository nothing needs a build: bin/cortensor.js, the tests and
 * the devnet run the TypeScript sources.
 *
 * Usage: `node scripts/build.ts`
 */
import { execFileSync } from 'node:child_process'
import { copyFile, readdir, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBrowser } from '../client/browser/build.ts'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const DIST = join(ROOT, 'dist')
const require = createRequire(import.meta.url)

/** Files the compiled modules read beside themselves at run time. */
const RUNTIME_ASSETS = ['node/roles/router/dashboard.html']

const t0 = performance.now()
// a clean tree: nothing stale from a renamed or deleted source reaches the package
await rm(DIST, { recursive: true, force: true })

try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' })
} catch {
  process.stderr.write('build: tsc failed (its errors are above)\n')
  process.exit(1)
}

const messages = join('protocols', 'messages')
for (const codec of (await readdir(join(ROOT, messages))).filter(f => f.endsWith('.js'))) {
  for (const file of [codec, codec.replace(/\.js$/, '.d.ts')]) {
    await copyFile(join(ROOT, messages, file), join(DIST, messages, file))
  }
}
for (const asset of RUNTIME_ASSETS) {
  await copyFile(join(ROOT, asset), join(DIST, asset))
}

// no source map: it would be six times the size of the page itself
const page = await buildBrowser({ sourcemap: false })
process.stdout.write(`dist/: compiled, browser page ${(page.bytes / 1024).toFixed(0)} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
