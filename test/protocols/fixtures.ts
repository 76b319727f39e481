/** Valid sample messages shared by the protocol specs. */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MinerVerdict } from '../../protocols/messages/index.ts'
import type { Ack, Assignment, Heartbeat, Precommit, Reveal, TaskQueued, Verdict } from '../../protocols/messages/index.ts'

export function address (n: number): Uint8Array<ArrayBuffer> {
  const a = new Uint8Array(20)
  a[19] = n & 0xff
  a[18] = (n >> 8) & 0xff
  a[0] = 0xaa
  return a
}

export function filled (length: number, value: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).fill(value)
}

export async function cidBytes (text: string): Promise<Uint8Array<ArrayBuffer>> {
  const digest = await sha256.digest(new TextEncoder().encode(text))
  return new Uint8Array(CID.createV1(raw.code, digest).bytes)
}

export function taskQueued (promptCid: Uint8Array<ArrayBuffer>, over: Partial<TaskQueued> = {}): TaskQueued {
  return {
    sessionId: 7n,
    taskId: 42n,
    promptCid,
    params: { modelId: 'tiny-llama', maxTokens: 64, temperature: 0, topP: 1, topK: 40, seed: 1234567890123n, stop: ['\n\n'] },
    submitter: address(1),
    deadlineMs: 1_800_000_000_000n,
    redundancy: 3,
    ...over
  }
}

export function assignment (over: Partial<Assignment> = {}): Assignment {
  return {
    taskId: 42n,
    sessionId: 7n,
    miners: [address(10), address(11), address(12)],
    selectionSeed: filled(32, 9),
    leader: address(2),
    round: 0,
    signature: filled(65, 1),
    replaced: [],
    ...over
  } as Assignment
}

export function ack (over: Partial<Ack> = {}): Ack {
  return { taskId: 42n, miner: address(10), round: 0, ...over }
}

export function precommit (over: Partial<Precommit> = {}): Precommit {
  return { taskId: 42n, miner: address(10), commitment: filled(32, 3), signature: filled(65, 4), ...over }
}

export function reveal (outputCid: Uint8Array<ArrayBuffer>, over: Partial<Reveal> = {}): Reveal {
  return { taskId: 42n, miner: address(10), outputCid, salt: filled(32, 5), ...over }
}

export function verdict (over: Partial<Verdict> = {}): Verdict {
  return {
    taskId: 42n,
    oracle: address(2),
    round: 0,
    signature: new Uint8Array(0),
    miners: [
      { miner: address(10), outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 990_000 },
      { miner: address(11), outcome: MinerVerdict.Outcome.OUTLIER, similarityPpm: 120_000 }
    ],
    ...over
  }
}

export function heartbeat (over: Partial<Heartbeat> = {}): Heartbeat {
  return {
    node: address(10),
    models: ['tiny-llama'],
    hardwareClass: 'cpu',
    level: 1,
    tokensPerSecondMilli: 2_300_000,
    loadPermille: 250,
    reservedBySession: 0n,
    timestampMs: 1_700_000_000_000n,
    seq: 1n,
    ...over
  }
}
