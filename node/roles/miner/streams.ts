/**
 * Token-stream requests to a miner: only the task's submitter reads the
 * tokens, and only once this miner's work on the task is confirmed and its
 * ack is out (a client never streams unaccepted work).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { bytesToHex } from 'viem'
import { peerIdToAddress } from '../../../protocols/identity.ts'
import { StreamEnd } from '../../../protocols/messages/index.ts'
import { isAcked, isRefusing, assignmentSeen } from '../../../protocols/miner/machine.ts'
import { STREAM_WAIT_MS } from './constants.ts'
import type { MinerTasks } from './tasks.ts'
import type { TokenBuffer } from '../shared/stream.ts'
import type { PeerId } from '@libp2p/interface'

/**
 * The token buffer a stream request for `taskId` from `remote` reads, once
 * this miner's work on it is confirmed and acked, or why there is none.
 */
export async function streamOf (tasks: MinerTasks, taskId: bigint, remote: PeerId, signal: AbortSignal): Promise<TokenBuffer | StreamEnd.Code> {
  const task = await tasks.announced(taskId)
  if (task == null) {
    return StreamEnd.Code.UNKNOWN_TASK
  }
  // only the submitter may read tokens before the reveal: anyone else could copy them
  const submitter = bytesToHex(task.queued.submitter).toLowerCase()
  if (peerIdToAddress(remote).toLowerCase() !== submitter) {
    return StreamEnd.Code.NOT_ASSIGNED
  }
  // a submitter may ask before the assignment (its own draw) or before the ack: wait for the work to be
  // confirmed and acked, or answer at once when the assignment does not name this miner or it declined
  const deadline = Date.now() + STREAM_WAIT_MS
  while ((task.run?.buffer == null || !isAcked(task.record.work)) && Date.now() < deadline && !signal.aborted) {
    const work = task.record.work
    if (isRefusing(work) || (assignmentSeen(work) && tasks.slotOf(task) == null)) {
      return StreamEnd.Code.NOT_ASSIGNED
    }
    const woken = new AbortController()
    task.waiters.push(() => { woken.abort() })
    await sleep(deadline - Date.now(), undefined, { signal: AbortSignal.any([woken.signal, signal]) }).catch(() => {})
  }
  // acked implies the work started on this miner's own draw was confirmed first
  return isAcked(task.record.work) ? task.run?.buffer ?? StreamEnd.Code.NOT_ASSIGNED : StreamEnd.Code.NOT_ASSIGNED
}
