/** Task queue: submit, assign, reassign, expire. */
import { encodeAbiParameters, keccak256 } from 'viem'
import { readContract } from 'viem/actions'
import { TASK_STATUS } from '../constants.ts'
import { decodeHubError, EventNotFoundError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import { eventOf, sendHub } from './send.ts'
import type { TaskStatusName } from '../constants.ts'
import type { HubTarget, HubWalletClient, HubWriteResult, SendSerializer } from './send.ts'
import type { Address, Client, Hex } from 'viem'

/** The 20-byte commitment to a miner set the contract stores at assignment. */
export function assignmentHash (miners: readonly Address[]): Hex {
  return keccak256(encodeAbiParameters([{ type: 'address[]' }], [miners])).slice(0, 42) as Hex
}

export interface SubmitTaskParameters extends HubTarget {
  sessionId: bigint
  /** sha256 multihash digest of the prompt's CID */
  promptDigest: Hex
  maxTokens: number
  /** digest of the dag-json sampling parameters */
  paramsDigest: Hex
}
export interface SubmitTaskReturnType extends HubWriteResult {
  taskId: bigint
  /** selection seed (prevrandao of the submit block mixed with the task id) */
  seed: bigint
  reservedWei: bigint
}

/**
 * With `serialize` (the key's `ChainContext.serial`), only the sending runs
 * in turn with the key's other writes; the receipt is awaited beside them, so
 * a burst of submissions is not one receipt wait after another.
 */
export async function submitTask (client: HubWalletClient, p: SubmitTaskParameters & { serialize?: SendSerializer }): Promise<SubmitTaskReturnType> {
  const res = await sendHub(client, p.hub, 'submitTask', [p.sessionId, p.promptDigest, { maxTokens: p.maxTokens, paramsDigest: p.paramsDigest }], undefined, p.serialize)
  const ev = eventOf(res, 'TaskSubmitted')
  return { ...res, taskId: ev.args.taskId, seed: ev.args.seed, reservedWei: ev.args.reserved }
}

/** Tasks in one `submitTasks` transaction at most (the hub's MAX_SUBMIT_BATCH: about 3.2M gas). */
export const MAX_SUBMIT_BATCH = 100

export interface TaskSubmission {
  /** sha256 multihash digest of the prompt's CID */
  promptDigest: Hex
  maxTokens: number
  /** digest of the dag-json sampling parameters */
  paramsDigest: Hex
}
export interface SubmitTasksParameters extends HubTarget {
  sessionId: bigint
  /** 1 to MAX_SUBMIT_BATCH tasks of the session, in the order they are given ids */
  tasks: TaskSubmission[]
}
export interface SubmitTaskResult {
  taskId: bigint
  /** selection seed (prevrandao of the submit block mixed with the task id) */
  seed: bigint
  reservedWei: bigint
}
export interface SubmitTasksReturnType extends HubWriteResult {
  /** one per task given, in the same order */
  tasks: SubmitTaskResult[]
}

/**
 * Many tasks of one session in one transaction. Each task gets its own id,
 * seed and reservation, as `submitTask` gives it; one task the hub refuses
 * (ContractRuleError, e.g. InsufficientDeposit) refuses them all.
 */
export async function submitTasks (client: HubWalletClient, p: SubmitTasksParameters & { serialize?: SendSerializer }): Promise<SubmitTasksReturnType> {
  const res = await sendHub(client, p.hub, 'submitTasks', [
    p.sessionId,
    p.tasks.map(t => t.promptDigest),
    p.tasks.map(t => ({ maxTokens: t.maxTokens, paramsDigest: t.paramsDigest }))
  ], undefined, p.serialize)
  const tasks = res.logs.flatMap(l => l.eventName === 'TaskSubmitted' ? [{ taskId: l.args.taskId, seed: l.args.seed, reservedWei: l.args.reserved }] : [])
  if (tasks.length !== p.tasks.length) {
    throw new EventNotFoundError(`TaskSubmitted (${p.tasks.length} expected, ${tasks.length} found)`, res.hash)
  }
  return { ...res, tasks }
}

export interface AssignTasksParameters extends HubTarget {
  assignments: Array<{ taskId: bigint, miners: Address[] }>
}
export async function assignTasks (client: HubWalletClient, p: AssignTasksParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'assignTasks', [p.assignments])
}

export interface ReassignMinerParameters extends HubTarget {
  taskId: bigint
  current: Address[]
  index: number
  replacement: Address
}
export async function reassignMiner (client: HubWalletClient, p: ReassignMinerParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'reassignMiner', [p.taskId, p.current, BigInt(p.index), p.replacement])
}

export interface ExpireTaskParameters extends HubTarget { taskId: bigint }
export interface ExpireTaskReturnType extends HubWriteResult { releasedWei: bigint }
export async function expireTask (client: HubWalletClient, p: ExpireTaskParameters): Promise<ExpireTaskReturnType> {
  const res = await sendHub(client, p.hub, 'expireTask', [p.taskId])
  return { ...res, releasedWei: eventOf(res, 'TaskExpired').args.released }
}

export interface AbandonTasksParameters extends HubTarget {
  /** tasks to give up and the queue's reason code of each (protocols/queue EXPIRE_REASONS index) */
  tasks: Array<{ taskId: bigint, reason: number }>
}
export interface AbandonTasksReturnType extends HubWriteResult {
  /** the tasks the hub gave up (those still open), with the deposit each released */
  abandoned: Array<{ taskId: bigint, reason: number, releasedWei: bigint }>
}
/** The leader gives up open tasks at once; tasks settled or expired meanwhile are skipped, not refused. */
export async function abandonTasks (client: HubWalletClient, p: AbandonTasksParameters): Promise<AbandonTasksReturnType> {
  const res = await sendHub(client, p.hub, 'abandonTasks', [p.tasks.map(t => t.taskId), p.tasks.map(t => t.reason)])
  const released = new Map<bigint, bigint>()
  const abandoned: AbandonTasksReturnType['abandoned'] = []
  for (const l of res.logs) {
    if (l.eventName === 'TaskExpired') {
      released.set(l.args.taskId, l.args.released)
    } else if (l.eventName === 'TaskAbandoned') {
      abandoned.push({ taskId: l.args.taskId, reason: l.args.reason, releasedWei: 0n })
    }
  }
  for (const a of abandoned) {
    a.releasedWei = released.get(a.taskId) ?? 0n
  }
  return { ...res, abandoned }
}

export interface GetTaskParameters extends HubTarget { taskId: bigint }
export interface GetTaskReturnType {
  taskId: bigint
  sessionId: bigint
  maxTokens: number
  status: TaskStatusName
  /** time of the last transition (seconds) */
  stamp: number
  assignment: Hex
}

export async function getTask (client: Client, p: GetTaskParameters): Promise<GetTaskReturnType> {
  try {
    const t = await readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'getTask', args: [p.taskId] })
    return {
      taskId: p.taskId,
      sessionId: BigInt(t.sessionId),
      maxTokens: t.maxTokens,
      status: TASK_STATUS[t.status] ?? 'none',
      stamp: t.stamp,
      assignment: t.assignment
    }
  } catch (err) {
    throw decodeHubError(err)
  }
}
