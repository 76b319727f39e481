/**
 * The node's own failures (outside the roles), one class per failure,
 * identified by `name`.
 */

/** The node's libp2p, storage, identity or datastore was asked for before `start()` (or after `stop()`). */
export class NodeNotStartedError extends Error {
  static name = 'NodeNotStartedError'

  constructor () {
    super('node is not started')
    this.name = 'NodeNotStartedError'
  }
}

/** A local network's bootstrap node listens on no TCP address the other nodes could dial. */
export class NoBootstrapAddressError extends Error {
  static name = 'NoBootstrapAddressError'

  constructor (message = 'the bootstrap node has no TCP address') {
    super(message)
    this.name = 'NoBootstrapAddressError'
  }
}

/** A local network on an external chain was started without the key that deploys the hub and funds the nodes. */
export class OwnerKeyRequiredError extends Error {
  static name = 'OwnerKeyRequiredError'

  constructor () {
    super('an external chain needs the key that deploys the hub and funds the nodes (ownerKey)')
    this.name = 'OwnerKeyRequiredError'
  }
}

/** A local network's miners did not all reach the client's and oracles' pools in time. */
export class PoolNotFilledError extends Error {
  static name = 'PoolNotFilledError'
  readonly seen: number
  readonly expected: number

  constructor (seen: number, expected: number) {
    super(`the pool did not fill: client sees ${seen} of ${expected} miners`)
    this.name = 'PoolNotFilledError'
    this.seen = seen
    this.expected = expected
  }
}

/** `@libp2p/crypto` gave another key type where a secp256k1 key was asked for. */
export class UnexpectedKeyTypeError extends Error {
  static name = 'UnexpectedKeyTypeError'
  readonly type: string

  constructor (type: string) {
    super('@libp2p/crypto returned a non-secp256k1 key for 32 raw bytes')
    this.name = 'UnexpectedKeyTypeError'
    this.type = type
  }
}
