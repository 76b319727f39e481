/**
 * The direct token stream: the requester opens `/<network>/stream/1.0.0` to
 * a miner and sends one StreamRequest; the miner answers with TokenFrames as
 * it generates and exactly one StreamEnd. Frames are length-prefixed
 * protobuf (`pbStream`), size-capped and checked on the way in.
 */
import { pbStream } from '@libp2p/utils'
import {
  MAX_STREAM_FRAME_BYTES, StreamEnd, StreamFrame, StreamRequest, checkStreamFrame, checkStreamRequest, decoders
} from '../messages/index.ts'
import type { TokenFrame } from '../messages/index.ts'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export function streamProtocol (network: string): string {
  return `/${network}/stream/1.0.0`
}

const frameCodec = { encode: (m: StreamFrame) => StreamFrame.encode(m), decode: (b: Uint8Array | Uint8ArrayList) => decoders.streamFrame(b.subarray()) }
const requestCodec = { encode: (m: StreamRequest) => StreamRequest.encode(m), decode: (b: Uint8Array | Uint8ArrayList) => decoders.streamRequest(b.subarray()) }

/**
 * Run `fn` two turns of the event loop later. An engine that yields a token
 * and then queues its next decode for the coming turn (node-llama-cpp batches
 * sequences that way) has started that decode by then, so `fn`'s work runs
 * beside it rather than before it.
 */
const afterNextTurn: (fn: () => void) => void = typeof globalThis.setImmediate === 'function'
  ? (fn) => { globalThis.setImmediate(() => { globalThis.setImmediate(fn) }) }
  : (fn) => { setTimeout(fn, 0) }

/** Tokens of one generation, readable from any index by any number of streams while it runs and after. */
export class TokenBuffer {
  readonly frames: TokenFrame[] = []
  end?: StreamEnd
  private waiters: Array<() => void> = []
  /** readers pausing between batches, woken early only when the tokens are complete */
  private finishers: Array<() => void> = []
  private completed = false
  private waking = false

  push (text: string, tokenIds: number[]): void {
    this.frames.push({ index: this.frames.length, text, tokenIds })
    this.wake()
  }

  /**
   * No more tokens will come (the end frame may still wait, for the output's
   * CID say): what readers hold back between batches goes out now.
   */
  complete (): void {
    if (this.completed) {
      return
    }
    this.completed = true
    const finishers = this.finishers
    this.finishers = []
    for (const f of finishers) {
      f()
    }
  }

  finish (end: Partial<StreamEnd>): void {
    if (this.end != null) {
      return
    }
    this.end = { code: StreamEnd.Code.OK, message: '', tokenCount: this.frames.length, outputCid: new Uint8Array(0), ...end }
    this.complete()
    this.wake()
  }

  private wake (): void {
    // a reader pausing between batches, or busy writing, looks at the frames itself when it is done
    if (this.waking || this.waiters.length === 0) {
      return
    }
    this.waking = true
    // readers encode, encrypt and write while the engine decodes the next token, not before it asks for it
    afterNextTurn(() => {
      this.waking = false
      const waiters = this.waiters
      this.waiters = []
      for (const w of waiters) {
        w()
      }
    })
  }

  async * read (from: number, signal?: AbortSignal): AsyncGenerator<StreamFrame> {
    for await (const batch of this.readBatches(from, signal)) {
      yield * batch
    }
  }

  /**
   * The frames from `from` on, in batches: each batch holds every frame
   * pushed since the last one was taken (the end frame last), so frames that
   * piled up while a slow reader wrote the previous batch go out in one write.
   * With `intervalMs`, a batch follows the one before it no sooner than that
   * (once the tokens are complete, what is left goes out at once): the first
   * token leaves alone, the next ones a few at a time, one write, one
   * encryption and one wake-up of the reader per batch instead of per token.
   */
  async * readBatches (from: number, signal?: AbortSignal, intervalMs = 0): AsyncGenerator<StreamFrame[]> {
    let i = from
    let last = -Infinity
    for (;;) {
      if (i < this.frames.length || this.end != null) {
        const early = last + intervalMs - performance.now()
        if (!this.completed && early > 0) {
          await this.wait(signal, early)
          continue
        }
        const batch: StreamFrame[] = this.frames.slice(i).map(token => ({ token }))
        i = this.frames.length
        const end = this.end
        if (end != null) {
          batch.push({ end })
        }
        last = performance.now()
        yield batch
        // (an end that came while the reader wrote this batch goes in the next one)
        if (end != null) {
          return
        }
        continue
      }
      await this.wait(signal)
    }
  }

