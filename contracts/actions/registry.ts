/** Node registry: stake, roles, models, unstake with cooldown, earnings. */
import { readContract } from 'viem/actions'
import { decodeHubError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import { sendHub } from './send.ts'
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
export async function addStake (client: HubWalletClient, p: AddStakeParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'addStake', [], p.amountWei)
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
