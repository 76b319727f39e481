/**
 * How a miner behaves where a faulty one differs. The honest behaviour
 * changes nothing; `faultyBehaviour` turns the `MinerFaults` of a fault test
 * or demo into the same hooks, so the role's honest path has no fault
 * branches: it calls each hook at one point and does what it says.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { throttleEngine } from '../../inference/throttle.ts'
import { CopyFault } from './copy-fault.ts'
import { revealStrategy } from './reveals.ts'
import type { RevealsInit } from './reveals.ts'
import type { MinerBehaviour, MinerFaults } from './types.ts'

export type BehaviourInit = Omit<RevealsInit, 'copier'> & {
  /** the role's lifetime: the copier's waits end with it */
  signal: AbortSignal
}

/** The honest miner. */
export function honestBehaviour (init: Omit<RevealsInit, 'copier'>): MinerBehaviour {
  const reveals = revealStrategy({ ...init, copier: { reveal: async () => undefined } })
  return {
    engine: (engine) => engine,
    advertisedTokensPerSec: (tokensPerSec) => tokensPerSec,
    drawsSelf: (honest) => honest(),
    replaceWork: () => null,
    afterToken: () => undefined,
    beforeFirstToken: () => undefined,
    reveals,
    onPrecommit: () => {},
    onReveal: () => {},
    watchesReveals: false
  }
}

/** The behaviour `faults` ask for: the honest one where they ask for nothing. */
export function minerBehaviour (faults: MinerFaults | undefined, init: BehaviourInit): MinerBehaviour {
  const honest = honestBehaviour(init)
  if (faults == null) {
    return honest
  }
  const b: MinerBehaviour = { ...honest, reveals: revealStrategy({ ...init, faults, copier: { reveal: async () => undefined } }) }
  const throttle = faults.throttleTokensPerSec
  if (throttle != null && throttle > 0) {
    // the slow-engine fault: the engine itself is slow, so the miner's benchmark measures it too
    b.engine = (engine) => throttleEngine(engine, throttle)
  }
  const claim = faults.claimTokensPerSec
  if (claim != null) {
    // a configured speed still wins: only the measured one is lied about
    b.advertisedTokensPerSec = (tokensPerSec) => tokensPerSec ?? claim
  }
  if (faults.misdraw === true) {
    b.drawsSelf = () => true
  }
  const delayMs = faults.tokenDelayMs
  if (delayMs != null) {
    b.afterToken = async (signal) => { await sleep(delayMs, undefined, { signal }).catch(() => {}) }
  }
  const firstDelayMs = faults.firstTokenDelayMs
  if (firstDelayMs != null) {
    b.beforeFirstToken = async (signal) => { await sleep(firstDelayMs, undefined, { signal }).catch(() => {}) }
  }
  if (faults.copyOthers === true) {
    const copier = new CopyFault({ node: init.node, address: init.address, signal: init.signal })
    b.drawsSelf = () => false
    b.replaceWork = async (taskId, signal) => copier.commitment(taskId, signal)
    b.reveals = revealStrategy({ ...init, faults, copier })
    b.onPrecommit = (m) => { copier.onPrecommit(m) }
    b.onReveal = (m) => { copier.onReveal(m) }
    b.watchesReveals = true
  }
  return b
}
