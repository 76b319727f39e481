/**
 * The session queue's phases and the helpers every part of the state
 * machine shares (protocols/queue/machine.ts, events.ts, deadlines.ts).
 */
import type { TaskPhase, TaskState } from './types.ts'

export const TERMINAL_PHASES: ReadonlySet<TaskPhase> = new Set(['settled', 'expired'])
/** Phases in which miners are still being assigned and working (before the reveal window). */
export const WORKING_PHASES: ReadonlySet<TaskPhase> = new Set(['assigned', 'acked'])

export function isTerminal (state: TaskState): boolean {
  return TERMINAL_PHASES.has(state.phase)
}

export function normaliseAddress (address: string): string {
  return address.toLowerCase()
}

/** The miners whose reveal matched their commitment. */
export function revealed (s: TaskState): string[] {
  return s.slots.filter(x => x.status === 'revealed').map(x => x.miner)
}
