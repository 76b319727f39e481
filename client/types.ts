/**
 * What the client SDK offers (Node and browser). A router, the CLI and the
 * browser page all submit through `TaskClient`; everything here is plain data
 * so it can cross HTTP, WebSocket and the page's worker boundary unchanged.
 */

import type { TaskInput } from '../protocols/prompt/index.ts'

export type { ChatMessage, ChatRole, EmbedInput, PromptInput, ResponseFormat, TaskInput } from '../protocols/prompt/index.ts'

/** Sampling parameters of one task (the miner runs them in deterministic mode). */
export interface SubmitParams {
  /** default 64 */
  maxTokens?: number
  /** default 0 (greedy) */
  temperature?: number
  topP?: number
  topK?: number
  seed?: number
  stop?: string[]
  /** give up on the task after this long (default: the queue's deadline) */
  timeoutMs?: number
  /** opaque caller reference, kept with the task record */
  clientReference?: string
  /** session to charge; default: the client's session */
  sessionId?: bigint
  /** aborting cancels the token stream and stops waiting (the task itself stays on chain) */
  signal?: AbortSignal
}

/** One generated token as it arrives from a miner. */
export interface TokenEvent {
  index: number
  text: string
  tokenIds: number[]
  /** EVM address of the miner whose stream this is */
  miner: string
}

export type TaskStatus = 'submitted' | 'queued' | 'assigned' | 'generating' | 'committed' | 'validated' | 'settled' | 'expired' | 'failed'

/** A change of a task's status, for progress displays and WebSocket subscribers. */
export interface TaskUpdate {
  taskId: string
  sessionId: string
  status: TaskStatus
  atMs: number
  detail?: string
}

export type MinerOutcome = 'accepted' | 'rejected-structural' | 'rejected-replay' | 'outlier' | 'missing' | 'reveal-mismatch' | 'unverifiable'

/** The settled, verified result of a task. */
export interface TaskResult {
  taskId: string
  sessionId: string
  modelId: string
  text: string
  /** generated token count of the accepted output */
  completionTokens: number
  promptTokens: number
  finishReason: 'length' | 'eos' | 'stop'
  /**
   * the chat template the miners rendered the messages with: the format of the model's own template
   * (`ChatML`, `Llama 3.1`, …, `JinjaTemplate` for one node-llama-cpp does not name), or `plain` for
   * the transcript a model without a template gets; absent for a task submitted as a plain prompt
   */
  chatTemplate?: string
  /** an embedding task's vectors, one per text in order (then `text` is empty and `completionTokens` 0) */
  embeddings?: number[][]
  /** CID of the accepted output document in Helia */
  outputCid: string
  /** the assigned miners and what the oracles decided about each */
  miners: Array<{ address: string, outcome: MinerOutcome }>
  /** settlement transaction */
  txHash: string
  submitTxHash: string
  submittedAtMs: number
  firstTokenAtMs?: number
  settledAtMs: number
}

export interface TaskHandle {
  taskId: bigint
  sessionId: bigint
  /** tokens of the first miner that streams; ends when that miner's generation ends */
  tokens: AsyncIterable<TokenEvent>
  /** resolves once the task is settled on chain; rejects with a TaskFailedError when it expires */
  result: Promise<TaskResult>
  /** status changes as they happen */
  onUpdate(listener: (u: TaskUpdate) => void): () => void
  /** stop streaming and waiting */
  cancel(): void
  /** tokens of the prompt as the miners' model counted them: known once the token stream ended or the task settled */
  readonly promptTokens?: number
}

/** A model the pool serves now, from miners' heartbeats. */
export interface ModelInfo {
  id: string
  miners: number
  /** tokens of context one task may use (prompt and output together): the least any of those miners advertises; undefined when none says */
  contextTokens?: number
}

/** A miner as the pool sees it. */
export interface MinerInfo {
  address: string
  peerId: string
  models: string[]
  hardwareClass: string
  level: number
  tokensPerSec: number
  /** 0..1 */
  load: number
  reservedBySession: string | null
  lastSeenMs: number
}

export interface SessionInfo {
  sessionId: string
  owner: string
  modelId: string
  redundancy: number
  /** what the hub pays each accepted miner per output token, in wei (absent where the source does not say) */
  pricePerTokenWei?: string
  depositWei: string
  reservedWei: string
  spentWei: string
  tasks: number
  closed: boolean
}

/** A task as the client remembers it (for listing routes). */
export interface TaskRecord {
  taskId: string
  sessionId: string
  status: TaskStatus
  /** the prompt, or the plain transcript of a chat */
  prompt: string
  /** the chat messages of a task submitted as a chat */
  messages?: Array<{ role: string, content: string, name?: string }>
  clientReference?: string
  miners: string[]
  submittedAtMs: number
  result?: TaskResult
  error?: string
}

export interface TaskClient {
  readonly sessionId: bigint
  /** a prompt run as it is, or `{ messages }` that miners render with the model's chat template */
  /** a prompt, a chat (`{ messages, responseFormat? }`) or texts to embed (`{ embed: [...] }`) */
  submit(prompt: TaskInput, params?: SubmitParams): Promise<TaskHandle>
  models(): ModelInfo[]
  miners(): MinerInfo[]
  session(id?: bigint): Promise<SessionInfo>
  tasks(sessionId?: bigint): TaskRecord[]
  task(taskId: bigint): TaskRecord | undefined
  close(): Promise<void>
}
