import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from './errors.ts'
import { print, say } from './output.ts'
import type { NetworkLoadParams } from '../../simulations/network.ts'
import type { Command } from 'commander'

/** flag → model parameter, with the bounds it must respect */
const FLAGS: Array<[flag: string, field: keyof NetworkLoadParams, kind: 'int' | 'num', min: number, help: string]> = [
  ['--models <n>', 'models', 'int', 1, 'models served (per-model topics split the load)'],
  ['--heartbeat-s <s>', 'heartbeatIntervalS', 'num', 0.1, 'miners\' heartbeat period'],
  ['--mesh-degree <d>', 'meshDegree', 'int', 1, 'gossipsub mesh degree D'],
  ['--connections <n>', 'connections', 'int', 1, 'connections a node keeps open'],
  ['--oracles <n>', 'oracles', 'int', 1, 'oracles'],
  ['--routers <n>', 'routers', 'int', 1, 'routers'],
  ['--task-rate <per-s>', 'taskRatePerS', 'num', 0, 'tasks per second over the whole network'],
  ['--redundancy <n>', 'redundancy', 'int', 1, 'miners per task'],
  ['--prompt-bytes <n>', 'promptBytes', 'int', 0, 'bytes of a prompt']
]

function optionName (flag: string): string {
  return flag.split(' ')[0].slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
}

function number (flag: string, raw: string, kind: 'int' | 'num', min: number): number {
  const v = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(v) || (kind === 'int' && !Number.isInteger(v)) || v < min) {
    throw new InvalidOptionError(flag, `must be ${kind === 'int' ? 'an integer' : 'a number'} ≥ ${min}, got "${raw}"`)
  }
  return v
}

/** `cortensor sim network`: per-node bandwidth and CPU at 10^4–10^6 nodes (simulations/network.ts). */
export function registerNetworkSim (sim: Command): void {
  const cmd = sim.command('network')
    .description('Per-node bandwidth and CPU of gossip, heartbeats, task messages and the DHT at large sizes, and the oracle\'s work per task')
    .option('--nodes <n,...>', 'network sizes (miners), comma-separated', '10000,100000')
  for (const [flag, , , , help] of FLAGS) {
    cmd.option(flag, help)
  }
  cmd
    .option('--split-all-topics', 'every topic kind per model, not only task and heartbeat')
    .option('--no-dht', 'leave the DHT out')
    .option('--sweep', 'sweep heartbeat period × mesh degree × models × topic layout and recommend the parameters that keep an idle node within 1 % of a core and 100 kbit/s')
    .option('--out <dir>', 'with --sweep: write network.csv there')
    .action(async (opts: Record<string, unknown>) => {
      const sizes = String(opts.nodes).split(',').map(s => number('--nodes', s, 'int', 2))
      const params: Partial<NetworkLoadParams> = { splitAllTopics: opts.splitAllTopics === true, dht: opts.dht !== false }
      for (const [flag, field, kind, min] of FLAGS) {
        const raw = opts[optionName(flag)]
        if (typeof raw === 'string') {
          (params as Record<string, number>)[field] = number(flag.split(' ')[0], raw, kind, min)
        }
      }
      params.taskRatePerS ??= 10
      const { loadTable, oracleTable, recommendationTable, sweepRows } = await import('../../simulations/network-report.ts')
      print(loadTable(sizes, params))
      print(oracleTable(sizes, params))
      if (opts.sweep === true) {
        const rows = sweepRows(sizes, params)
        print(recommendationTable(rows))
        if (typeof opts.out === 'string') {
          const { toCsv } = await import('../../simulations/csv.ts')
          mkdirSync(opts.out, { recursive: true })
          const file = join(opts.out, 'network.csv')
          writeFileSync(file, toCsv(rows))
          say(`${rows.length} sweep rows in ${file}`)
        }
      }
    })
}
