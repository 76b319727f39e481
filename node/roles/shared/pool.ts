/**
 * The pool view lives in protocols/pool/view.ts (browser-safe: clients in a
 * page keep one too), and so does the check of its members against the chain
 * (protocols/pool/registrations.ts); the chain read is the hub's
 * (contracts `minerEligibility`).
 */
import { minerStandings } from '../../../contracts/index.ts'
import { MinerRegistrations } from '../../../protocols/pool/registrations.ts'
import type { ChainContext, HubLog } from './chain.ts'
import type { PoolView } from '../../../protocols/pool/view.ts'

export * from '../../../protocols/pool/view.ts'
export { MinerRegistrations, registeredHeartbeats } from '../../../protocols/pool/registrations.ts'

/** Registrations read from the hub of `chain`. */
export function chainRegistrations (chain: Pick<ChainContext, 'wallet' | 'hub'>): MinerRegistrations {
  return new MinerRegistrations({ standing: minerStandings(chain.wallet, chain.hub) })
}

/**
 * Keep the registrations in step with the hub's registry events (the role's
 * log poller): a miner that asks to unstake, is slashed or unregisters is
 * read again at once, and one that asks to unstake leaves the pool now, so
 * it is not drawn while its last heartbeat is fresh; one that registers or
 * adds stake is read at its next heartbeat rather than after the wait.
 */
export function followRegistry (log: HubLog, registrations: MinerRegistrations, pool: PoolView): void {
  switch (log.eventName) {
    case 'UnstakeRequested':
    case 'NodeUnregistered':
      registrations.refuse(log.args.node)
      pool.forget(log.args.node)
      break
    case 'NodeSlashed':
    case 'NodeRegistered':
    case 'StakeAdded':
      registrations.invalidate(log.args.node)
      break
    default:
      break
  }
}
