/** A scenario value that cannot be used; `field` is the dotted path of the offending field. */
export class ScenarioError extends Error {
  static name = 'ScenarioError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`scenario field "${field}": ${reason}`)
    this.name = 'ScenarioError'
    this.field = field
  }
}

export class ScenarioFormatError extends Error {
  static name = 'ScenarioFormatError'

  constructor (reason: string) {
    super(`scenario file: ${reason}`)
    this.name = 'ScenarioFormatError'
  }
}
