/**
 * The session queue's events: each one checks that it is allowed in the
 * task's phase (and its miner's status), throwing a typed error otherwise,
 * and applies itself to the clone it is given. protocols/queue/machine.ts
 * dispatches them (`applyEvent`).
 */
import { expire } from './deadlines.ts'
import { DuplicateEventError, IllegalTransitionError, InvalidEventError, PrematureRevealError, UnknownMinerError } from './errors.ts'
import { WORKING_PHASES, normaliseAddress } from './phases.ts'
import type { MinerSlot, QueueEffect, QueueEvent, TaskState } from './types.ts'

/** Apply `event` to `s` (a clone, not terminal) at `nowMs`; what to do next goes on `effects`. */
export function applyEvent (s: TaskState, event: QueueEvent, nowMs: number, effects: QueueEffect[]): void {
  switch (event.type) {
    case 'assigned': onAssigned(s, event, nowMs, effects); break
    case 'ack': onAck(s, event.miner, nowMs); break
    case 'declined': onDeclined(s, event.miner, effects); break
    case 'precommit': onPrecommit(s, event.miner, event.commitment); break
    case 'reveal': onReveal(s, event, effects); break
    case 'verdict': onVerdict(s, event, nowMs, effects); break
    case 'settled': onSettled(s, event.txHash, effects); break
    case 'settled-on-chain': onSettledOnChain(s, event.txHash, effects); break
    default: throw new InvalidEventError(`unknown event ${(event as { type: string }).type}`)
  }
}

function onAssigned (s: TaskState, e: Extract<QueueEvent, { type: 'assigned' }>, nowMs: number, effects: QueueEffect[]): void {
  const miners = e.miners.map(normaliseAddress)
  if (miners.length === 0 || new Set(miners).size !== miners.length) {
    throw new InvalidEventError('an assignment needs distinct miners')
  }
  if (s.phase === 'queued') {
    // a node that missed the first assignment (it joined later) knows none of the replaced: the
    // replacement is the task's assignment as far as it can tell
    if (miners.length > s.redundancy) {
      throw new InvalidEventError(`${miners.length} miners assigned, redundancy is ${s.redundancy}`)
    }
  } else if (WORKING_PHASES.has(s.phase)) {
    if (e.round <= s.round) {
      throw new InvalidEventError(`replacement round ${e.round} is not after round ${s.round}`)
    }
    // the leader names whom it replaces: a slot this node's clock has not timed out yet ends now
    for (const gone of (e.replaced ?? []).map(normaliseAddress)) {
      const slot = s.slots.find(x => x.miner === gone)
      if (slot?.status === 'reassigned') {
        continue
      }
      if (slot == null || !(slot.status === 'assigned' || slot.status === 'acked' || slot.status === 'precommitted')) {
        throw new InvalidEventError(`miner ${gone} holds no live slot to replace`)
      }
      slot.status = 'reassigned'
      slot.deadlineMs = null
      s.vacancies++
    }
    if (miners.length > s.vacancies) {
      throw new IllegalTransitionError(s.phase, e.type, `${miners.length} replacements for ${s.vacancies} vacancies`)
    }
    const known = new Set(s.slots.map(x => x.miner))
    const again = miners.find(m => known.has(m))
    if (again != null) {
      throw new InvalidEventError(`miner ${again} was already assigned to this task`)
    }
    s.vacancies -= miners.length
    if (s.vacancies === 0) {
      s.vacancyDeadlineMs = null
    }
  } else {
    throw new IllegalTransitionError(s.phase, e.type)
  }
  s.round = Math.max(s.round, e.round)
  for (const miner of miners) {
    s.slots.push({ miner, round: e.round, status: 'assigned', deadlineMs: nowMs + s.timeouts.ackMs })
  }
  if (s.phase === 'queued') {
    s.phase = 'assigned'
    s.phaseDeadlineMs = null
    s.retries = 0
  }
  void effects
}

function slotOf (s: TaskState, miner: string): MinerSlot {
  const m = normaliseAddress(miner)
  const slot = s.slots.find(x => x.miner === m)
  if (slot == null) {
    throw new UnknownMinerError(m)
  }
  return slot
}

function onAck (s: TaskState, miner: string, nowMs: number): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'ack')
  }
  const slot = slotOf(s, miner)
  if (slot.status === 'acked' || slot.status === 'precommitted') {
    throw new DuplicateEventError('ack', slot.miner)
  }
  if (slot.status !== 'assigned') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'ack')
  }
  slot.status = 'acked'
  slot.deadlineMs = nowMs + s.timeouts.precommitMs
}

