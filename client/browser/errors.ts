/** Typed errors of the browser light client and its page; each is identified by `name`. */

/** The light client was given no bootstrap address, or one that names no peer. */
export class InvalidBootstrapError extends Error {
  static name = 'InvalidBootstrapError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidBootstrapError'
  }
}

export class BootstrapDialError extends Error {
  static name = 'BootstrapDialError'

  constructor (addrs: string[], cause: unknown) {
    super(`could not reach any bootstrap node (${addrs.join(', ')}): ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'BootstrapDialError'
  }
}

export class NoRelayError extends Error {
  static name = 'NoRelayError'

  constructor () {
    super('not connected to a bootstrap relay, so WebRTC cannot be signalled')
    this.name = 'NoRelayError'
  }
}

/** The light client's node was asked for before start() (or after stop()). */
export class LightClientNotStartedError extends Error {
  static name = 'LightClientNotStartedError'

  constructor () {
    super('the light client is not started')
    this.name = 'LightClientNotStartedError'
  }
}

/** A dial target that is neither a peer id nor a multiaddr ending in one. */
export class NoPeerError extends Error {
  static name = 'NoPeerError'

  constructor (target: string) {
    super(`${target} names no peer`)
    this.name = 'NoPeerError'
  }
}

/** The `ice` setting is neither a list of STUN/TURN URLs nor a JSON RTCIceServer array. */
export class InvalidIceServersError extends Error {
  static name = 'InvalidIceServersError'

  constructor (message: string) {
    super(message)
    this.name = 'InvalidIceServersError'
  }
}

/** The page's HTML lacks an element the script needs. */
export class PageElementMissingError extends Error {
  static name = 'PageElementMissingError'

  constructor (id: string) {
    super(`page element #${id} is missing`)
    this.name = 'PageElementMissingError'
  }
}

/** A prompt sent in router mode with no router URL set. */
export class NoRouterError extends Error {
  static name = 'NoRouterError'

  constructor () {
    super('no router URL: give one in the Router URL field or ?router=')
    this.name = 'NoRouterError'
  }
}
