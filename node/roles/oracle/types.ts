/**
 * The oracle role's data: what it is built from (`OracleInit`,
 * `OracleComponents`), the record it keeps of each task (stored in the
 * datastore and reloaded on restart) and the task as the role holds it in
 * memory. Every module of the role imports its types from here, never from
 * index.ts.
 */
import type { SignedOutput } from '../../../contracts/index.ts'
import type { TaskQueued } from '../../../protocols/messages/index.ts'
import type { MinerVerdict, Reveal } from '../../../protocols/messages/index.ts'
import type { QueueTimeouts, TaskState } from '../../../protocols/queue/types.ts'
import type { MinerRecord } from '../../../protocols/selection/index.ts'
import type { Embedder, LlamaInferenceEngine } from '../../inference/index.ts'
import type { CortensorNode } from '../../node.ts'
import type { ChainContext } from '../shared/chain.ts'
import type { PeerId } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'
import type { Hex } from 'viem'

/** What the oracle takes from the node: the narrowest slice it uses. */
export interface OracleComponents {
  /** gossip (its pubsub service) and the dials that fetch prompts and outputs from their holders */
  libp2p: CortensorNode['libp2p']
  /** Helia: prompts and outputs by CID */
  store: CortensorNode['store']
  /** where the task records live across restarts */
  datastore: Datastore
  /** the node's `/metrics` registry */
  registry: Registry
  /** peers whose gossip contradicted the chain (their gossip score drops) */
  contradictions: Pick<CortensorNode['contradictions'], 'add'>
  /** the node's key: its address is the oracle's on the hub, its private key signs failed replays */
  identity: Pick<CortensorNode['peerIdentity'], 'address' | 'privateKey'>
  /** the network name: topics are `/<network>/…` unless a prefix is given */
  network: string
  chain: ChainContext
}

export interface OracleInit {
  /** models whose tasks this oracle validates; the engines' models are always among them (default: just those) */
  modelIds?: string[]
  /** a model, for the replay check: a task of a model without an engine gets only structure and redundancy checks */
  engine?: LlamaInferenceEngine
  /** more models' engines, one per model: each task is replayed with the engine of its own model */
  engines?: LlamaInferenceEngine[]
  /** for the embedding-distance check between disagreeing outputs: of every model's tasks (unless `embedders` has one for the model) */
  embedder?: Embedder
  /** an embedder per model id, for that model's tasks (e.g. each over its model's engine) */
  embedders?: Record<string, Embedder>
  topicPrefix?: string
  /** miners' heartbeat interval (pool health) */
  heartbeatIntervalMs?: number
  /** on-chain liveness heartbeat; must be well under the hub's heartbeat timeout; default a third of it (leadership.ts) */
  chainHeartbeatMs?: number
  timeouts?: Partial<QueueTimeouts>
  /** fraction of settled tasks whose agreeing outputs are audited (replayed) anyway; default policy DEFAULT_SAMPLE_RATE */
  sampleRate?: number
  similarityThreshold?: number
  /** follow the mesh this long before joining the hub's leader round-robin while another oracle leads; default the queue's task lifetime */
  warmUpMs?: number
  /** gather verdicts this long before one settlement transaction (default SETTLE_BATCH_MS) */
  settleBatchMs?: number
  /** gather the leader's round-0 assignments this long before one hub transaction (default ASSIGN_BATCH_MS) */
  assignBatchMs?: number
  /** tasks in one settlement or assignment transaction at most (default MAX_BATCH) */
  maxBatch?: number
  onLine?(line: string): void
}

/** What the oracle has done, as its metrics count it (node/roles/oracle/metrics.ts). */
export interface OracleStats {
  assigned: number
  reassigned: number
  validated: number
  settled: number
  /** tasks this oracle gave up on chain (as leader) */
  abandoned: number
  settleTransactions: number
  /** hub transactions this oracle sent with round-0 assignments (several tasks' each, under load) */
  assignTransactions: number
  /** the leader's round-0 draws this oracle recomputed as a follower; `selectionMismatches` of them differed */
  selectionChecks: number
  selectionMismatches: number
  /** of those, draws the pool at the announcement could not fill, checked as allowed by the pool now (not reproduced) */
  selectionRedraws: number
  replays: number
  slashed: number
  /** settled tasks this oracle audited (replayed after settlement because the draw sampled them) */
  audits: number
  /** accepted outputs that failed this oracle's audit */
  auditFailures: number
  /** gossip that contradicted the chain or this oracle's records, by the field at fault (its author scored down) */
  contradictions: Record<string, number>
}

/** A precommit and a reveal of one miner for one task that the hub can check contradict each other. */
export interface EquivocationEvidence {
  precommit: SignedOutput
  reveal: SignedOutput
}

export interface AuditRecord {
  /** the block that settled the task, whose hash is the draw's beacon */
  block: Hex
  /** whether the draw sampled the task and validation had not replayed it */
  due: boolean
  /** miners whose accepted output failed this oracle's audit replay */
  failed?: string[]
}

export interface OracleRecord {
  queued: Hex
  seed: Hex
  /** the block of the task's TaskSubmitted log (decimal): chain reads about the task start there */
  submitBlock?: string
  /** the session's SLA class on chain (protocols/selection/sla.ts), read when the task is taken */
  slaClass?: number
  /** when this oracle took the task's announcement, and when it gave a miner its slot in a later round (ms): what delivery is measured from */
  announcedAtMs?: number
  assignedAtMs?: Record<string, number>
  /** when each miner's precommit arrived here (ms) */
  precommitAtMs?: Record<string, number>
  /** the submitter's reports of each miner's first token (ms, FirstTokenReport), taken until the verdict */
  firstTokenMs?: Record<string, number>
  /** the round-0 miners as gossiped by the leader, which the hub must hold before anyone is paid */
  assigned?: string[]
  /** the hub holds an assignment for the task */
  assignedOnChain?: boolean
  state: TaskState
  precommits: Record<string, { commitment: Hex, signature: Hex }>
  reveals: Record<string, { outputCid: string, salt: Hex }>
  /** each miner's EIP-712-signed reveals (output digest, salt, signature): evidence of equivocation */
  signedReveals?: Record<string, Array<{ outputDigest: Hex, salt: Hex, signature: Hex }>>
  /** miners proved to have signed two different outputs, with what the hub checks (`slashEquivocation`) */
  equivocations?: Record<string, EquivocationEvidence>
  outcomes?: Record<string, MinerVerdict.Outcome>
  tokens?: Record<string, number>
  /** the leader replayed outputs while validating (they differed); followers derive it from the verdict */
  replayed?: boolean
  /** the post-settlement audit draw (node/roles/oracle/audit.ts), once the settlement is seen */
  audit?: AuditRecord
}

export interface OracleTask {
  queued: TaskQueued
  record: OracleRecord
  chain: Promise<void>
  /** the write of the assignment to the hub, while one runs */
  assignWrite?: Promise<boolean>
  /** the pool as this oracle saw it when the task was announced (claimed speeds): the input of its round-0 draw */
  view?: MinerRecord[]
  /** the submitter's peer (holds the prompt) */
  from?: PeerId
  /** reveals that overtook the last precommit on gossip: applied when the window opens */
  early?: Reveal[]
  /** acks and precommits that overtook the assignment (whose validation reads the chain): applied after it */
  unassigned?: Array<() => void>
}
