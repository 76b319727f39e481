/** Sessions and their deposits. */
import { readContract } from 'viem/actions'
import { decodeHubError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import { eventOf, sendHub } from './send.ts'
import type { HubTarget, HubWalletClient, HubWriteResult } from './send.ts'
import type { Address, Client, Hex } from 'viem'

export interface SessionParams {
  /** sha256 of the GGUF file */
  modelId: Hex
  redundancy: number
  minMiners: number
  maxMiners: number
  /** 0 structural, 1 embedding distance, 2 replay check */
  validationMode: number
  slaClass: number
  reservePeriodS: number
  maxTasks: number
  pricePerTokenWei: bigint
}

export interface CreateSessionParameters extends HubTarget, SessionParams { depositWei: bigint }
export interface CreateSessionReturnType extends HubWriteResult { sessionId: bigint }

export async function createSession (client: HubWalletClient, p: CreateSessionParameters): Promise<CreateSessionReturnType> {
  const res = await sendHub(client, p.hub, 'createSession', [{
    modelId: p.modelId,
    redundancy: p.redundancy,
    minMiners: p.minMiners,
    maxMiners: p.maxMiners,
    validationMode: p.validationMode,
    slaClass: p.slaClass,
    reservePeriodS: p.reservePeriodS,
    maxTasks: p.maxTasks,
    pricePerToken: p.pricePerTokenWei
  }], p.depositWei)
  return { ...res, sessionId: eventOf(res, 'SessionCreated').args.sessionId }
}

export interface TopUpSessionParameters extends HubTarget { sessionId: bigint, amountWei: bigint }
export interface TopUpSessionReturnType extends HubWriteResult {
  /** the session's unreserved deposit after the top-up */
  availableWei: bigint
}
export async function topUpSession (client: HubWalletClient, p: TopUpSessionParameters): Promise<TopUpSessionReturnType> {
  const res = await sendHub(client, p.hub, 'topUp', [p.sessionId], p.amountWei)
  return { ...res, availableWei: eventOf(res, 'SessionToppedUp').args.available }
}

export interface CloseSessionParameters extends HubTarget { sessionId: bigint }
export interface CloseSessionReturnType extends HubWriteResult { refundWei: bigint }
export async function closeSession (client: HubWalletClient, p: CloseSessionParameters): Promise<CloseSessionReturnType> {
  const res = await sendHub(client, p.hub, 'closeSession', [p.sessionId])
  return { ...res, refundWei: eventOf(res, 'SessionClosed').args.refund }
}

export interface GetSessionParameters extends HubTarget { sessionId: bigint }
export interface GetSessionReturnType extends SessionParams {
  sessionId: bigint
  owner: Address
  availableWei: bigint
  reservedWei: bigint
  taskCount: number
  createdAt: number
  closed: boolean
}

export async function getSession (client: Client, p: GetSessionParameters): Promise<GetSessionReturnType> {
  try {
    const s = await readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'getSession', args: [p.sessionId] })
    return {
      sessionId: p.sessionId,
      owner: s.owner,
      modelId: s.modelId,
      redundancy: s.redundancy,
      minMiners: s.minMiners,
      maxMiners: s.maxMiners,
      validationMode: s.validationMode,
      slaClass: s.slaClass,
      reservePeriodS: s.reservePeriodS,
      maxTasks: s.maxTasks,
      pricePerTokenWei: s.pricePerToken,
      availableWei: s.available,
      reservedWei: s.reserved,
      taskCount: s.taskCount,
      createdAt: Number(s.createdAt),
      closed: s.closed
    }
  } catch (err) {
    throw decodeHubError(err)
  }
}
