/**
 * First-token latency measured, not claimed: the submitter's signed report
 * (its codec, checks and gossip validation), the leader's verdict entry, the
 * delivery book's median under the draws' reproducibility rule, and the
 * book kept across restarts.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import { bytesToHex } from 'viem'
import { firstTokenMs } from '../../client/token-stream.ts'
import { drawRecords } from '../../node/roles/oracle/draws.ts'
import { deliveries, verdictMessage } from '../../node/roles/oracle/leader-verdict.ts'
import { DeliveryStore } from '../../node/roles/shared/delivery-store.ts'
import { checkReporter } from '../../node/roles/shared/gossip-checks.ts'
import { defaultValidators, resultFor, statementKey } from '../../protocols/gossip/index.ts'
import { FirstTokenReport, MAX_FIRST_TOKEN_MS, MinerVerdict, Verdict, checkFirstTokenReport, checkVerdict, decodeWithLimit, decoders } from '../../protocols/messages/index.ts'
import { Verdict as V } from '../../protocols/policy/verdicts.ts'
import { DELIVERY_MIN_TASKS, DELIVERY_WINDOW_TASKS, DeliveryBook } from '../../protocols/pool/delivery.ts'
import { PoolView } from '../../protocols/pool/view.ts'
import { FAST_MAX_FIRST_TOKEN_MS, emptyingFilter, routedDraw, selectionSeed, slaFor } from '../../protocols/selection/index.ts'
import { TOPIC_CODECS } from '../../protocols/topics.ts'
import { address, heartbeat } from './fixtures.ts'
import type { GossipContext } from '../../protocols/gossip/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Address } from 'viem'

const report = (over: Partial<FirstTokenReport> = {}): FirstTokenReport => ({ taskId: 7n, sessionId: 3n, submitter: address(1), miner: address(2), firstTokenMs: 180, ...over })
const ctxFrom = (n: number): GossipContext => ({ topic: { prefix: '/cortensor', version: 1, kind: 'first-token' }, fromAddress: bytesToHex(address(n)) as Address, nowMs: Date.now() } as unknown as GossipContext)
const codecMax = TOPIC_CODECS['first-token'].maxBytes
const hex = (n: number): string => bytesToHex(address(n))
async function failure (fn: () => unknown): Promise<{ name?: string, field?: string }> {
  try {
    await fn()
    return {}
  } catch (err: any) {
    return { name: err.name, field: err.field }
  }
}
/** a verdict entry of `miner` on `taskId`, with what the leader measured */
const measured = (taskId: bigint, miner: number, first?: number): Pick<Verdict, 'taskId' | 'miners'> =>
  ({ taskId, miners: [{ miner: address(miner), outcome: MinerVerdict.Outcome.ACCEPTED, similarityPpm: 0, deliveredTokens: 100, deliveredMs: 1000, ...(first != null ? { firstTokenMs: first } : {}) }] })

