/**
 * A task's token stream, with failover from one miner to the next.
 */
import { logger } from '@libp2p/logger'
import { StreamFailedError, requestTokens, streamProtocol } from '../protocols/stream/index.ts'
import type { ClientNode, Tracked } from './tracked.ts'

const log = logger('cortensor:client')

/** how long a miner's token stream may take to open and deliver its first frame before the next miner is asked */
export const STREAM_OPEN_TIMEOUT_MS = 5000

/** Why a stream attempt was given up: the miner sent nothing within STREAM_OPEN_TIMEOUT_MS. */
export class StreamOpenTimeoutError extends Error {
  static name = 'StreamOpenTimeoutError'

  constructor (miner: string) {
    super(`no token stream from ${miner} within ${STREAM_OPEN_TIMEOUT_MS} ms`)
    this.name = 'StreamOpenTimeoutError'
  }
}

/** Why a stream attempt was given up: the miner the client predicted is not among the task's assigned miners. */
export class MinerNotAssignedError extends Error {
  static name = 'MinerNotAssignedError'

  constructor (miner: string) {
    super(`${miner} was not assigned`)
    this.name = 'MinerNotAssignedError'
  }
}

/**
 * A miner's first-token time as its submitter sees it: from opening the
 * stream request, or from seeing the miner's assignment when that came later
 * (a stream opened to the predicted miner before the leader assigned it
 * waits for the assignment, which is not the miner's doing), to the first
 * token; whole ms. A token that came before the assignment was seen counts
 * from the opening.
 */
export function firstTokenMs (openedAt: number, firstAt: number, assignedAt?: number): number {
  const from = assignedAt != null && assignedAt > openedAt && assignedAt <= firstAt ? assignedAt : openedAt
  return Math.max(0, Math.round(firstAt - from))
}

/**
 * Stream `t`'s tokens from the first miner that acks; if that stream fails,
 * go on from the same index with the next miner (redundant miners generate
 * the same tokens in deterministic mode). `onStreaming` hears of the first
 * token; `onFirstToken`, of the first frame of each miner streamed from and
 * how long it took (`firstTokenMs`).
 */
export async function streamTokens (node: ClientNode, t: Tracked, onStreaming: (miner: string) => void, onFirstToken?: (miner: string, ms: number) => void): Promise<void> {
  const protocol = streamProtocol(node.network)
  const signal = t.abort.signal
  let next = 0
  let received = 0
  const tried = new Set<string>()
  while (!signal.aborted) {
    while (next >= t.ackers.length && !signal.aborted) {
      await new Promise<void>(resolve => {
        t.newAcker = resolve
        signal.addEventListener('abort', () => { resolve() }, { once: true })
      })
    }
    if (signal.aborted) {
      return
    }
    const { miner, peer, early } = t.ackers[next++]
    if (tried.has(miner)) {
      continue
    }
    tried.add(miner)
    // an early pick that turns out not to serve is tried again if it acks later
    const before = received
    // a miner that cannot be reached, or sends nothing, for this long gives way to the next one
    const opening = new AbortController()
    const given = new AbortController()
    t.attempt = { miner, early: early === true, controller: given }
    const openTimer = setTimeout(() => { opening.abort(new StreamOpenTimeoutError(miner)) }, STREAM_OPEN_TIMEOUT_MS)
    const attempt = AbortSignal.any([signal, opening.signal, given.signal])
    await node.connect?.(peer, { signal: attempt }).catch((err) => { log('could not reach %s: %s', miner, err?.message) })
    // the first frame of this miner: how long it took is reported once
    const openedAt = performance.now()
    let firstFrame = (): void => {
      firstFrame = () => {}
      onFirstToken?.(miner, firstTokenMs(openedAt, performance.now(), t.assignedAt?.get(miner)))
    }
    try {
      const frames = requestTokens(node.libp2p, peer, protocol, { taskId: BigInt(t.record.taskId), sessionId: BigInt(t.record.sessionId), fromIndex: received }, attempt)
      for (;;) {
        const r = await frames.next()
        clearTimeout(openTimer)
        if (r.done === true) {
          notePromptTokens(t, r.value.promptTokens)
          t.tokens.end()
          return
        }
        firstFrame()
        if (received === 0) {
          t.record.miners.includes(miner) || t.record.miners.push(miner)
          onStreaming(miner)
        }
        if (signal.aborted) {
          return
        }
        if (r.value.index === received) {
          received++
          t.streamedText += r.value.text
          t.streamedTokens = received
          t.tokens.push({ index: r.value.index, text: r.value.text, tokenIds: r.value.tokenIds, miner })
        }
      }
    } catch (err: any) {
      if (signal.aborted) {
        return
      }
      log('stream from %s failed after %d tokens: %s', miner, received, err?.message)
      if (early === true && received === before) {
        tried.delete(miner)
        continue
      }
      if (opening.signal.aborted) {
        // it only timed out: try it again after the others
        tried.delete(miner)
        t.ackers.push({ miner, peer })
        continue
      }
      if (!(err instanceof StreamFailedError)) {
        t.tokens.fail(err)
        return
      }
    } finally {
      clearTimeout(openTimer)
    }
  }
}

/** The miner's count of the prompt's tokens (usage), sent with the end of its stream. */
function notePromptTokens (t: Tracked, count: number | undefined): void {
  if (count != null && count > 0) {
    t.promptTokens = count
  }
}
