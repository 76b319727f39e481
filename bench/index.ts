/**
 * `npm run bench`: runs every benchmark file in bench/ (except this one and
 * the report helper) one after another in its own process, so one figure's
 * load does not disturb the next. Pass names to run a subset:
 * `npm run bench -- mesh chain`; options from the first `--flag` on go to
 * every benchmark run: `npm run bench -- replay --record-fixture f.json`.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const args = process.argv.slice(2)
const firstOption = args.findIndex(a => a.startsWith('--'))
const only = firstOption < 0 ? args : args.slice(0, firstOption)
const forwarded = firstOption < 0 ? [] : args.slice(firstOption)
const files = readdirSync(dir)
  .filter(f => f.endsWith('.bench.ts'))
  .filter(f => only.length === 0 || only.includes(f.replace('.bench.ts', '')))
  .sort()

let failed = 0
for (const file of files) {
  process.stdout.write(`# bench/${file}\n\n`)
  const res = spawnSync(process.execPath, [`${dir}${file}`, ...forwarded], { stdio: 'inherit' })
  if (res.status !== 0) {
    failed++
    process.stdout.write(`bench/${file} failed with exit code ${res.status}\n\n`)
  }
}
process.exitCode = failed > 0 ? 1 : 0
