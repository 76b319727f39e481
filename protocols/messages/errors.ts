/** Typed errors of the wire layer: bad bytes or out-of-bounds fields. */

/** The bytes do not decode, or a repeated field exceeds its decode limit. */
export class MalformedMessageError extends Error {
  static name = 'MalformedMessageError'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'MalformedMessageError'
  }
}

/** The encoded message is larger than its size limit (checked before decoding). */
export class OversizeMessageError extends Error {
  static name = 'OversizeMessageError'
  readonly size: number
  readonly limit: number

  constructor (size: number, limit: number) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`)
    this.name = 'OversizeMessageError'
    this.size = size
    this.limit = limit
  }
}

/** A field is missing, has the wrong length, or is out of range. */
export class InvalidFieldError extends Error {
  static name = 'InvalidFieldError'
  readonly field: string

  constructor (field: string, reason: string) {
    super(`invalid field ${field}: ${reason}`)
    this.name = 'InvalidFieldError'
    this.field = field
  }
}
