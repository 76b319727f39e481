#!/usr/bin/env node
// The `cortensor` command, in both places it runs from:
// - a checkout of the repository holds the TypeScript sources, which Node runs as they are (it strips the
//   types), so `npm start`, the tests and the devnet never need a build and never run a stale one;
// - an installed package ships only the build in dist/ (`npm run build`, run by `npm pack`): Node refuses to
//   strip types under node_modules, and the package does not carry the sources.
// The sources win wherever they are present.
import { existsSync } from 'node:fs'

const sources = new URL('../node/cli/main.ts', import.meta.url)
const entry = existsSync(sources) ? sources : new URL('../dist/node/cli/main.js', import.meta.url)
const { main } = await import(entry.href)

main(process.argv).then((/** @type {number | undefined} */ code) => {
  if (code !== undefined) {
    process.exitCode = code
  }
}, (/** @type {any} */ err) => {
  process.stderr.write(`cortensor: ${err?.message ?? err}\n`)
  process.exitCode = 1
})
