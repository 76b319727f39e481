/**
 * Benchmark output: every figure is printed as a ratio against a baseline
 * measured in the same run, beside the absolute numbers. And the one timing
 * of a token stream that the direct and the mesh figures share.
 */
export interface BenchFigure {
  /** what is measured, e.g. "gossip latency p50 (20 nodes)" */
  name: string
  value: number
  unit: string
  /** what the value is compared with, measured in the same run */
  baseline?: { name: string, value: number }
  /** the goal from the issue, printed beside the ratio, e.g. "≥ 0.95" */
  goal?: string
}

function fmt (n: number): string {
  if (!Number.isFinite(n)) {
    return String(n)
  }
  const abs = Math.abs(n)
  if (abs >= 1000) {
    return n.toFixed(0)
  }
  if (abs >= 10) {
    return n.toFixed(1)
  }
  if (abs >= 0.01) {
    return n.toFixed(3)
  }
  return n.toExponential(2)
}

export function formatFigures (title: string, figures: BenchFigure[]): string {
  const lines = [`## ${title}`, '', '| figure | value | baseline | ratio | goal |', '|---|---|---|---|---|']
  for (const f of figures) {
    const base = f.baseline == null ? '–' : `${f.baseline.name}: ${fmt(f.baseline.value)} ${f.unit}`
    const ratio = f.baseline == null || f.baseline.value === 0 ? '–' : fmt(f.value / f.baseline.value)
    lines.push(`| ${f.name} | ${fmt(f.value)} ${f.unit} | ${base} | ${ratio} | ${f.goal ?? '–'} |`)
  }
  return lines.join('\n') + '\n'
}

export function printFigures (title: string, figures: BenchFigure[]): void {
  process.stdout.write(formatFigures(title, figures) + '\n')
}

/** A table that is not a list of figures (verdict counts, distributions), as markdown. */
export function printTable (title: string, header: string[], rows: string[][]): void {
  const lines = [`## ${title}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`]
  for (const r of rows) {
    lines.push(`| ${r.join(' | ')} |`)
  }
  process.stdout.write(lines.join('\n') + '\n\n')
}

export function percentile (values: number[], p: number): number {
  if (values.length === 0) {
    return NaN
  }
  const sorted = [...values].sort((a, b) => a - b)
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

/**
 * First-token time after `t0`, and tokens/s between the first and the last
 * token. The end of the iteration is not the last token: a miner's stream
 * ends once the output is stored, the engine's generator once its sequence
 * is cleared.
 */
export async function timeTokens (tokens: AsyncIterable<unknown>, t0: number): Promise<{ ttftMs: number, tokensPerSec: number }> {
  let first = 0
  let last = 0
  let n = 0
  for await (const t of tokens) {
    void t
    last = performance.now()
    if (n++ === 0) {
      first = last
    }
  }
  return { ttftMs: first - t0, tokensPerSec: (n - 1) / ((last - first) / 1000) }
}
