/**
 * Decoding with limits and structural checks of every wire message. Pure and
 * browser-safe: the gossip validators and the token-stream protocol both call
 * these before trusting a field.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import { equals } from 'uint8arrays/equals'
import { bytesToHex, hexToBytes } from 'viem'
import {
  ADDRESS_BYTES, HASH_BYTES, MAX_CID_BYTES, MAX_GOSSIP_MESSAGE_BYTES, MAX_HARDWARE_CLASS_BYTES, MAX_INLINE_PROMPT_BYTES, MAX_MINERS_PER_TASK,
  MAX_BACKEND_BYTES, MAX_GPU_DEVICE_NAME_BYTES, MAX_GPU_DEVICES_PER_HEARTBEAT, MAX_FIRST_TOKEN_MS, MAX_HEARTBEAT_INTERVAL_MS, MAX_MODEL_ID_BYTES, MAX_MODELS_PER_HEARTBEAT, MAX_NODE_LEVEL, MAX_STOP_SEQUENCE_BYTES, MAX_STOP_SEQUENCES,
  MAX_STREAM_MESSAGE_BYTES, MAX_TASK_TOKENS, MAX_TOKEN_IDS_PER_FRAME, MAX_TOKEN_TEXT_BYTES, SIGNATURE_BYTES
} from './constants.ts'
import { InvalidFieldError, MalformedMessageError, OversizeMessageError } from './errors.ts'
import { Heartbeat } from './pool.js'
import { StreamFrame, StreamRequest } from './stream.js'
import { Ack, Assignment, Decline, FirstTokenReport, MinerVerdict, Precommit, Reveal, TaskQueued, Verdict } from './task.js'
import type { Address, Hex } from 'viem'

const utf8 = new TextEncoder()
/** multicodec of sha2-256, the hash of every CID this network writes */
const SHA2_256_CODE = 0x12

/** Protons decode limits for every repeated field, per message. */
export const DECODE_LIMITS = {
  taskQueued: { params: { stop: MAX_STOP_SEQUENCES } },
  assignment: { miners: MAX_MINERS_PER_TASK, replaced: MAX_MINERS_PER_TASK },
  verdict: { miners: MAX_MINERS_PER_TASK },
  heartbeat: { models: MAX_MODELS_PER_HEARTBEAT, hardware: { gpuDevices: MAX_GPU_DEVICES_PER_HEARTBEAT } },
  streamFrame: { token: { tokenIds: MAX_TOKEN_IDS_PER_FRAME } }
} as const

/** Size check first, then protons decode with limits; any failure is a typed error. */
export function decodeWithLimit<T> (bytes: Uint8Array, maxBytes: number, decode: (b: Uint8Array) => T): T {
  if (bytes.byteLength > maxBytes) {
    throw new OversizeMessageError(bytes.byteLength, maxBytes)
  }
  try {
    return decode(bytes)
  } catch (err: any) {
    throw new MalformedMessageError(`cannot decode: ${err?.message ?? err}`, { cause: err })
  }
}

export const decoders = {
  taskQueued: (b: Uint8Array): TaskQueued => TaskQueued.decode(b, { limits: DECODE_LIMITS.taskQueued }),
  assignment: (b: Uint8Array): Assignment => Assignment.decode(b, { limits: DECODE_LIMITS.assignment }),
  ack: (b: Uint8Array): Ack => Ack.decode(b),
  decline: (b: Uint8Array): Decline => Decline.decode(b),
  precommit: (b: Uint8Array): Precommit => Precommit.decode(b),
  reveal: (b: Uint8Array): Reveal => Reveal.decode(b),
  verdict: (b: Uint8Array): Verdict => Verdict.decode(b, { limits: DECODE_LIMITS.verdict }),
  firstToken: (b: Uint8Array): FirstTokenReport => FirstTokenReport.decode(b),
  heartbeat: (b: Uint8Array): Heartbeat => Heartbeat.decode(b, { limits: DECODE_LIMITS.heartbeat }),
  streamRequest: (b: Uint8Array): StreamRequest => StreamRequest.decode(b),
  streamFrame: (b: Uint8Array): StreamFrame => StreamFrame.decode(b, { limits: DECODE_LIMITS.streamFrame })
}

// ---------------------------------------------------------------- field checks

export function checkId (field: string, value: bigint): void {
  if (value <= 0n) {
    throw new InvalidFieldError(field, 'must be a positive id')
  }
}

export function checkBytes (field: string, value: Uint8Array, exact: number): void {
  if (value.byteLength !== exact) {
    throw new InvalidFieldError(field, `must be ${exact} bytes, got ${value.byteLength}`)
  }
}

export function checkString (field: string, value: string, maxBytes: number, allowEmpty = false): void {
  if (!allowEmpty && value.length === 0) {
    throw new InvalidFieldError(field, 'must not be empty')
  }
  const size = utf8.encode(value).byteLength
  if (size > maxBytes) {
    throw new InvalidFieldError(field, `${size} bytes exceeds ${maxBytes}`)
  }
}

