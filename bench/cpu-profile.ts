/**
 * Where a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` or
 * bench/cost-probe.ts write them) spent its time: self time by function and
 * by package, busiest first, as markdown. Run directly on files:
 * `node bench/cpu-profile.ts a.cpuprofile …`.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** `node_modules/@libp2p/kad-dht/…` → `@libp2p/kad-dht`; a project file → its folder; V8's own entries as they are. */
function packageOf (url: string): string {
  if (url === '') {
    return '(native / V8)'
  }
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m != null) {
    return m[1]
  }
  if (url.startsWith('node:')) {
    return 'node:*'
  }
  const p = /\/(node|protocols|contracts|client|bench)\/([^/]+)/.exec(url)
  return p != null ? `${p[1]}/${p[2].endsWith('.ts') ? p[2] : `${p[2]}/`}` : url
}

export async function summarizeProfile (file: string, top = 15): Promise<string> {
  let profile: Profile
  try {
    profile = JSON.parse(await readFile(file, 'utf8'))
  } catch (err: any) {
    return `(no profile: ${err?.code ?? err?.message})\n`
  }
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  // a sample's time is the delta to the next sample
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt)
  }
  const fn = new Map<string, number>()
  const pkg = new Map<string, number>()
  let busyUs = 0
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame
    if (f == null || f.functionName === '(idle)') {
      continue
    }
    busyUs += us
    const where = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\/.*?\/(node_modules|node|protocols|contracts|client|bench)\//, '$1/')}:${f.lineNumber + 1}`
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`
    fn.set(key, (fn.get(key) ?? 0) + us)
    const p = packageOf(f.url)
    pkg.set(p, (pkg.get(p) ?? 0) + us)
  }
  const wallS = (profile.endTime - profile.startTime) / 1e6
  const table = (title: string, m: Map<string, number>): string => {
    const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    return [`| ${title} | self ms | ms/s | share |`, '|---|---|---|---|',
      ...rows.map(([k, us]) => `| ${k.replace(/\|/g, '\\|')} | ${(us / 1000).toFixed(1)} | ${(us / 1000 / wallS).toFixed(3)} | ${(100 * us / busyUs).toFixed(1)} % |`)].join('\n')
  }
  return `${(busyUs / 1000).toFixed(0)} ms busy of ${wallS.toFixed(1)} s on the JavaScript thread (${(busyUs / 1000 / wallS).toFixed(2)} ms/s)\n\n${table('package', pkg)}\n\n${table('function', fn)}\n`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const file of process.argv.slice(2)) {
    process.stdout.write(`## ${file}\n\n${await summarizeProfile(file)}\n`)
  }
}
