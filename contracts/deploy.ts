/** Deploy the hub and read/write the deployment JSON the CLI and the devnet share. */
import { readFile, writeFile } from 'node:fs/promises'
import { deployContract, getChainId, waitForTransactionReceipt } from 'viem/actions'
import * as C from './constants.ts'
import { decodeHubError, DeploymentFileError, TransactionRevertedError } from './errors.ts'
import { cortensorHubAbi, cortensorHubBytecode } from './generated/cortensorHub.ts'
import type { HubWalletClient } from './actions/send.ts'
import type { Address, Hash } from 'viem'

export interface HubConfig {
  minStakeWei: bigint
  unstakeCooldownS: number
  leaderWindowS: number
  heartbeatTimeoutS: number
  queueTimeoutS: number
  precommitWindowS: number
  settleTimeoutS: number
  replayQuorum: number
  slashBps: number
}

export const DEFAULT_HUB_CONFIG: HubConfig = {
  minStakeWei: C.DEFAULT_MIN_STAKE_WEI,
  unstakeCooldownS: C.DEFAULT_UNSTAKE_COOLDOWN_S,
  leaderWindowS: C.DEFAULT_LEADER_WINDOW_S,
  heartbeatTimeoutS: C.DEFAULT_HEARTBEAT_TIMEOUT_S,
  queueTimeoutS: C.DEFAULT_QUEUE_TIMEOUT_S,
  precommitWindowS: C.DEFAULT_PRECOMMIT_WINDOW_S,
  settleTimeoutS: C.DEFAULT_SETTLE_TIMEOUT_S,
  replayQuorum: C.DEFAULT_REPLAY_QUORUM,
  slashBps: C.DEFAULT_SLASH_BPS
}

export interface Deployment {
  chainId: number
  hub: Address
  deployer: Address
  blockNumber: number
  transactionHash: Hash
  config: HubConfig
}

export interface DeployHubParameters { config?: Partial<HubConfig> }
export type DeployHubReturnType = Deployment

export async function deployHub (client: HubWalletClient, p: DeployHubParameters = {}): Promise<DeployHubReturnType> {
  const config = { ...DEFAULT_HUB_CONFIG, ...p.config }
  let hash: Hash
  try {
    hash = await deployContract(client, {
      abi: cortensorHubAbi,
      bytecode: cortensorHubBytecode,
      account: client.account,
      chain: client.chain,
      args: [{
        minStake: config.minStakeWei,
        unstakeCooldownS: config.unstakeCooldownS,
        leaderWindowS: config.leaderWindowS,
        heartbeatTimeoutS: config.heartbeatTimeoutS,
        queueTimeoutS: config.queueTimeoutS,
        precommitWindowS: config.precommitWindowS,
        settleTimeoutS: config.settleTimeoutS,
        replayQuorum: config.replayQuorum,
        slashBps: config.slashBps
      }]
    })
  } catch (err) {
    throw decodeHubError(err)
  }
  const receipt = await waitForTransactionReceipt(client, { hash, pollingInterval: C.RECEIPT_POLL_MS })
  if (receipt.status !== 'success' || receipt.contractAddress == null) {
    throw new TransactionRevertedError(hash)
  }
  return {
    chainId: await getChainId(client),
    hub: receipt.contractAddress,
    deployer: client.account.address,
    blockNumber: Number(receipt.blockNumber),
    transactionHash: hash,
    config
  }
}

export async function writeDeployment (path: string, d: Deployment): Promise<void> {
  const json = JSON.stringify(d, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2)
  await writeFile(path, `${json}\n`)
}

export async function readDeployment (path: string): Promise<Deployment> {
  let raw: any
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (err: any) {
    throw new DeploymentFileError(path, err.code === 'ENOENT' ? 'no such file' : (err.message ?? String(err)))
  }
  if (typeof raw?.hub !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(raw.hub) || typeof raw.chainId !== 'number') {
    throw new DeploymentFileError(path, 'needs "hub" (address) and "chainId" (number)')
  }
  return { ...raw, config: { ...raw.config, minStakeWei: BigInt(raw.config?.minStakeWei ?? 0) } }
}