export function checkCid (field: string, value: Uint8Array): CID {
  if (value.byteLength === 0 || value.byteLength > MAX_CID_BYTES) {
    throw new InvalidFieldError(field, `CID of ${value.byteLength} bytes (1..${MAX_CID_BYTES})`)
  }
  try {
    return CID.decode(value)
  } catch {
    throw new InvalidFieldError(field, 'not a binary CID')
  }
}

export function checkAddress (field: string, value: Uint8Array): Address {
  checkBytes(field, value, ADDRESS_BYTES)
  return bytesToAddress(value)
}

export function bytesToAddress (value: Uint8Array): Address {
  return bytesToHex(value) as Address
}

export function addressToBytes (address: Address | Hex): Uint8Array<ArrayBuffer> {
  const bytes = hexToBytes(address as Hex)
  if (bytes.byteLength !== ADDRESS_BYTES) {
    throw new InvalidFieldError('address', `must be ${ADDRESS_BYTES} bytes`)
  }
  return new Uint8Array(bytes)
}

function checkRange (field: string, value: number, min: number, max: number): void {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new InvalidFieldError(field, `must be within [${min}, ${max}], got ${value}`)
  }
}

function checkUniqueAddresses (field: string, values: Uint8Array[]): Address[] {
  const seen = new Set<string>()
  return values.map((v, i) => {
    const a = checkAddress(`${field}[${i}]`, v)
    if (seen.has(a)) {
      throw new InvalidFieldError(field, `duplicate address ${a}`)
    }
    seen.add(a)
    return a
  })
}

// ---------------------------------------------------------------- per message

export function checkTaskQueued (m: TaskQueued): void {
  checkId('sessionId', m.sessionId)
  checkId('taskId', m.taskId)
  const promptCid = checkCid('promptCid', m.promptCid)
  checkInlinePrompt(promptCid, m.promptBlock)
  if (m.seed != null && m.seed.byteLength !== 32) {
    throw new InvalidFieldError('seed', `must be 32 bytes, got ${m.seed.byteLength}`)
  }
  checkAddress('submitter', m.submitter)
  if (m.deadlineMs <= 0n) {
    throw new InvalidFieldError('deadlineMs', 'must be set')
  }
  checkRange('redundancy', m.redundancy, 1, MAX_MINERS_PER_TASK)
  const p = m.params
  if (p == null) {
    throw new InvalidFieldError('params', 'missing')
  }
  checkString('params.modelId', p.modelId, MAX_MODEL_ID_BYTES)
  checkRange('params.maxTokens', p.maxTokens, 1, MAX_TASK_TOKENS)
  checkRange('params.temperature', p.temperature, 0, 2)
  checkRange('params.topP', p.topP, 0, 1)
  p.stop.forEach((s, i) => { checkString(`params.stop[${i}]`, s, MAX_STOP_SEQUENCE_BYTES) })
}

/** An inline prompt block must be small and hash to the announced prompt CID (sha2-256, the only hash we write). */
export function checkInlinePrompt (cid: CID, block: Uint8Array | undefined): void {
  if (block == null || block.byteLength === 0) {
    return
  }
  if (block.byteLength > MAX_INLINE_PROMPT_BYTES) {
    throw new InvalidFieldError('promptBlock', `${block.byteLength} bytes, more than ${MAX_INLINE_PROMPT_BYTES}`)
  }
  if (cid.multihash.code !== SHA2_256_CODE || !equals(sha256(block), cid.multihash.digest)) {
    throw new InvalidFieldError('promptBlock', `does not hash to the prompt CID ${cid.toString()}`)
  }
}

export function checkAssignment (m: Assignment): Address[] {
  checkId('taskId', m.taskId)
  checkId('sessionId', m.sessionId)
  if (m.miners.length === 0) {
    throw new InvalidFieldError('miners', 'must not be empty')
  }
  const miners = checkUniqueAddresses('miners', m.miners)
  checkBytes('selectionSeed', m.selectionSeed, HASH_BYTES)
  checkAddress('leader', m.leader)
  if (m.signature.byteLength !== 0) {
    checkBytes('signature', m.signature, SIGNATURE_BYTES)
  }
  if (m.promptDigest != null) {
    checkBytes('promptDigest', m.promptDigest, HASH_BYTES)
  }
  if (m.paramsDigest != null) {
    checkBytes('paramsDigest', m.paramsDigest, HASH_BYTES)
  }
  if (m.announcement != null) {
    if (m.round === 0) {
      throw new InvalidFieldError('announcement', 'only a replacement round carries the announcement')
    }
    const q = decodeWithLimit(m.announcement, MAX_GOSSIP_MESSAGE_BYTES, decoders.taskQueued)
    checkTaskQueued(q)
    if (q.taskId !== m.taskId || q.sessionId !== m.sessionId) {
      throw new InvalidFieldError('announcement', `announces task ${q.taskId} of session ${q.sessionId}`)
    }
  }
  if (m.replaced.length > 0) {
    if (m.round === 0) {
      throw new InvalidFieldError('replaced', 'only a replacement round replaces miners')
    }
    if (m.replaced.length > m.miners.length) {
      throw new InvalidFieldError('replaced', `${m.replaced.length} miners replaced by ${m.miners.length}`)
    }
    const replaced = checkUniqueAddresses('replaced', m.replaced)
    const both = replaced.find(a => miners.includes(a))
    if (both != null) {
      throw new InvalidFieldError('replaced', `${both} cannot replace itself`)
    }
  }
  return miners
}

