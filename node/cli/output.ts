/**
 * Human output of the CLI. Results go to stdout (pipeable), progress and
 * lifecycle lines to stderr so they never mix with results.
 */
export function print (text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/**
 * Text from elsewhere (a model's output) made safe for a terminal: control
 * characters other than newline and tab (C0, DEL, C1: escape sequences that
 * could move the cursor, recolour or retitle the terminal) are shown as
 * `\xNN` / `\uNNNN` escapes; everything else is left as it is.
 */
export function terminalSafe (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** Write model output to stdout: escaped for a terminal, as it is when piped. */
export function writeOutput (text: string): void {
  process.stdout.write(process.stdout.isTTY === true ? terminalSafe(text) : text)
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
