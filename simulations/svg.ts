/** A small, dependency-free SVG line chart: axes, ticks, legend, title. */
export interface Series {
  name: string
  points: Array<[number, number]>
  dashed?: boolean
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  logY?: boolean
  width?: number
  height?: number
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function ticks (min: number, max: number, count = 5): number[] {
  if (max <= min) {
    return [min]
  }
  const raw = (max - min) / count
  const mag = Math.pow(10, Math.floor(Math.log10(raw)))
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)))
  }
  return out
}

function fmt (v: number): string {
  if (v === 0) {
    return '0'
  }
  const a = Math.abs(v)
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)))
}

export function lineChart (series: Series[], o: ChartOptions): string {
  const W = o.width ?? 640
  const H = o.height ?? 400
  const L = 70
  const R = 170
  const T = 40
  const Bm = 50
  const pts = series.flatMap(s => s.points).filter(([, y]) => Number.isFinite(y) && (o.logY !== true || y > 0))
  const xs = pts.map(p => p[0])
  const ys = pts.map(p => o.logY === true ? Math.log10(p[1]) : p[1])
  let x0 = Math.min(...xs, 0)
  let x1 = Math.max(...xs, 1e-12)
  let y0 = o.logY === true ? Math.floor(Math.min(...ys)) : Math.min(0, ...ys)
  let y1 = o.logY === true ? Math.ceil(Math.max(...ys)) : Math.max(...ys)
  if (!Number.isFinite(x0)) { x0 = 0; x1 = 1 }
  if (!Number.isFinite(y0) || !Number.isFinite(y1)) { y0 = 0; y1 = 1 }
  if (y1 <= y0) { y1 = y0 + 1 }
  if (x1 <= x0) { x1 = x0 + 1 }
  const sx = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R)
  const sy = (y: number): number => H - Bm - ((y - y0) / (y1 - y0)) * (H - T - Bm)
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
    `<line x1="${L}" y1="${H - Bm}" x2="${W - R}" y2="${H - Bm}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - Bm}" stroke="black"/>`
  ]
  for (const x of ticks(x0, x1)) {
    out.push(`<line x1="${sx(x)}" y1="${H - Bm}" x2="${sx(x)}" y2="${H - Bm + 4}" stroke="black"/>`,
      `<text x="${sx(x)}" y="${H - Bm + 16}" text-anchor="middle">${fmt(x)}</text>`)
  }
  const yt = o.logY === true ? Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i) : ticks(y0, y1)
  for (const y of yt) {
    out.push(`<line x1="${L - 4}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end">${o.logY === true ? `1e${y}` : fmt(y)}</text>`)
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="16" y="${(T + H - Bm) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - Bm) / 2})">${esc(o.yLabel)}</text>`)
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const p = s.points
      .filter(([, y]) => Number.isFinite(y) && (o.logY !== true || y > 0))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(o.logY === true ? Math.log10(y) : y).toFixed(1)}`)
    if (p.length > 0) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,4"' : ''} points="${p.join(' ')}"/>`)
      for (const xy of p) {
        const [cx, cy] = xy.split(',')
        out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`)
      }
    }
    const ly = T + 10 + i * 18
    out.push(`<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 36}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,4"' : ''}/>`,
      `<text x="${W - R + 42}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
