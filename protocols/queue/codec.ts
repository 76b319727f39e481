/** Task state ↔ JSON text, for the datastore. The state is plain data; this only checks the shape on the way back in. */
import { STATE_VERSION } from './constants.ts'
import { CorruptStateError } from './errors.ts'
import type { TaskState } from './types.ts'

const PHASES = new Set(['queued', 'assigned', 'acked', 'precommitted', 'committed', 'validated', 'settled', 'expired'])
const STATUSES = new Set(['assigned', 'acked', 'precommitted', 'revealed', 'reassigned', 'missed', 'faulty'])

export function serialiseState (state: TaskState): string {
  return JSON.stringify(state)
}

export function deserialiseState (text: string): TaskState {
  let value: any
  try {
    value = JSON.parse(text)
  } catch {
    throw new CorruptStateError('not JSON')
  }
  if (value == null || typeof value !== 'object') {
    throw new CorruptStateError('not an object')
  }
  if (value.version !== STATE_VERSION) {
    throw new CorruptStateError(`version ${value.version}, expected ${STATE_VERSION}`)
  }
  if (typeof value.taskId !== 'string' || typeof value.sessionId !== 'string') {
    throw new CorruptStateError('missing ids')
  }
  if (!PHASES.has(value.phase)) {
    throw new CorruptStateError(`unknown phase ${value.phase}`)
  }
  for (const key of ['redundancy', 'createdAtMs', 'deadlineMs', 'round', 'reassignments', 'vacancies', 'retries']) {
    if (typeof value[key] !== 'number') {
      throw new CorruptStateError(`${key} is not a number`)
    }
  }
  if (!Array.isArray(value.slots) || !value.slots.every((x: any) => typeof x?.miner === 'string' && STATUSES.has(x.status))) {
    throw new CorruptStateError('bad miner slots')
  }
  if (!Array.isArray(value.accepted) || !Array.isArray(value.rejected) || typeof value.timeouts !== 'object' || typeof value.limits !== 'object') {
    throw new CorruptStateError('missing verdicts, timeouts or limits')
  }
  return value as TaskState
}
