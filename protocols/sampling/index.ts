/**
 * Which tasks get the expensive checks even when their miners agree. A task
 * is sampled when a uniform number derived from sha256(domain ‖ beacon ‖
 * task id) is below the sampling rate, where the beacon is a chain value
 * fixed only after every miner of the task has committed: the oracle uses
 * the hash of the block that settled the task (its `TasksSettled` log), so
 * no miner can know at commit time whether its output will be replayed, the
 * leader cannot pick the value, and every oracle recomputes the decision
 * from the same log. Pure and browser-safe; the oracle and the simulator
 * call these functions.
 */
import { deriveSeed, seedToUnit } from '../selection/prng.ts'
import { SAMPLING_DOMAIN } from './constants.ts'
import type { TaskId } from '../selection/prng.ts'

export * from './constants.ts'
export * from './math.ts'

export class InvalidSampleRateError extends Error {
  static name = 'InvalidSampleRateError'

  constructor (rate: number) {
    super(`sampling rate must be in [0, 1], got ${rate}`)
    this.name = 'InvalidSampleRateError'
  }
}

/** The seed of a task's sampling decision. */
export function samplingSeed (beacon: Uint8Array, taskId: TaskId): Uint8Array {
  return deriveSeed(SAMPLING_DOMAIN, beacon, taskId)
}

/** The decision for a seed: its first 53 bits as a number in [0, 1) below `rate`. */
export function isSampledSeed (seed: Uint8Array, rate: number): boolean {
  if (!(rate >= 0 && rate <= 1)) {
    throw new InvalidSampleRateError(rate)
  }
  return seedToUnit(seed) < rate
}

/** Whether task `taskId` gets the expensive checks, given the post-reveal beacon. */
export function isSampled (beacon: Uint8Array, taskId: TaskId, rate: number): boolean {
  if (rate <= 0 || rate >= 1) {
    if (!(rate >= 0 && rate <= 1)) {
      throw new InvalidSampleRateError(rate)
    }
    return rate === 1
  }
  return seedToUnit(samplingSeed(beacon, taskId)) < rate
}

/**
 * Whether a settled task is audited (its accepted output replayed after
 * settlement): sampled by the beacon of its settlement block, and not
 * replayed already by validation (disagreeing outputs are replayed before
 * settlement, whatever the draw).
 */
export function isAuditDue (settlementBeacon: Uint8Array, taskId: TaskId, rate: number, replayedAtValidation: boolean): boolean {
  return !replayedAtValidation && isSampled(settlementBeacon, taskId, rate)
}
