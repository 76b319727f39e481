/**
 * The miner role's types: its options, the faults tests and demos inject,
 * and a task as the miner holds it. Every module of the role imports its
 * types from here, never from index.ts.
 */
import type { HubDomain } from '../../../contracts/index.ts'
import type { Precommit, Reveal, TaskQueued } from '../../../protocols/messages/index.ts'
import type { MinerWorkState } from '../../../protocols/miner/types.ts'
import type { QueueTimeouts, TaskState } from '../../../protocols/queue/types.ts'
import type { InferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { TokenBuffer } from '../shared/stream.ts'
import type { PeerId } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'

/**
 * The slice of a node the miner uses (js-libp2p's service style:
 * `miner(init)(components)`); `minerComponents(node)` takes it from a
 * started node.
 */
export interface MinerComponents {
  /** gossip (its pubsub service), the token-stream protocol and the dials that fetch prompts */
  libp2p: CortensorNode['libp2p']
  /** Helia: prompts in, outputs out, by CID */
  store: Pick<CortensorNode['store'], 'getJson' | 'putJson'>
  /** where the task records live across restarts */
  datastore: CortensorNode['datastore']
  /** the node's `/metrics` registry */
  registry: Registry
  /** peers whose gossip contradicted the chain (their gossip score drops) */
  contradictions: Pick<CortensorNode['contradictions'], 'add'>
  /** the node's key: its address is the miner's on the hub, its private key signs precommits and reveals */
  peerIdentity: Pick<CortensorNode['peerIdentity'], 'address' | 'privateKey'>
  /** the network name (topics and protocols are `/<network>/…`) and the data dir (the capability cache) */
  config: Pick<CortensorNode['config'], 'network' | 'dataDir'>
}

export interface MinerRoleInit {
  node: MinerComponents
  engine: InferenceEngine
  /**
   * More models the miner serves, each on its own engine: one node, one key,
   * one reservation and one heartbeat listing every model; a task runs on
   * the engine of its model
   */
  engines?: InferenceEngine[]
  /** the hub's EIP-712 domain (chain id + hub address) the precommits are signed under */
  domain: HubDomain
  /** model id advertised and served; default the engine's */
  modelId?: string
  topicPrefix?: string
  heartbeatIntervalMs?: number
  /** a reservation whose session sends no task for this long ends (default 30 s, reservation.ts) */
  reservationIdleMs?: number
  /** advertised hardware class; default the hardware probe's class (node/inference/hardware.ts), else `cpu` */
  hardwareClass?: string
  /** advertised level; default the level of the node's record on chain (re-read at every re-provide), else 0 */
  level?: number
  /**
   * The chain, read-only: session terms (reserve period, task budget) for
   * reservations and the node's level. Without it the miner does not
   * reserve itself and advertises `level` or 0.
   */
  chain?: Pick<ChainContext, 'wallet' | 'hub'>
  /** re-provide the pool keys this often; default 10 min (records live 48 h; the level is re-read each time) */
  provideIntervalMs?: number
  /** speed advertised in heartbeats (tokens/s); default the capability benchmark's (node/inference/capability.ts) */
  tokensPerSec?: number
  /** where the capability benchmark is cached; default `<data dir>/capability` */
  capabilityDir?: string
  /** must match the oracles' queue timeouts */
  timeouts?: Partial<QueueTimeouts>
  /** how long finished tasks stay in memory for late streams; default 60 s */
  retainMs?: number
  /** deliberate misbehaviour, for fault tests and demos (turned into a `MinerBehaviour`, behaviour.ts) */
  faults?: MinerFaults
  /** how the miner behaves where a faulty one differs; default the honest behaviour, or the one `faults` ask for */
  behaviour?: MinerBehaviour
  /** one line per step, for logs and the devnet */
  onLine?(line: string): void
}

/** Deliberate misbehaviour, for the fraud tests and demos. Honest miners leave this unset. */
export interface MinerFaults {
  /** reveal a salt other than the committed one */
  revealMismatch?: boolean
  /** do not generate: copy another miner's precommit and later its reveal */
  copyOthers?: boolean
  /** a slow miner: wait this long before each token */
  tokenDelayMs?: number
  /**
   * a miner slow to start: hold its first token back this long on every task
   * (its start-up benchmark does not see it, so its heartbeats claim the quick first token measured)
   */
  firstTokenDelayMs?: number
  /** a slow engine: generation (the start-up benchmark's too) no faster than this many tokens/s */
  throttleTokensPerSec?: number
  /** a miner that lies about its speed: advertise this many tokens/s whatever its benchmark measured */
  claimTokensPerSec?: number
  /** a miner whose pool view is wrong: its own draw always names it, so it starts every task */
  misdraw?: boolean
  /** reveal the committed output, then sign and reveal a different one (provable: slashEquivocation) */
  equivocate?: boolean
  /** precommit, then never reveal (a miner gone between its precommit and the reveal window) */
  withholdReveal?: boolean
}

/** What the miner committed to for a task. */
export interface Committed {
  taskId: bigint
  outputCid: string
  salt: Hex
}

/** A precommit's own fields, as the work produced them. */
export interface CommitmentFields {
  outputCid?: string
  salt?: Hex
  commitment: Hex
  signature: Hex
  tokens?: number
}

/**
 * How a miner behaves at the points where a faulty one differs: the honest
 * behaviour (behaviour.ts) changes nothing; each fault of `MinerFaults`
 * overrides one hook. The role calls every hook at its one defined point.
 */
export interface MinerBehaviour {
  /** the engine the miner runs (and benchmarks) */
  engine<E extends InferenceEngine>(engine: E): E
  /** the speed heartbeats advertise, given the configured or measured one */
  advertisedTokensPerSec(tokensPerSec: number | undefined): number | undefined
  /** whether the miner's own draw of a task names it, given the honest answer */
  drawsSelf(honest: () => boolean): boolean
  /**
   * Instead of generating: the commitment to precommit (undefined: none);
   * null: generate as an honest miner does
   */
  replaceWork(taskId: bigint, signal: AbortSignal): Promise<CommitmentFields | undefined> | null
  /** after each generated token */
  afterToken(signal: AbortSignal): Promise<void> | undefined
  /** before a task's first token goes out */
  beforeFirstToken(signal: AbortSignal): Promise<void> | undefined
  /** the reveals to gossip for a task, in order (none: reveal nothing) */
  reveals(committed: Committed | undefined, taskId: bigint): Promise<Reveal[]>
  /** others' precommits and reveals as they come */
  onPrecommit(m: Precommit): void
  onReveal(m: Reveal): void
  /**
   * whether the miner listens to others' reveals at all: an honest miner does
   * not (it publishes its own to the oracles without joining the topic)
   */
  watchesReveals: boolean
}

/** A task's record in the datastore: what a restarted miner resumes from. */
export interface MinerRecord {
  /** the announcement the miner works on (TaskQueued, hex) */
  queued: Hex
  /** the session queue's state of the task, as this miner sees it */
  state: TaskState
  /** how far the miner's own work on it got */
  work: MinerWorkState
}

/** Work on the miner's own draw, waiting for the assignment. */
export interface Speculation {
  /** true once the assignment names this miner, false when it does not (or none came in time) */
  decided: Promise<boolean>
  decide(assigned: boolean): void
  /** ends the wait for the assignment */
  settled: AbortController
}

/** The work running on a task: its cancellation and the tokens it streams. */
export interface WorkRun {
  abort: AbortController
  /** undefined once work on the miner's own draw is dropped */
  buffer: TokenBuffer | undefined
  speculation: Speculation | undefined
}

/** Another announcement of a task id by its submitter. */
export interface Alternative {
  queued: TaskQueued
  from: PeerId | undefined
}

export interface MinerTask {
  queued: TaskQueued
  /** the peer that announced the task (the submitter, who holds the prompt) */
  from: PeerId | undefined
  record: MinerRecord
  /** the work running now, if any */
  run: WorkRun | undefined
  /** acks, declines and precommits that came before the assignment: applied once it is */
  overtaken: Array<() => void>
  /** the task's events, one after another */
  chain: Promise<void>
  /** when the miner was done with the task (kept `retainMs` for late streams) */
  finishedAtMs: number | undefined
  /** token-stream requests waiting for the work to start or be refused */
  waiters: Array<() => void>
  /** other announcements of the same task id by its submitter, one of which the assignment may name instead */
  alternatives: Alternative[]
}

/** What speculative starts came to (MinerRole.speculation). */
export interface SpeculationStats {
  /** tasks started on the miner's own draw */
  started: number
  /** of those, assigned to it */
  confirmed: number
  /** of those, not assigned to it (the work was dropped) */
  dropped: number
}

export type MinerTaskOutcome = 'generated' | 'declined' | 'failed'

export interface MinerStats {
  /** tasks by model and outcome: generated (output precommitted), declined (cannot run), failed (engine error) */
  tasks: Record<string, Record<MinerTaskOutcome, number>>
  /** tokens generated per model, and the generation time they took */
  tokens: Record<string, number>
  generationMs: Record<string, number>
  /** tokens per second of the last generation per model */
  lastTokensPerSecond: Record<string, number>
  /** the oracles' verdicts on this miner's outputs, by outcome name (ACCEPTED, OUTLIER, …), one per task */
  verdicts: Record<string, number>
}