/**
 * A decline is about the task, not the miner: once a majority of the
 * redundancy has declined, no miner will run it and the task expires now
 * (no one is penalised). A minority decline changes nothing: that miner's
 * ack or precommit deadline replaces it as usual.
 */
function onDeclined (s: TaskState, miner: string, effects: QueueEffect[]): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'declined')
  }
  const slot = slotOf(s, miner)
  if (slot.status !== 'assigned' && slot.status !== 'acked') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'declined')
  }
  const declined = new Set(s.declined ?? [])
  if (declined.has(slot.miner)) {
    throw new DuplicateEventError('declined', slot.miner)
  }
  declined.add(slot.miner)
  s.declined = [...declined]
  if (declined.size >= declineQuorum(s.redundancy)) {
    expire(s, 'declined', effects)
  }
}

/** Declines that end a task: a majority of its redundancy. */
export function declineQuorum (redundancy: number): number {
  return Math.floor(Math.max(1, redundancy) / 2) + 1
}

function onPrecommit (s: TaskState, miner: string, commitment: string): void {
  if (!WORKING_PHASES.has(s.phase)) {
    throw new IllegalTransitionError(s.phase, 'precommit')
  }
  const slot = slotOf(s, miner)
  if (slot.status === 'precommitted') {
    throw new DuplicateEventError('precommit', slot.miner)
  }
  // a precommit may overtake its ack on gossip: it implies the ack
  if (slot.status !== 'assigned' && slot.status !== 'acked') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'precommit')
  }
  slot.status = 'precommitted'
  slot.commitment = commitment
  slot.deadlineMs = null
}

function onReveal (s: TaskState, e: Extract<QueueEvent, { type: 'reveal' }>, effects: QueueEffect[]): void {
  if (WORKING_PHASES.has(s.phase)) {
    slotOf(s, e.miner)
    throw new PrematureRevealError(normaliseAddress(e.miner))
  }
  if (s.phase !== 'precommitted') {
    throw new IllegalTransitionError(s.phase, 'reveal')
  }
  const slot = slotOf(s, e.miner)
  if (slot.status === 'revealed' || slot.status === 'faulty') {
    throw new DuplicateEventError('reveal', slot.miner)
  }
  if (slot.status !== 'precommitted') {
    throw new IllegalTransitionError(`miner ${slot.status}`, 'reveal')
  }
  if (e.matchesCommitment) {
    slot.status = 'revealed'
    slot.outputCid = e.outputCid
  } else {
    slot.status = 'faulty'
    effects.push({ type: 'slash', miner: slot.miner, reason: 'reveal-mismatch' })
  }
}

function onVerdict (s: TaskState, e: Extract<QueueEvent, { type: 'verdict' }>, nowMs: number, effects: QueueEffect[]): void {
  if (s.phase !== 'committed') {
    throw new IllegalTransitionError(s.phase, 'verdict')
  }
  const accepted = e.accepted.map(normaliseAddress)
  const rejected = e.rejected.map(normaliseAddress)
  const judged = [...accepted, ...rejected]
  if (new Set(judged).size !== judged.length) {
    throw new InvalidEventError('a miner cannot be both accepted and rejected')
  }
  for (const miner of judged) {
    if (slotOf(s, miner).status !== 'revealed') {
      throw new InvalidEventError(`miner ${miner} did not reveal and cannot be judged`)
    }
  }
  s.accepted = accepted
  s.rejected = rejected
  s.phase = 'validated'
  s.retries = 0
  s.phaseDeadlineMs = nowMs + s.timeouts.settleMs
  effects.push({ type: 'settle', accepted, rejected, attempt: 0 })
}

function onSettled (s: TaskState, txHash: string, effects: QueueEffect[]): void {
  if (s.phase !== 'validated') {
    throw new IllegalTransitionError(s.phase, 'settled')
  }
  s.phase = 'settled'
  s.txHash = txHash
  s.phaseDeadlineMs = null
  effects.push({ type: 'settled', txHash })
}

/**
 * The hub settled the task (another oracle's settlement, seen on chain
 * before this node saw the verdict): settled from any phase that is not
 * terminal. The chain has the last word, so deadlines that passed here do
 * not fire first (`transition` does not tick for this event).
 */
function onSettledOnChain (s: TaskState, txHash: string, effects: QueueEffect[]): void {
  s.phase = 'settled'
  s.txHash = txHash
  s.phaseDeadlineMs = null
  effects.push({ type: 'settled', txHash })
}
