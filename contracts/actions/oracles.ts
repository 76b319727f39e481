/** Oracle set, heartbeats and the current leader. */
import { readContract } from 'viem/actions'
import { decodeHubError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import { sendHub } from './send.ts'
import type { HubTarget, HubWalletClient, HubWriteResult } from './send.ts'
import type { Address, Client } from 'viem'

export interface OracleParameters extends HubTarget { oracle: Address }

export async function addOracle (client: HubWalletClient, p: OracleParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'addOracle', [p.oracle])
}

export async function removeOracle (client: HubWalletClient, p: OracleParameters): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'removeOracle', [p.oracle])
}

export async function heartbeat (client: HubWalletClient, p: HubTarget): Promise<HubWriteResult> {
  return sendHub(client, p.hub, 'heartbeat', [])
}

export async function getLeader (client: Client, p: HubTarget): Promise<Address> {
  try {
    return await readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'currentLeader' })
  } catch (err) {
    throw decodeHubError(err)
  }
}

export async function getOracles (client: Client, p: HubTarget): Promise<readonly Address[]> {
  return readContract(client, { address: p.hub, abi: cortensorHubAbi, functionName: 'oracles' })
}
