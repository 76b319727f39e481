/** CSV in and out (numbers with fixed precision so a seed gives identical bytes). */
export type Row = Record<string, string | number | boolean>

function cell (v: string | number | boolean): string {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toPrecision(8).replace(/\.?0+$/, '').replace(/\.?0+e/, 'e')) : ''
  }
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv (rows: Row[]): string {
  if (rows.length === 0) {
    return ''
  }
  const cols: string[] = []
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!cols.includes(k)) {
        cols.push(k)
      }
    }
  }
  return [cols.join(','), ...rows.map(r => cols.map(c => r[c] === undefined ? '' : cell(r[c])).join(','))].join('\n') + '\n'
}

/** Parse the CSV this module writes (quoted cells allowed, no embedded newlines). */
export function fromCsv (text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter(l => l.length > 0)
  const split = (line: string): string[] => {
    const out: string[] = []
    let cur = ''
    let q = false
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++ } else if (ch === '"') { q = false } else { cur += ch }
      } else if (ch === '"') { q = true } else if (ch === ',') { out.push(cur); cur = '' } else { cur += ch }
    }
    out.push(cur)
    return out
  }
  const [head, ...rest] = lines
  if (head === undefined) {
    return []
  }
  const cols = split(head)
  return rest.map(l => {
    const cells = split(l)
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']))
  })
}
