#!/usr/bin/env node
// Runs the CLI from the TypeScript sources (Node >= 22.6 strips types).
import { main } from '../node/cli/main.ts'

main(process.argv).then((code) => {
  if (code !== undefined) {
    process.exitCode = code
  }
}, (err) => {
  process.stderr.write(`cortensor: ${err?.message ?? err}\n`)
  process.exitCode = 1
})
