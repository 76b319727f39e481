/** Why a model could not be fetched from the network. */

/** No peer answered for the model within the discovery time, or a chunk no peer would serve. */
export class NoModelProviderError extends Error {
  static name = 'NoModelProviderError'
  readonly exitCode = 1

  constructor (message: string) {
    super(message)
    this.name = 'NoModelProviderError'
  }
}

/** The fetched file does not hash to the model id (the manifest lied); the file is not kept. */
export class ModelHashMismatchError extends Error {
  static name = 'ModelHashMismatchError'
  readonly expected: string
  readonly actual: string

  constructor (expected: string, actual: string) {
    super(`the fetched model hashes to ${actual}, not to the ${expected} it was fetched as; the file was discarded`)
    this.name = 'ModelHashMismatchError'
    this.expected = expected
    this.actual = actual
  }
}

/** A model file that cannot be read for sharing. */
export class ModelFileError extends Error {
  static name = 'ModelFileError'

  constructor (message: string) {
    super(message)
    this.name = 'ModelFileError'
  }
}
