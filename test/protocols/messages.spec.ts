import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as dagJson from '@ipld/dag-json'
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { inlinePrompt } from '../../node/roles/shared/records.ts'
import {
  Ack, Assignment, Heartbeat, MAX_GOSSIP_MESSAGE_BYTES, MAX_GPU_DEVICES_PER_HEARTBEAT, MAX_INLINE_PROMPT_BYTES, MAX_MINERS_PER_TASK, MAX_MODELS_PER_HEARTBEAT,
  MAX_STOP_SEQUENCES, MAX_TOKEN_IDS_PER_FRAME, MinerVerdict, Precommit, Reveal, StreamEnd, StreamFrame, StreamRequest,
  TaskQueued, Verdict, addressToBytes, bytesToAddress, checkAck, checkAssignment, checkHeartbeat, checkPrecommit,
  checkReveal, checkStreamFrame, checkStreamRequest, checkTaskQueued, checkVerdict, decodeWithLimit, decoders
} from '../../protocols/messages/index.ts'
import { MESSAGES_DIR, generateMessages } from './codegen.ts'
import * as f from './fixtures.ts'

function expectThrowsNamed (fn: () => unknown, name: string): void {
  let thrown: any
  try { fn() } catch (err) { thrown = err }
  expect(thrown, `expected ${name}`).to.be.an('error')
  expect(thrown.name).to.equal(name)
}

