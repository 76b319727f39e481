/** The one path every hub write takes: simulate (decoding reverts), send, wait, decode events. */
import { parseEventLogs } from 'viem'
import { simulateContract, waitForTransactionReceipt, writeContract } from 'viem/actions'
import { RECEIPT_POLL_MS } from '../constants.ts'
import { decodeHubError, EventNotFoundError, TransactionRevertedError } from '../errors.ts'
import { cortensorHubAbi } from '../generated/cortensorHub.ts'
import type { Account, Address, Chain, Client, ContractEventName, ContractFunctionArgs, ContractFunctionName, Hash, ParseEventLogsReturnType, Transport, TransactionReceipt } from 'viem'

export type HubAbi = typeof cortensorHubAbi
/** A client with an account that signs hub transactions. */
export type HubWalletClient = Client<Transport, Chain | undefined, Account>
export type HubWriteName = ContractFunctionName<HubAbi, 'payable' | 'nonpayable'>

export interface HubTarget {
  /** address of the deployed CortensorHub */
  hub: Address
}

export interface HubWriteResult {
  hash: Hash
  receipt: TransactionReceipt
  gasUsed: bigint
  logs: ParseEventLogsReturnType<HubAbi, undefined, true>
}

/**
 * Runs the sending half of a write (simulate, sign with the next nonce,
 * broadcast) one at a time for a key, so several writes can wait for their
 * receipts at once: `ChainContext.serial`.
 */
export type SendSerializer = <T>(send: () => Promise<T>) => Promise<T>

export async function sendHub<N extends HubWriteName> (
  client: HubWalletClient,
  hub: Address,
  functionName: N,
  args: ContractFunctionArgs<HubAbi, 'payable' | 'nonpayable', N>,
  value?: bigint,
  serialize?: SendSerializer
): Promise<HubWriteResult> {
  const send = async (): Promise<Hash> => {
    try {
      const { request } = await simulateContract(client, {
        address: hub,
        abi: cortensorHubAbi,
        functionName,
        args,
        account: client.account,
        ...(value != null ? { value } : {})
      } as any)
      return await writeContract(client, request as any)
    } catch (err) {
      throw decodeHubError(err)
    }
  }
  const hash = serialize != null ? await serialize(send) : await send()
  const receipt = await waitForTransactionReceipt(client, { hash, pollingInterval: RECEIPT_POLL_MS })
  if (receipt.status !== 'success') {
    throw new TransactionRevertedError(hash)
  }
  const logs = parseEventLogs({ abi: cortensorHubAbi, logs: receipt.logs, strict: true })
  return { hash, receipt, gasUsed: receipt.gasUsed, logs }
}

/** The first event of the given name in a write's logs. */
export function eventOf<E extends ContractEventName<HubAbi>> (result: HubWriteResult, eventName: E): Extract<HubWriteResult['logs'][number], { eventName: E }> {
  const log = result.logs.find(l => l.eventName === eventName)
  if (log == null) {
    throw new EventNotFoundError(eventName, result.hash)
  }
  return log as any
}
