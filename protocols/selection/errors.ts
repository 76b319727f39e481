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
