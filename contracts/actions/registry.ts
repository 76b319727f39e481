/** Node registry: stake, roles, models, unstake with cooldown, earnings. */
import { getContractEvents, readContract } from 'viem/actions'
import { ROLE_MINER } from '../constants.ts'
import { decodeHubError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import { eventOf, sendHub } from './send.ts'
import type { HubTarget, HubWalletClient, HubWriteResult } from './send.ts'
import type { Address, Client, Hex } from 'viem'

export interface RegisterNodeParameters extends HubTarget {
  /** bitmask of ROLE_* from contracts/constants.ts */
  roles: number
  hardwareClass: number
  /** sha256 of each served GGUF file */
  models: Hex[]
  stakeWei: bigint
}
export type RegisterNodeReturnType = HubWriteResult

export async function registerNode (client: HubWalletClient, p: RegisterNodeParameters): Promise<RegisterNodeReturnType> {
  return sendHub(client, p.hub, 'registerNode', [p.roles, p.hardwareClass, p.models], p.stakeWei)
}

export interface AddStakeParameters extends HubTarget { amountWei: bigint }
export interface AddStakeReturnType extends HubWriteResult {
  /** the node's whole stake after the addition */
  stakeWei: bigint
}
export async function addStake (client: HubWalletClient, p: AddStakeParameters): Promise<AddStakeReturnType> {
  const res = await sendHub(client, p.hub, 'addStake', [], p.amountWei)
  return { ...res, stakeWei: eventOf(res, 'StakeAdded').args.stake }
}

export interface RequestUnstakeReturnType extends HubWriteResult { readyAt: bigint }
export async function requestUnstake (client: HubWalletClient, p: HubTarget): Promise<RequestUnstakeReturnType> {
  const res = await sendHub(client, p.hub, 'requestUnstake', [])
  const ev = res.logs.find(l => l.eventName === 'UnstakeRequested')
  return { ...res, readyAt: ev?.eventName === 'UnstakeRequested' ? ev.args.readyAt : 0n }
}

export interface WithdrawReturnType extends HubWriteResult { amountWei: bigint }
export async function withdrawStake (client: HubWalletClient, p: HubTarget): Promise<WithdrawReturnType> {
  const res = await sendHub(client, p.hub, 'withdrawStake', [])
  const ev = res.logs.find(l => l.eventName === 'NodeUnregistered')
  return { ...res, amountWei: ev?.eventName === 'NodeUnregistered' ? ev.args.stakeReturned : 0n }
}

export async function withdrawEarnings (client: HubWalletClient, p: HubTarget): Promise<WithdrawReturnType> {
  const res = await sendHub(client, p.hub, 'withdrawEarnings', [])
  const ev = res.logs.find(l => l.eventName === 'EarningsWithdrawn')
  return { ...res, amountWei: ev?.eventName === 'EarningsWithdrawn' ? ev.args.amount : 0n }
}

export interface GetNodeParameters extends HubTarget { node: Address }
export interface GetNodeReturnType {
  registered: boolean
  stakeWei: bigint
  unstakeReadyAt: number
  roles: number
  hardwareClass: number
  models: readonly Hex[]
  earningsWei: bigint
  tasksDone: number
  tasksFailed: number
  onTime: number
  missed: number
  level: number
}

export async function getNode (client: Client, p: GetNodeParameters): Promise<GetNodeReturnType> {
  try {
    const [info, stats, models] = await readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'getNode', args: [p.node] })
    return {
      registered: info.registered,
      stakeWei: info.stake,
      unstakeReadyAt: Number(info.unstakeReadyAt),
      roles: info.roles,
      hardwareClass: info.hardwareClass,
      models,
      earningsWei: stats.earnings,
      tasksDone: stats.tasksDone,
      tasksFailed: stats.tasksFailed,
      onTime: stats.onTime,
      missed: stats.missed,
      level: stats.level
    }
  } catch (err) {
    throw decodeHubError(err)
  }
}

