/**
 * The copier fault (MinerFaults.copyOthers), for the fraud tests and demos: a
 * miner that generates nothing, keeps the first precommit and the first
 * reveal another miner gossips for each task, and sends them again as its
 * own, the commitment re-signed with its key.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import QuickLRU from 'quick-lru'
import { bytesToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { addressToBytes } from '../../../protocols/messages/index.ts'
import { COPY_POLL_MS, COPY_PRECOMMIT_WAIT_MS, COPY_REVEAL_WAIT_MS, COPY_TASKS_MAX } from './constants.ts'
import type { MinerComponents } from './types.ts'
import type { Precommit, Reveal } from '../../../protocols/messages/index.ts'
import type { Hex } from 'viem'

export interface CopyFaultInit {
  /** the copier's key signs the copied commitment */
  node: Pick<MinerComponents, 'peerIdentity'>
  /** the copier's address, lower case */
  address: string
  /** the miner's lifetime: waits end with it */
  signal: AbortSignal
}

export class CopyFault {
  private readonly init: CopyFaultInit
  private readonly copied = new QuickLRU<string, { commitment?: Precommit, reveal?: Reveal }>({ maxSize: COPY_TASKS_MAX })

  constructor (init: CopyFaultInit) {
    this.init = init
  }

  onPrecommit (m: Precommit): void {
    const entry = this.copied.get(m.taskId.toString()) ?? {}
    entry.commitment ??= m
    this.copied.set(m.taskId.toString(), entry)
  }

  onReveal (m: Reveal): void {
    const entry = this.copied.get(m.taskId.toString()) ?? {}
    entry.reveal ??= m
    this.copied.set(m.taskId.toString(), entry)
  }

  /** Wait for an honest precommit of the task and re-sign its commitment as the copier's own. */
  async commitment (taskId: bigint, signal: AbortSignal): Promise<{ commitment: Hex, signature: Hex } | undefined> {
    const victim = await this.waitFor(() => this.copied.get(taskId.toString())?.commitment, COPY_PRECOMMIT_WAIT_MS, signal)
    if (victim == null) {
      return undefined
    }
    const account = privateKeyToAccount(this.init.node.peerIdentity.privateKey)
    const commitment = bytesToHex(victim.commitment)
    const signature = await account.sign({ hash: commitment })
    return { commitment, signature }
  }

  /** Wait for an honest reveal of the task and make it the copier's own. */
  async reveal (taskId: bigint): Promise<Reveal | undefined> {
    const victim = await this.waitFor(() => this.copied.get(taskId.toString())?.reveal, COPY_REVEAL_WAIT_MS)
    return victim == null ? undefined : { ...victim, miner: addressToBytes(this.init.address as Hex) }
  }

  private async waitFor<T> (get: () => T | undefined, timeoutMs: number, signal?: AbortSignal): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs
    const stop = signal == null ? this.init.signal : AbortSignal.any([signal, this.init.signal])
    while (Date.now() < deadline && !stop.aborted) {
      const v = get()
      if (v != null) {
        return v
      }
      await sleep(COPY_POLL_MS, undefined, { signal: stop }).catch(() => {})
    }
    return undefined
  }
}
