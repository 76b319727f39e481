/**
 * Human output of the CLI. Results go to stdout (pipeable), progress and
 * lifecycle lines to stderr so they never mix with results.
 */
export function print (text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function say (line: string): void {
  process.stderr.write(`${line}\n`)
}

/** Progress on one updating line when stderr is a terminal, otherwise sparse plain lines. */
export function progress (label: string): (done: number, total: number) => void {
  let lastPct = -1
  const tty = process.stderr.isTTY === true
  return (done, total) => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100
    if (pct === lastPct) {
      return
    }
    if (tty) {
      process.stderr.write(`\r${label} ${pct}%${pct >= 100 ? '\n' : ''}`)
    } else if (pct >= lastPct + 25 || pct >= 100) {
      process.stderr.write(`${label} ${pct}%\n`)
    } else {
      return
    }
    lastPct = pct
  }
}