export interface MinerStandingParameters extends HubTarget {
  node: Address
  modelId: Hex
  /** the hub's minStake, if already read (it never changes: an immutable of the hub) */
  minStakeWei?: bigint
}

/**
 * How the hub sees `node` as a miner of `modelId`: `eligible` if it would
 * accept it in an assignment (its `_isEligible`: registered as a miner, not
 * leaving, staked at least `minStake`, serving the model), `ineligible` if
 * it is registered as a miner of the model but not assignable now (leaving
 * or under-staked), `unregistered` otherwise.
 */
export async function minerStanding (client: Client, p: MinerStandingParameters): Promise<MinerStanding> {
  const [node, minStakeWei] = await Promise.all([
    getNode(client, { hub: p.hub, node: p.node }),
    p.minStakeWei ?? getMinStake(client, { hub: p.hub })
  ])
  if (!node.registered || (node.roles & ROLE_MINER) === 0 || !node.models.some(m => m.toLowerCase() === p.modelId.toLowerCase())) {
    return 'unregistered'
  }
  return node.unstakeReadyAt === 0 && node.stakeWei >= minStakeWei ? 'eligible' : 'ineligible'
}

export type MinerStanding = 'eligible' | 'ineligible' | 'unregistered'

/** The stake a miner must keep to be assignable (an immutable of the hub). */
export async function getMinStake (client: Client, p: HubTarget): Promise<bigint> {
  try {
    return await readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'minStake' })
  } catch (err) {
    throw decodeHubError(err)
  }
}

/** `minerStanding` for any node and model of one hub, reading the hub's minStake once. */
export function minerStandings (client: Client, hub: Address): (node: string, modelId: string) => Promise<MinerStanding> {
  let minStake: Promise<bigint> | undefined
  return async (node, modelId) => {
    minStake ??= getMinStake(client, { hub }).catch((err) => { minStake = undefined; throw err })
    return minerStanding(client, { hub, node: node as Address, modelId: modelId as Hex, minStakeWei: await minStake })
  }
}

export interface GetNodeHistoryParameters extends HubTarget {
  node: Address
  /** first block to read (the hub's deployment block: nothing before it concerns the hub) */
  fromBlock: bigint
}
export interface NodeSlash {
  taskId: bigint
  amountWei: bigint
  /** SLASH_EQUIVOCATION (1) or SLASH_REPLAY (2) in Settlement.sol */
  reason: number
  blockNumber: bigint
  transactionHash: Hex
}
export interface GetNodeHistoryReturnType {
  slashes: NodeSlash[]
  /** the sum of every EarningsWithdrawn of the node */
  earningsWithdrawnWei: bigint
  withdrawals: number
}

/**
 * A node's history from the hub's events (NodeSlashed, EarningsWithdrawn),
 * filtered by the node's indexed address. Some public RPC endpoints cap the
 * block range of `eth_getLogs`; their refusal reaches the caller as is.
 */
export async function getNodeHistory (client: Client, p: GetNodeHistoryParameters): Promise<GetNodeHistoryReturnType> {
  const [slashed, withdrawn] = await Promise.all([
    getContractEvents(client, { address: p.hub, abi: cortensorHubAbi, eventName: 'NodeSlashed', args: { node: p.node }, fromBlock: p.fromBlock, toBlock: 'latest', strict: true }),
    getContractEvents(client, { address: p.hub, abi: cortensorHubAbi, eventName: 'EarningsWithdrawn', args: { node: p.node }, fromBlock: p.fromBlock, toBlock: 'latest', strict: true })
  ])
  return {
    slashes: slashed.map(l => ({ taskId: l.args.taskId, amountWei: l.args.amount, reason: l.args.reason, blockNumber: l.blockNumber, transactionHash: l.transactionHash })),
    earningsWithdrawnWei: withdrawn.reduce((sum, l) => sum + l.args.amount, 0n),
    withdrawals: withdrawn.length
  }
}
