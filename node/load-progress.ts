/**
 * What an operator sees while a model loads: on a terminal one line that
 * redraws as a bar, otherwise (a log file, a service manager) a plain line
 * at every LOAD_PROGRESS_STEP_PERCENT crossed. node-llama-cpp reports the
 * fraction loaded (`onLoadProgress`, 0…1) a few dozen times per model.
 */

/** Lines printed when not on a terminal: one per this many percent (11 lines per model at most). */
export const LOAD_PROGRESS_STEP_PERCENT = 10
/** Cells of the terminal bar. */
export const LOAD_PROGRESS_BAR_CELLS = 30

export interface LoadProgress {
  /** the fraction loaded, 0…1 (out-of-range values are clamped) */
  update(fraction: number): void
  /** the model is loaded: the bar ends at 100 % on its own line */
  done(): void
}

export interface LoadProgressOutput {
  /** a terminal: the bar redraws in place */
  tty: boolean
  /** raw text (the terminal bar) */
  write(text: string): void
  /** one whole line (without its newline) */
  line(text: string): void
}

/** The terminal bar for `fraction`: `[██████░░░░…]  42%`. */
export function progressBar (fraction: number, cells = LOAD_PROGRESS_BAR_CELLS): string {
  const f = clamp(fraction)
  const full = Math.round(f * cells)
  return `[${'█'.repeat(full)}${'░'.repeat(cells - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`
}

export function loadProgress (label: string, out: LoadProgressOutput): LoadProgress {
  let shown = -1
  let finished = false
  const show = (pct: number): void => {
    if (out.tty) {
      out.write(`\r${label} ${progressBar(pct / 100)}`)
    } else {
      out.line(`${label}: ${pct}%`)
    }
    shown = pct
  }
  return {
    update (fraction) {
      if (finished) {
        return
      }
      const pct = Math.floor(clamp(fraction) * 100)
      if (out.tty ? pct > shown : pct >= shown + LOAD_PROGRESS_STEP_PERCENT || (shown < 0 && pct >= 0)) {
        show(out.tty ? pct : pct - (pct % LOAD_PROGRESS_STEP_PERCENT))
      }
    },
    done () {
      if (finished) {
        return
      }
      if (shown < 100) {
        show(100)
      }
      if (out.tty) {
        out.write('\n')
      }
      finished = true
    }
  }
}

function clamp (fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0
}