describe('first-token latency: measured by the submitter, carried by the leader\'s verdict', () => {
  describe('the report on the wire', () => {
    it('round-trips on its own topic, which is not per model', () => {
      const codec = TOPIC_CODECS['first-token']
      expect(codec.modelScoped).to.equal(false)
      const back = codec.decode(codec.encode(report()))
      expect(back).to.deep.equal(report())
      codec.check(back)
    })

    it('names the field a malformed report gets wrong; gossip rejects it', async () => {
      for (const [bad, field] of [
        [report({ taskId: 0n }), 'taskId'],
        [report({ sessionId: 0n }), 'sessionId'],
        [report({ submitter: new Uint8Array(19) }), 'submitter'],
        [report({ miner: new Uint8Array(0) }), 'miner'],
        [report({ firstTokenMs: MAX_FIRST_TOKEN_MS + 1 }), 'firstTokenMs']
      ] as const) {
        const err = await failure(() => { checkFirstTokenReport(bad) })
        expect(err).to.deep.equal({ name: 'InvalidFieldError', field })
        expect(resultFor(Object.assign(new Error(), { name: err.name }))).to.equal(TopicValidatorResult.Reject)
      }
      const garbage = await failure(() => { decodeWithLimit(new Uint8Array([0xff, 0xff, 0xff]), codecMax, decoders.firstToken) })
      expect(garbage.name).to.equal('MalformedMessageError')
      expect(resultFor(Object.assign(new Error(), { name: garbage.name }))).to.equal(TopicValidatorResult.Reject)
    })

    it('a report whose submitter is not its signer is ForgedSenderError, rejected', async () => {
      const v = defaultValidators()['first-token']
      await v(report(), ctxFrom(1))
      const err = await failure(async () => { await v(report(), ctxFrom(9)) })
      expect(err.name).to.equal('ForgedSenderError')
      expect(resultFor(Object.assign(new Error(), { name: 'ForgedSenderError' }))).to.equal(TopicValidatorResult.Reject)
      // one statement per task, submitter and miner: a second figure is a duplicate
      expect(statementKey('first-token', report(), hex(1))).to.equal(statementKey('first-token', report({ firstTokenMs: 5 }), hex(1)))
      expect(statementKey('first-token', report(), hex(1))).to.not.equal(statementKey('first-token', report({ miner: address(4) }), hex(1)))
    })

    it('only the owner of the task\'s session on chain may report on it', async () => {
      const owners = (owner: Address | null | undefined): { owner(): Promise<Address | null | undefined> } => ({ owner: async () => owner })
      const sessionOf = (id: bigint): bigint | undefined => id === 7n ? 3n : undefined
      await checkReporter({ owners: owners(hex(1) as Address), sessionOf }, report())
      expect(await failure(async () => { await checkReporter({ owners: owners(hex(5) as Address), sessionOf }, report()) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'submitter' })
      // the owner of another session, naming its own session for a task of session 3
      expect(await failure(async () => { await checkReporter({ owners: owners(hex(1) as Address), sessionOf }, report({ sessionId: 4n })) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'sessionId' })
      expect((await failure(async () => { await checkReporter({ owners: owners(hex(1) as Address), sessionOf }, report({ taskId: 8n })) })).name).to.equal('UnknownTaskError')
    })
  })

  describe('the leader\'s verdict', () => {
    it('carries a report taken before it beside the delivered tokens and time; older verdicts decode without it', () => {
      const m = hex(2)
      const record = { announcedAtMs: 1000, precommitAtMs: { [m]: 3000 }, firstTokenMs: { [m]: 1500 } }
      const d = deliveries(record, { [m]: MinerVerdict.Outcome.ACCEPTED }, { [m]: 64 })
      expect(d[m]).to.deep.equal({ tokens: 64, ms: 2000, firstTokenMs: 1500 })
      // a rejected output's figures prove nothing: none is carried
      expect(deliveries(record, { [m]: MinerVerdict.Outcome.REJECTED_REPLAY }, { [m]: 64 })[m]).to.equal(undefined)
      const msg = verdictMessage(5n, hex(9), 0, { [m]: MinerVerdict.Outcome.ACCEPTED }, {}, {}, d)
      const back = decoders.verdict(Verdict.encode(msg))
      checkVerdict(back)
      expect(back.miners[0].firstTokenMs).to.equal(1500)
      const plain = decoders.verdict(Verdict.encode(verdictMessage(5n, hex(9), 0, { [m]: MinerVerdict.Outcome.ACCEPTED }, {}, {}, { [m]: { tokens: 64, ms: 2000 } })))
      expect(plain.miners[0].firstTokenMs).to.equal(undefined)
      expect(() => { checkVerdict({ ...back, miners: [{ ...back.miners[0], firstTokenMs: MAX_FIRST_TOKEN_MS + 1 }] }) }).to.throw().with.property('name', 'InvalidFieldError')
    })

    it('the client counts from the later of opening the stream and seeing the assignment', () => {
      expect(firstTokenMs(100, 350)).to.equal(250)
      // opened before the leader assigned the miner: the wait for the assignment is not the miner's
      expect(firstTokenMs(100, 350, 300)).to.equal(50)
      // assigned before the stream was opened, or the token came before the assignment was seen
      expect(firstTokenMs(100, 350, 50)).to.equal(250)
      expect(firstTokenMs(100, 350, 400)).to.equal(250)
    })
  })

  describe('the delivery book', () => {
    it('the median of the latest reports, once DELIVERY_MIN_TASKS of them are in, of tasks settled before the draw\'s block', () => {
      const book = new DeliveryBook()
      book.addVerdict(measured(1n, 2, 100))
      expect(book.firstTokenMs(hex(2))).to.equal(undefined)
      // a task without a report counts for the speed, not for the latency
      book.addVerdict(measured(2n, 2))
      expect(book.tokensPerSec(hex(2))).to.equal(100)
      expect(book.firstTokenMs(hex(2))).to.equal(undefined)
      book.addVerdict(measured(3n, 2, 300))
      expect(DELIVERY_MIN_TASKS).to.equal(2)
      expect(book.firstTokenMs(hex(2))).to.equal(200)
      expect(book.firstTokenMs(hex(2), 100n)).to.equal(undefined)
      book.settle(1n, 40n)
      book.settle(3n, 60n)
      expect(book.firstTokenMs(hex(2), 60n)).to.equal(undefined)
      expect(book.firstTokenMs(hex(2), 61n)).to.equal(200)
    })

    it('a minority of lying reports does not move the median past the honest figures', () => {
      const book = new DeliveryBook()
      const honest = [110, 120, 130, 140, 150]
      honest.forEach((ms, i) => { book.addVerdict(measured(BigInt(i + 1), 2, ms)) })
      // one submitter's three paid tasks, each reported at the longest a report may say
      ;[6n, 7n, 8n].forEach(id => { book.addVerdict(measured(id, 2, MAX_FIRST_TOKEN_MS)) })
      expect(DELIVERY_WINDOW_TASKS).to.equal(8)
      expect(book.firstTokenMs(hex(2))).to.equal(145)
    })

    it('draws use the measured first token instead of the heartbeat\'s claim: a miner that claims 5 ms and takes 1500 leaves the fast SLA', () => {
      const view = new PoolView(1000)
      const peer = { toString: () => 'peer' } as unknown as PeerId
      for (const n of [2, 3]) {
        view.onHeartbeat(heartbeat({ node: address(n), models: ['tiny'], tokensPerSecondMilli: 300_000, firstTokenMs: 5, timestampMs: BigInt(Date.now()) }), peer)
      }
      const late = view.list().find(e => e.address === hex(2))!.address
      for (const id of [1n, 2n]) {
        view.delivery.addVerdict(measured(id, 2, 1500))
        view.delivery.addVerdict(measured(id, 3, 60))
        view.delivery.settle(id, 10n)
      }
      const records = drawRecords(view, { queued: { sessionId: 1n }, record: { submitBlock: '11' } } as any)
      expect(records.find(r => r.id === late)?.firstTokenMs).to.equal(1500)
      expect(records.find(r => r.id === hex(3))?.firstTokenMs).to.equal(60)
      // the speed passes the fast SLA: only the first token leaves the late miner out
      expect(records.every(r => r.tokensPerSec === 100)).to.equal(true)
      expect(1500).to.be.greaterThan(FAST_MAX_FIRST_TOKEN_MS)
      expect(emptyingFilter(records, { model: 'tiny', ...slaFor(2).filter }, 2).filter).to.equal('first-token')
      for (let i = 0; i < 16; i++) {
        expect(routedDraw(records, { model: 'tiny', sla: slaFor(2), seed: selectionSeed(new Uint8Array(32).fill(i), 9n), count: 1 }).miners).to.deep.equal([hex(3)])
      }
      // a draw anchored before those settlements sees the claims
      const earlier = drawRecords(view, { queued: { sessionId: 1n }, record: { submitBlock: '10' } } as any)
      expect(earlier.find(r => r.id === late)?.firstTokenMs).to.equal(5)
    })

    it('a snapshot restores the same figures for every draw block; what does not parse is skipped', () => {
      const book = new DeliveryBook()
      for (let i = 1; i <= 12; i++) {
        book.addVerdict(measured(BigInt(i), 2 + (i % 2), 100 * i))
        if (i < 11) {
          book.settle(BigInt(i), BigInt(10 + i))
        }
      }
      book.settle(99n, 500n)
      const json = JSON.parse(JSON.stringify(book.snapshot()))
      json.samples['0xnot-a-miner'] = [{ taskId: 'x', tokens: 1, ms: 1 }]
      const back = new DeliveryBook()
      back.restore(json)
      for (const block of [undefined, 12n, 15n, 19n, 21n, 30n]) {
        for (const n of [2, 3]) {
          expect(back.tokensPerSec(hex(n), block)).to.equal(book.tokensPerSec(hex(n), block))
          expect(back.firstTokenMs(hex(n), block)).to.equal(book.firstTokenMs(hex(n), block))
        }
      }
      // a settlement remembered before its verdict came still applies
      back.addVerdict(measured(99n, 2, 7))
      expect(back.snapshot().samples[hex(2)].find(s => s.taskId === '99')?.settledBlock).to.equal('500')
      expect(back.unsettled).to.equal(book.unsettled)
    })

    it('is stored in the datastore per chain as it changes, with the reputation scores, and loaded back', async () => {
      const datastore = new MemoryDatastore()
      const pool = new PoolView(1000)
      const store = new DeliveryStore({ datastore, role: 'oracle', pool, saveMs: 10 })
      await store.load('31337-0xhub-aaaa')
      pool.delivery.addVerdict(measured(1n, 2, 90))
      pool.delivery.addVerdict(measured(2n, 2, 110))
      pool.delivery.settle(1n, 5n)
      pool.delivery.settle(2n, 6n)
      const score = pool.applyVerdict(hex(2), V.TIMEOUT)
      expect(score).to.not.equal(pool.reputationOf(hex(3)))
      // written a moment after the changes, without a stop
      await new Promise(resolve => setTimeout(resolve, 100))
      const again = new PoolView(1000)
      await new DeliveryStore({ datastore, role: 'oracle', pool: again }).load('31337-0xhub-aaaa')
      expect(again.delivery.firstTokenMs(hex(2), 7n)).to.equal(100)
      expect(again.delivery.tokensPerSec(hex(2), 7n)).to.equal(100)
      expect(again.reputationOf(hex(2))).to.equal(score)
      await store.stop()
      // another chain's book is not this one's
      const other = new PoolView(1000)
      await new DeliveryStore({ datastore, role: 'oracle', pool: other }).load('31337-0xhub-bbbb')
      expect(other.delivery.tokensPerSec(hex(2))).to.equal(undefined)
      expect(other.reputationOf(hex(2))).to.equal(other.reputationOf(hex(3)))
    })
  })
})
