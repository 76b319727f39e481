/**
 * Typed errors of the roles: one class per failure, identified by `name`.
 */

/** A revealed output fails the structural rung: it does not decode, or does not fit its task. */
export class InvalidOutputError extends Error {
  static name = 'InvalidOutputError'

  constructor (detail: string) {
    super(detail)
    this.name = 'InvalidOutputError'
  }
}
