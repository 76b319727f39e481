export class NotEnoughMinersError extends Error {
  static name = 'NotEnoughMinersError'
  readonly wanted: number
  readonly available: number

  constructor (wanted: number, available: number) {
    super(`selection needs ${wanted} distinct eligible miners but only ${available} are available`)
    this.name = 'NotEnoughMinersError'
    this.wanted = wanted
    this.available = available
  }
}

export class InvalidSeedError extends Error {
  static name = 'InvalidSeedError'

  constructor (reason: string) {
    super(`invalid selection seed: ${reason}`)
    this.name = 'InvalidSeedError'
  }
}

export class InvalidRedundancyError extends Error {
  static name = 'InvalidRedundancyError'

  constructor (value: number) {
    super(`redundancy must be an integer from 1 to 64, got ${value}`)
    this.name = 'InvalidRedundancyError'
  }
}

export class InvalidWeightError extends Error {
  static name = 'InvalidWeightError'

  constructor (index: number, value: number) {
    super(`weight of miner #${index} must be a non-negative integer, got ${value}`)
    this.name = 'InvalidWeightError'
  }
}

/** The filter of a draw that left too few miners, in the order they apply (routing.ts, `emptyingFilter`). */
export type DrawFilter = 'model' | 'healthy' | 'gpu' | 'level' | 'tokens-per-sec' | 'first-token' | 'reserved'

/**
 * A draw that cannot be made: after `filter` fewer than `needed` miners are
 * left (`eligible` of them). A session whose SLA policy is `wait` gets this
 * when no live miner meets its SLA, instead of a task that waits for nothing.
 */
export class NoEligibleMinerError extends Error {
  static name = 'NoEligibleMinerError'
  readonly filter: DrawFilter
  readonly needed: number
  readonly eligible: number

  constructor (filter: DrawFilter, needed: number, eligible: number, detail = '') {
    super(`no eligible miner: ${needed} needed, ${eligible} left after the ${filter} filter${detail !== '' ? ` (${detail})` : ''}`)
    this.name = 'NoEligibleMinerError'
    this.filter = filter
    this.needed = needed
    this.eligible = eligible
  }
}