describe('protocols/messages', () => {
  let promptCid: Uint8Array<ArrayBuffer>
  let outputCid: Uint8Array<ArrayBuffer>

  before(async () => {
    promptCid = await f.cidBytes('prompt')
    outputCid = await f.cidBytes('output')
  })

  it('committed codecs equal a fresh protons generation', function () {
    this.timeout(60_000)
    const generated = generateMessages()
    expect(generated.size).to.be.greaterThan(0)
    for (const [name, content] of generated) {
      expect(readFileSync(join(MESSAGES_DIR, name), 'utf8'), `${name} is stale: run node test/protocols/codegen.ts`).to.equal(content)
    }
  })

  describe('round-trips', () => {
    it('TaskQueued with uint64 ids as bigint and nested params', () => {
      const m = f.taskQueued(promptCid, { taskId: 2n ** 64n - 1n })
      const back = decoders.taskQueued(TaskQueued.encode(m))
      expect(back).to.deep.equal(m)
      expect(back.taskId).to.equal(18446744073709551615n)
      checkTaskQueued(back)
    })

    it('Assignment, Ack, Precommit, Reveal, Verdict, Heartbeat', () => {
      const cases: Array<[unknown, (m: any) => Uint8Array, (b: Uint8Array) => unknown, (m: any) => unknown]> = [
        [f.assignment(), Assignment.encode, decoders.assignment, checkAssignment],
        [f.ack(), Ack.encode, decoders.ack, checkAck],
        [f.precommit(), Precommit.encode, decoders.precommit, checkPrecommit],
        [f.reveal(outputCid), Reveal.encode, decoders.reveal, checkReveal],
        [f.verdict(), Verdict.encode, decoders.verdict, checkVerdict],
        [f.heartbeat({ reservedBySession: 99n }), Heartbeat.encode, decoders.heartbeat, checkHeartbeat]
      ]
      for (const [m, enc, dec, check] of cases) {
        const back = dec(enc(m))
        expect(back).to.deep.equal(m)
        check(back)
      }
    })

    it('verdict outcomes survive as enum values', () => {
      const back = decoders.verdict(Verdict.encode(f.verdict()))
      expect(back.miners.map(v => v.outcome)).to.deep.equal([MinerVerdict.Outcome.ACCEPTED, MinerVerdict.Outcome.OUTLIER])
    })

    it('stream frames: request, tokens, end with error code', () => {
      const req = { taskId: 42n, sessionId: 7n, fromIndex: 3 }
      expect(decoders.streamRequest(StreamRequest.encode(req))).to.deep.equal(req)
      checkStreamRequest(req)
      const token: StreamFrame = { token: { index: 0, text: 'héllo', tokenIds: [1, 2, 3] } }
      expect(decoders.streamFrame(StreamFrame.encode(token))).to.deep.equal(token)
      checkStreamFrame(token)
      const end: StreamFrame = { end: { code: StreamEnd.Code.ENGINE_ERROR, message: 'model crashed', tokenCount: 5, outputCid: new Uint8Array(0) } }
      const back = decoders.streamFrame(StreamFrame.encode(end))
      expect(back.end?.code).to.equal(StreamEnd.Code.ENGINE_ERROR)
      expect(back.token).to.equal(undefined)
      checkStreamFrame(back)
    })

    it('addresses convert both ways', () => {
      const a = f.address(258)
      expect(addressToBytes(bytesToAddress(a))).to.deep.equal(a)
      expectThrowsNamed(() => addressToBytes('0x1234'), 'InvalidFieldError')
    })
  })

  describe('decode limits', () => {
    it('rejects more miners than MAX_MINERS_PER_TASK in Assignment and Verdict', () => {
      const miners = Array.from({ length: MAX_MINERS_PER_TASK + 1 }, (_, i) => f.address(i + 1))
      expectThrowsNamed(() => decodeWithLimit(Assignment.encode(f.assignment({ miners })), MAX_GOSSIP_MESSAGE_BYTES, decoders.assignment), 'MalformedMessageError')
      const ok = miners.slice(0, MAX_MINERS_PER_TASK)
      expect(decoders.assignment(Assignment.encode(f.assignment({ miners: ok }))).miners).to.have.length(MAX_MINERS_PER_TASK)
      const verdicts = miners.map(miner => ({ miner, outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0 }))
      expectThrowsNamed(() => decodeWithLimit(Verdict.encode(f.verdict({ miners: verdicts })), MAX_GOSSIP_MESSAGE_BYTES, decoders.verdict), 'MalformedMessageError')
    })

    it('rejects too many stop sequences (nested limit), models and token ids', () => {
      const tq = f.taskQueued(promptCid)
      tq.params = { ...tq.params!, stop: Array.from({ length: MAX_STOP_SEQUENCES + 1 }, (_, i) => `s${i}`) }
      expectThrowsNamed(() => decodeWithLimit(TaskQueued.encode(tq), MAX_GOSSIP_MESSAGE_BYTES, decoders.taskQueued), 'MalformedMessageError')
      const hb = f.heartbeat({ models: Array.from({ length: MAX_MODELS_PER_HEARTBEAT + 1 }, (_, i) => `m${i}`) })
      expectThrowsNamed(() => decodeWithLimit(Heartbeat.encode(hb), MAX_GOSSIP_MESSAGE_BYTES, decoders.heartbeat), 'MalformedMessageError')
      const frame = StreamFrame.encode({ token: { index: 0, text: '', tokenIds: Array.from({ length: MAX_TOKEN_IDS_PER_FRAME + 1 }, () => 1) } })
      expectThrowsNamed(() => decodeWithLimit(frame, 1 << 20, decoders.streamFrame), 'MalformedMessageError')
    })

    it('rejects more GPU devices than MAX_GPU_DEVICES_PER_HEARTBEAT (nested limit) and keeps the hardware fields', () => {
      const hardware = { backend: 'cuda', gpuDevices: ['NVIDIA H100 80GB HBM3'], vramBytes: 85_000_000_000n, threads: 4, sequences: 2 }
      const hb = decoders.heartbeat(Heartbeat.encode(f.heartbeat({ firstTokenMs: 12, hardware })))
      expect(hb.firstTokenMs).to.equal(12)
      expect(hb.hardware).to.deep.equal(hardware)
      checkHeartbeat(hb)
      const many = f.heartbeat({ hardware: { ...hardware, gpuDevices: Array.from({ length: MAX_GPU_DEVICES_PER_HEARTBEAT + 1 }, (_, i) => `gpu${i}`) } })
      expectThrowsNamed(() => decodeWithLimit(Heartbeat.encode(many), MAX_GOSSIP_MESSAGE_BYTES, decoders.heartbeat), 'MalformedMessageError')
      expectThrowsNamed(() => { checkHeartbeat(f.heartbeat({ hardware: { ...hardware, backend: 'x'.repeat(64) } })) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkHeartbeat(f.heartbeat({ hardware: { ...hardware, gpuDevices: ['x'.repeat(200)] } })) }, 'InvalidFieldError')
    })

    it('rejects oversize bytes before decoding', () => {
      const big = new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1)
      expectThrowsNamed(() => decodeWithLimit(big, MAX_GOSSIP_MESSAGE_BYTES, decoders.ack), 'OversizeMessageError')
    })

    it('rejects garbage as malformed', () => {
      expectThrowsNamed(() => decodeWithLimit(new Uint8Array([0x1a, 0x0a, 0x01]), 100, decoders.taskQueued), 'MalformedMessageError')
    })
  })

  describe('field checks', () => {
    const bad: Array<[string, () => unknown]> = [
      ['zero task id', () => { checkAck(f.ack({ taskId: 0n })) }],
      ['short miner address', () => { checkAck(f.ack({ miner: new Uint8Array(19) })) }],
      ['short signature', () => { checkPrecommit(f.precommit({ signature: new Uint8Array(64) })) }],
      ['short commitment', () => { checkPrecommit(f.precommit({ commitment: new Uint8Array(31) })) }],
      ['empty assignment', () => { checkAssignment(f.assignment({ miners: [] })) }],
      ['duplicate miners', () => { checkAssignment(f.assignment({ miners: [f.address(1), f.address(1)] })) }],
      ['short seed', () => { checkAssignment(f.assignment({ selectionSeed: new Uint8Array(8) })) }],
      ['similarity out of range', () => { checkVerdict(f.verdict({ miners: [{ miner: f.address(1), outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 1_000_001 }] })) }],
      ['short replay signature', () => { checkVerdict(f.verdict({ miners: [{ miner: f.address(1), outcome: MinerVerdict.Outcome.REJECTED_REPLAY, similarityPpm: 0, replaySignature: new Uint8Array(64) }] })) }],
      ['replay signature on an accepted output', () => { checkVerdict(f.verdict({ miners: [{ miner: f.address(1), outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0, replaySignature: new Uint8Array(65) }] })) }],
      ['load over 1000 permille', () => { checkHeartbeat(f.heartbeat({ loadPermille: 1001 })) }],
      ['long hardware class', () => { checkHeartbeat(f.heartbeat({ hardwareClass: 'x'.repeat(33) })) }],
      ['heartbeat period over an hour', () => { checkHeartbeat(f.heartbeat({ intervalMs: 60 * 60_000 + 1 })) }],
      ['frame with both token and end', () => { checkStreamFrame({ token: { index: 0, text: '', tokenIds: [] }, end: { code: StreamEnd.Code.OK, message: '', tokenCount: 0, outputCid: new Uint8Array(0) } }) }],
      ['frame with neither', () => { checkStreamFrame({}) }],
      ['oversize token text', () => { checkStreamFrame({ token: { index: 0, text: 'é'.repeat(600), tokenIds: [] } }) }],
      ['zero stream task id', () => { checkStreamRequest({ taskId: 0n, sessionId: 1n, fromIndex: 0 }) }]
    ]
    for (const [what, fn] of bad) {
      it(`InvalidFieldError: ${what}`, () => { expectThrowsNamed(fn, 'InvalidFieldError') })
    }

    it('TaskQueued: bad CID, empty model, temperature and token bounds', () => {
      const base = f.taskQueued(promptCid)
      expectThrowsNamed(() => { checkTaskQueued({ ...base, promptCid: new Uint8Array([1, 2, 3]) }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, params: { ...base.params!, modelId: '' } }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, params: { ...base.params!, temperature: 3 } }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, params: { ...base.params!, maxTokens: 0 } }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, params: undefined }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, redundancy: 0 }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, params: { ...base.params!, stop: ['x'.repeat(65)] } }) }, 'InvalidFieldError')
    })

    it('TaskQueued: an inline prompt block must hash to the prompt CID and stay small', async () => {
      const block = Uint8Array.from(dagJson.encode({ prompt: 'hello there' }))
      const cid = CID.createV1(dagJson.code, await sha256.digest(block))
      const base = f.taskQueued(new Uint8Array(cid.bytes))
      checkTaskQueued({ ...base, promptBlock: block })
      expect(inlinePrompt({ promptCid: base.promptCid, promptBlock: block })).to.deep.equal({ prompt: 'hello there' })
      // the announcement survives the wire with its block
      expect(TaskQueued.decode(TaskQueued.encode({ ...base, promptBlock: block })).promptBlock).to.deep.equal(block)
      const forged = Uint8Array.from(dagJson.encode({ prompt: 'something else' }))
      expectThrowsNamed(() => { checkTaskQueued({ ...base, promptBlock: forged }) }, 'InvalidFieldError')
      expect(inlinePrompt({ promptCid: base.promptCid, promptBlock: forged })).to.equal(undefined)
      const big = Uint8Array.from(dagJson.encode({ prompt: 'x'.repeat(MAX_INLINE_PROMPT_BYTES) }))
      const bigCid = CID.createV1(dagJson.code, await sha256.digest(big))
      expectThrowsNamed(() => { checkTaskQueued({ ...base, promptCid: new Uint8Array(bigCid.bytes), promptBlock: big }) }, 'InvalidFieldError')
      // no block: fetched by CID as before
      checkTaskQueued(base)
      expect(inlinePrompt(base)).to.equal(undefined)
    })

    it('TaskQueued: the selection seed, when present, is 32 bytes and survives the wire', () => {
      const base = f.taskQueued(promptCid)
      const seed = new Uint8Array(32).fill(7)
      checkTaskQueued({ ...base, seed })
      expect(TaskQueued.decode(TaskQueued.encode({ ...base, seed })).seed).to.deep.equal(seed)
      expect(TaskQueued.decode(TaskQueued.encode(base)).seed).to.equal(undefined)
      expectThrowsNamed(() => { checkTaskQueued({ ...base, seed: new Uint8Array(31) }) }, 'InvalidFieldError')
      expectThrowsNamed(() => { checkTaskQueued({ ...base, seed: new Uint8Array(0) }) }, 'InvalidFieldError')
    })
  })
})