  /** Until a push or the end; with `pauseMs`, until the tokens are complete or that long. */
  private async wait (signal?: AbortSignal, pauseMs?: number): Promise<void> {
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        clearTimeout(timer)
        this.finishers = this.finishers.filter(f => f !== done)
        this.waiters = this.waiters.filter(f => f !== done)
        reject(signal?.reason)
      }
      if (pauseMs == null) {
        this.waiters.push(done)
      } else {
        this.finishers.push(done)
        timer = setTimeout(() => {
          this.finishers = this.finishers.filter(f => f !== done)
          done()
        }, pauseMs)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

export interface StreamServerInit {
  /** the buffer of a task this node may stream to `remote`, or a StreamEnd code explaining why not */
  lookup(taskId: bigint, remote: PeerId): Promise<TokenBuffer | StreamEnd['code']>
  /** how long a stream may stay open */
  timeoutMs: number
  /** least time between two writes after the first token (default DEFAULT_TOKEN_BATCH_MS; 0 writes each token as it comes) */
  batchMs?: number
}

/**
 * Tokens written at most this often after the first. At the hundreds of
 * tokens per second a small model makes, a write per token costs the miner a
 * socket write, an encryption and a muxer frame each time, and wakes the
 * reader as often. 50 ms (20 updates a second) still reads as a smooth
 * stream; on a 2-core machine it left the generating miner ~150 µs of CPU per
 * token more than 20 ms did, and the client less to wake for.
 */
export const DEFAULT_TOKEN_BATCH_MS = 50

/** Serve one incoming stream. */
export async function serveTokenStream (stream: Stream, remote: PeerId, init: StreamServerInit): Promise<void> {
  const signal = AbortSignal.timeout(init.timeoutMs)
  const pb = pbStream(stream, { maxDataLength: MAX_STREAM_FRAME_BYTES })
  try {
    let req: StreamRequest
    try {
      req = await pb.read(requestCodec, { signal })
      checkStreamRequest(req)
    } catch (err: any) {
      await pb.write({ end: { code: StreamEnd.Code.BAD_REQUEST, message: String(err?.message ?? err).slice(0, 200), tokenCount: 0, outputCid: new Uint8Array(0) } }, frameCodec, { signal })
      await stream.close({ signal })
      return
    }
    const found = await init.lookup(req.taskId, remote)
    if (typeof found === 'string') {
      await pb.write({ end: { code: found, message: '', tokenCount: 0, outputCid: new Uint8Array(0) } }, frameCodec, { signal })
    } else {
      for await (const frames of found.readBatches(req.fromIndex, signal, init.batchMs ?? DEFAULT_TOKEN_BATCH_MS)) {
        await pb.writeV(frames, frameCodec, { signal })
      }
    }
    await stream.close({ signal })
  } catch (err: any) {
    stream.abort(err)
  }
}

export class StreamFailedError extends Error {
  static name = 'StreamFailedError'
  readonly code?: StreamEnd['code']

  constructor (message: string, code?: StreamEnd['code'], options?: ErrorOptions) {
    super(message, options)
    this.name = 'StreamFailedError'
    this.code = code
  }
}

/**
 * Open a token stream to `peer` and yield its token frames from `fromIndex`;
 * returns the StreamEnd. Throws StreamFailedError when the miner refuses or
 * the stream breaks before its end frame.
 */
export async function * requestTokens (libp2p: Libp2p, peer: PeerId, protocol: string, req: StreamRequest, signal?: AbortSignal): AsyncGenerator<TokenFrame, StreamEnd> {
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, protocol, { signal })
  } catch (err: any) {
    throw new StreamFailedError(`cannot open a token stream to ${peer}: ${err?.message ?? err}`, undefined, { cause: err })
  }
  const pb = pbStream(stream, { maxDataLength: MAX_STREAM_FRAME_BYTES })
  try {
    await pb.write(req, requestCodec, { signal })
    for (;;) {
      const frame = await pb.read(frameCodec, { signal })
      checkStreamFrame(frame)
      if (frame.token != null) {
        yield frame.token
      } else if (frame.end != null) {
        if (frame.end.code !== StreamEnd.Code.OK) {
          throw new StreamFailedError(`miner ended the stream: ${frame.end.code} ${frame.end.message}`.trim(), frame.end.code)
        }
        return frame.end
      }
    }
  } catch (err: any) {
    stream.abort(err)
    if (err instanceof StreamFailedError) {
      throw err
    }
    throw new StreamFailedError(`token stream from ${peer} broke: ${err?.message ?? err}`, undefined, { cause: err })
  } finally {
    if (stream.status === 'open') {
      await stream.close().catch(() => {})
    }
  }
}