export function checkAck (m: Ack): void {
  checkId('taskId', m.taskId)
  checkAddress('miner', m.miner)
}

/** Longest reason text a decline carries (bytes). */
export const MAX_DECLINE_MESSAGE_BYTES = 256

export function checkDecline (m: Decline): void {
  checkId('taskId', m.taskId)
  checkAddress('miner', m.miner)
  if (!Object.values(Decline.Reason).includes(m.reason)) {
    throw new InvalidFieldError('reason', `unknown reason ${String(m.reason)}`)
  }
  checkString('message', m.message, MAX_DECLINE_MESSAGE_BYTES, true)
}

export function checkPrecommit (m: Precommit): void {
  checkId('taskId', m.taskId)
  checkAddress('miner', m.miner)
  checkBytes('commitment', m.commitment, HASH_BYTES)
  checkBytes('signature', m.signature, SIGNATURE_BYTES)
}

export function checkReveal (m: Reveal): void {
  checkId('taskId', m.taskId)
  checkAddress('miner', m.miner)
  checkCid('outputCid', m.outputCid)
  checkBytes('salt', m.salt, HASH_BYTES)
  if (m.signature != null) {
    checkBytes('signature', m.signature, SIGNATURE_BYTES)
  }
}

export function checkVerdict (m: Verdict): void {
  checkId('taskId', m.taskId)
  checkAddress('oracle', m.oracle)
  if (m.miners.length === 0) {
    throw new InvalidFieldError('miners', 'must not be empty')
  }
  checkUniqueAddresses('miners', m.miners.map(v => v.miner))
  m.miners.forEach((v, i) => {
    checkRange(`miners[${i}].similarityPpm`, v.similarityPpm, 0, 1_000_000)
    if (v.firstTokenMs != null) {
      checkRange(`miners[${i}].firstTokenMs`, v.firstTokenMs, 0, MAX_FIRST_TOKEN_MS)
    }
    if (v.replaySignature != null) {
      checkBytes(`miners[${i}].replaySignature`, v.replaySignature, SIGNATURE_BYTES)
      if (v.outcome !== MinerVerdict.Outcome.REJECTED_REPLAY) {
        throw new InvalidFieldError(`miners[${i}].replaySignature`, 'only a failed replay carries a replay signature')
      }
    }
  })
  if (m.signature.byteLength !== 0) {
    checkBytes('signature', m.signature, SIGNATURE_BYTES)
  }
}

export function checkFirstTokenReport (m: FirstTokenReport): void {
  checkId('taskId', m.taskId)
  checkId('sessionId', m.sessionId)
  checkAddress('submitter', m.submitter)
  checkAddress('miner', m.miner)
  checkRange('firstTokenMs', m.firstTokenMs, 0, MAX_FIRST_TOKEN_MS)
}

export function checkHeartbeat (m: Heartbeat): void {
  checkAddress('node', m.node)
  if (m.models.length === 0) {
    throw new InvalidFieldError('models', 'must not be empty')
  }
  m.models.forEach((s, i) => { checkString(`models[${i}]`, s, MAX_MODEL_ID_BYTES) })
  checkString('hardwareClass', m.hardwareClass, MAX_HARDWARE_CLASS_BYTES)
  checkRange('level', m.level, 0, MAX_NODE_LEVEL)
  checkRange('loadPermille', m.loadPermille, 0, 1000)
  if (m.timestampMs <= 0n) {
    throw new InvalidFieldError('timestampMs', 'must be set')
  }
  if (m.reservedUntilMs != null && m.reservedUntilMs !== 0n && m.reservedBySession === 0n) {
    throw new InvalidFieldError('reservedUntilMs', 'set without reservedBySession')
  }
  if (m.intervalMs != null) {
    checkRange('intervalMs', m.intervalMs, 0, MAX_HEARTBEAT_INTERVAL_MS)
  }
  if (m.hardware != null) {
    checkString('hardware.backend', m.hardware.backend, MAX_BACKEND_BYTES)
    m.hardware.gpuDevices.forEach((s, i) => { checkString(`hardware.gpuDevices[${i}]`, s, MAX_GPU_DEVICE_NAME_BYTES) })
  }
}

export function checkStreamRequest (m: StreamRequest): void {
  checkId('taskId', m.taskId)
}

export function checkStreamFrame (m: StreamFrame): void {
  if ((m.token == null) === (m.end == null)) {
    throw new InvalidFieldError('frame', 'exactly one of token or end must be set')
  }
  if (m.token != null) {
    checkString('token.text', m.token.text, MAX_TOKEN_TEXT_BYTES, true)
  }
  if (m.end != null) {
    checkString('end.message', m.end.message, MAX_STREAM_MESSAGE_BYTES, true)
    if (m.end.outputCid.byteLength !== 0) {
      checkCid('end.outputCid', m.end.outputCid)
    }
  }
}
