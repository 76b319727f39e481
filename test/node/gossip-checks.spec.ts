/**
 * The checks behind the fault and attack tests, at the unit level: a copied
 * commitment, an announcement that is not the chain's record (not on chain,
 * not the session owner's, another prompt, other params, another seed), a
 * heartbeat from a miner the chain does not know, the evidence of an
 * equivocation, an assignment that replaces a refused miner, and the miner
 * faults a process takes from its environment.
 */
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes as toBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { hubDomain, signPrecommit, signReveal } from '../../contracts/index.ts'
import { announcementMatches } from '../../node/roles/miner/tasks.ts'
import { Equivocations, checkRevealSignature } from '../../node/roles/oracle/equivocation.ts'
import { OracleMetrics } from '../../node/roles/oracle/metrics.ts'
import { minerFaults } from '../../node/roles/run.ts'
import { NotSubmittedError } from '../../node/roles/shared/chain.ts'
import { checkNotCopied, checkOnChain, checkSubmitted, checkSubmitter } from '../../node/roles/shared/gossip-checks.ts'
import { cidDigest, precommitHash } from '../../node/roles/shared/records.ts'
import { taskParamsDigest } from '../../protocols/blocks/index.ts'
import { ContradictsRecordError, statementKey } from '../../protocols/gossip/index.ts'
import { ELIGIBLE_RECHECK_MS, INELIGIBLE_RECHECK_MS, MinerRegistrations, registeredHeartbeats } from '../../protocols/pool/registrations.ts'
import { createTask, transition } from '../../protocols/queue/machine.ts'
import { assignedEvent } from '../../protocols/queue/wire.ts'
import { address, assignment, cidBytes, heartbeat, precommit, reveal, taskQueued } from '../protocols/fixtures.ts'
import type { OracleTask } from '../../node/roles/oracle/index.ts'
import type { SubmittedTask } from '../../node/roles/shared/chain.ts'
import type { GossipContext } from '../../protocols/gossip/index.ts'
import type { Standing } from '../../protocols/pool/registrations.ts'
import type { Address, Hex } from 'viem'

const bytes = (hex: Hex): Uint8Array<ArrayBuffer> => Uint8Array.from(toBytes(hex))
const OWNER = bytesToHex(address(1)) as Address

/** what a thrown error is, by name and field */
async function failure (fn: () => unknown): Promise<{ name?: string, field?: string }> {
  try {
    await fn()
  } catch (err: any) {
    return { name: err?.name, field: err?.field }
  }
  return {}
}

describe('gossip checks against the chain and the records', function () {
  describe('a copied commitment', function () {
    const committed = { [bytesToHex(address(10))]: { commitment: bytesToHex(new Uint8Array(32).fill(3)), signature: '0x' as Hex } }

    it('another miner committing to the same hash is exactly ContradictsRecordError on commitment', async function () {
      const err = await failure(() => { checkNotCopied({ precommits: committed }, precommit({ miner: address(11) })) })
      expect(err).to.deep.equal({ name: 'ContradictsRecordError', field: 'commitment' })
      let thrown: unknown
      try {
        checkNotCopied({ precommits: committed }, precommit({ miner: address(11) }))
      } catch (e) {
        thrown = e
      }
      expect(thrown).to.be.instanceOf(ContradictsRecordError)
      expect((thrown as Error).message).to.include(bytesToHex(address(10)))
    })

    it('the same miner again, another commitment, or no record yet pass', function () {
      expect(() => { checkNotCopied({ precommits: committed }, precommit({ miner: address(10) })) }).to.not.throw()
      expect(() => { checkNotCopied({ precommits: committed }, precommit({ miner: address(11), commitment: new Uint8Array(32).fill(4) })) }).to.not.throw()
      expect(() => { checkNotCopied(undefined, precommit({ miner: address(11) })) }).to.not.throw()
    })
  })

  describe('an announcement is the chain\'s record of the task', function () {
    let m: ReturnType<typeof taskQueued>
    let submitted: SubmittedTask

    beforeEach(async function () {
      m = taskQueued(await cidBytes('the prompt'), { sessionId: 7n, taskId: 42n, submitter: address(1), seed: new Uint8Array(32).fill(9) })
      submitted = {
        sessionId: 7n,
        maxTokens: m.params?.maxTokens ?? 0,
        seed: bytesToHex(new Uint8Array(32).fill(9)),
        blockNumber: 5n,
        promptDigest: cidDigest(CID.decode(m.promptCid)),
        paramsDigest: taskParamsDigest(m.params as NonNullable<typeof m.params>)
      }
    })

    const owners = (owner: Address | null | undefined): { owner(): Promise<Address | null | undefined> } => ({ owner: async () => owner })

    it('passes when everything agrees', async function () {
      checkSubmitted(submitted, m)
      await checkSubmitter(owners(OWNER), m)
      await checkOnChain({ submitted: { lookup: async () => submitted }, owners: owners(OWNER) }, m)
    })

    it('names the field that disagrees', async function () {
      expect(await failure(() => { checkSubmitted({ ...submitted, sessionId: 8n }, m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'sessionId' })
      expect(await failure(() => { checkSubmitted({ ...submitted, promptDigest: `0x${'11'.repeat(32)}` }, m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'promptCid' })
      expect(await failure(() => { checkSubmitted({ ...submitted, paramsDigest: `0x${'11'.repeat(32)}` }, m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'params' })
      expect(await failure(() => { checkSubmitted({ ...submitted, seed: `0x${'11'.repeat(32)}` }, m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'seed' })
      // params hashed as the submitter hashed them: a changed temperature is other params
      const hotter = { ...m, params: { ...(m.params as NonNullable<typeof m.params>), temperature: 0.7 } }
      expect(await failure(() => { checkSubmitted(submitted, hotter) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'params' })
    })

    it('only the session owner may announce its tasks', async function () {
      expect(await failure(async () => { await checkSubmitter(owners(bytesToHex(address(2)) as Address), m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'submitter' })
      expect(await failure(async () => { await checkSubmitter(owners(null), m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'sessionId' })
      // a session that cannot be read now is nobody's fault: ignored, unscored
      expect((await failure(async () => { await checkSubmitter(owners(undefined), m) })).name).to.equal('UnknownTaskError')
    })

    it('a task id the chain has not submitted is ContradictsRecordError on taskId; a chain read that fails is not the author\'s fault', async function () {
      const notOnChain = { lookup: async (): Promise<SubmittedTask> => { throw new NotSubmittedError(42n) } }
      expect(await failure(async () => { await checkOnChain({ submitted: notOnChain, owners: owners(OWNER) }, m) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'taskId' })
      const down = { lookup: async (): Promise<SubmittedTask> => { throw new Error('connection refused') } }
      expect((await failure(async () => { await checkOnChain({ submitted: down, owners: owners(OWNER) }, m) })).name).to.equal('Error')
      // the owner check comes first and costs no log query
      let queried = false
      const counting = { lookup: async (): Promise<SubmittedTask> => { queried = true; return submitted } }
      await failure(async () => { await checkOnChain({ submitted: counting, owners: owners(bytesToHex(address(2)) as Address) }, m) })
      expect(queried).to.equal(false)
    })

    it('a forged announcement of a task id does not make the genuine one a duplicate; a second different reveal is not a duplicate either', async function () {
      const forged = taskQueued(await cidBytes('another prompt'), { taskId: 42n })
      expect(statementKey('task', m, '0xa')).to.not.equal(statementKey('task', forged, '0xa'))
      expect(statementKey('task', m, '0xa')).to.equal(statementKey('task', { ...m }, '0xa'))
      const out = await cidBytes('output')
      expect(statementKey('reveal', reveal(out), '0xa')).to.not.equal(statementKey('reveal', reveal(out, { salt: new Uint8Array(32).fill(6) }), '0xa'))
      expect(statementKey('reveal', reveal(out), '0xa')).to.equal(statementKey('reveal', reveal(out), '0xa'))
    })

    it('a miner works on the announcement whose digests the assignment names', async function () {
      const digests = { promptDigest: bytes(submitted.promptDigest), paramsDigest: bytes(submitted.paramsDigest) }
      expect(announcementMatches(m, digests)).to.equal(true)
      expect(announcementMatches(taskQueued(await cidBytes('the rogue prompt'), { taskId: 42n }), digests)).to.equal(false)
      expect(announcementMatches({ ...m, params: { ...(m.params as NonNullable<typeof m.params>), maxTokens: 9 } }, digests)).to.equal(false)
      expect(announcementMatches(m, {})).to.equal(true)
    })
  })

  describe('pool members are miners on chain', function () {
    it('asks the chain once, trusts the answer a while, and reads again at a bounded rate', async function () {
      let now = 1_000_000
      const reads: string[] = []
      const standing: Record<string, Standing> = { '0xaa': 'eligible' }
      const regs = new MinerRegistrations({ standing: async (a) => { reads.push(a); return standing[a] ?? 'unregistered' }, now: () => now, readsPerSecond: 2 })
      expect(await regs.check('0xAA', 'm')).to.equal('eligible')
      expect(await regs.check('0xaa', 'm')).to.equal('eligible')
      expect(reads).to.deep.equal(['0xaa'])
      expect(await regs.check('0xbb', 'm')).to.equal('unregistered')
      // the budget of two reads is spent: an unknown miner is not read now
      expect(await regs.check('0xcc', 'm')).to.equal(undefined)
      now += 1000
      expect(await regs.check('0xcc', 'm')).to.equal('unregistered')
      // an ineligible answer is read again sooner than an eligible one; a stale answer serves while it is read again
      standing['0xbb'] = 'eligible'
      standing['0xaa'] = 'ineligible'
      now += INELIGIBLE_RECHECK_MS + 1
      expect(await regs.check('0xbb', 'm')).to.equal('unregistered')
      await new Promise(resolve => setTimeout(resolve, 0))
      expect(await regs.check('0xbb', 'm')).to.equal('eligible')
      expect(await regs.check('0xaa', 'm')).to.equal('eligible')
      now += ELIGIBLE_RECHECK_MS
      await regs.check('0xaa', 'm')
      await new Promise(resolve => setTimeout(resolve, 0))
      expect(await regs.check('0xaa', 'm')).to.equal('ineligible')
      // a miner the hub refused is out at once; one whose registry changed is read at its next heartbeat
      regs.refuse('0xBB')
      expect(regs.known('0xbb', 'm')).to.equal('ineligible')
      regs.invalidate('0xbb')
      expect(regs.known('0xbb', 'm')).to.equal(undefined)
    })

    it('a heartbeat of a miner the chain does not know contradicts it; one of a miner not assignable now, or not checked yet, is ignored unscored', async function () {
      const ctx = { fromAddress: '0xaa', topic: { kind: 'heartbeat', model: 'm' } } as unknown as GossipContext
      const base = (): void => {}
      const as = (s: Standing): MinerRegistrations => new MinerRegistrations({ standing: async () => s })
      expect(await failure(async () => { await registeredHeartbeats(base, as('unregistered'))(heartbeat(), ctx) })).to.deep.equal({ name: 'ContradictsRecordError', field: 'node' })
      expect((await failure(async () => { await registeredHeartbeats(base, as('ineligible'))(heartbeat(), ctx) })).name).to.equal('NotAssignableError')
      const down = new MinerRegistrations({ standing: async () => { throw new Error('rpc down') } })
      expect((await failure(async () => { await registeredHeartbeats(base, down)(heartbeat(), ctx) })).name).to.equal('RegistrationUnknownError')
      await registeredHeartbeats(base, as('eligible'))(heartbeat(), ctx)
    })
  })

  describe('a miner refused by the hub', function () {
    it('a replacement round ends the refused miner\'s slot and fills it at once', function () {
      const T = 1_000_000
      let s = createTask({ taskId: 1n, sessionId: 1n, redundancy: 2, deadlineMs: T + 60_000 }, T).state
      s = transition(s, assignedEvent(assignment({ miners: [address(10), address(11)] })), T + 1).state
      s = transition(s, assignedEvent(assignment({ miners: [address(12)], round: 1, replaced: [address(11)] })), T + 2).state
      expect(s.slots.map(x => [x.miner, x.status, x.round])).to.deep.equal([
        [bytesToHex(address(10)), 'assigned', 0], [bytesToHex(address(11)), 'reassigned', 0], [bytesToHex(address(12)), 'assigned', 1]
      ])
      expect(s.vacancies).to.equal(0)
      expect(s.reassignments).to.equal(0)
      // a node that missed the first assignment takes the replacement as the task's assignment
      const fresh = createTask({ taskId: 1n, sessionId: 1n, redundancy: 2, deadlineMs: T + 60_000 }, T).state
      const late = transition(fresh, assignedEvent(assignment({ miners: [address(12)], round: 1, replaced: [address(11)] })), T + 1).state
      expect(late.slots.map(x => [x.miner, x.status, x.round])).to.deep.equal([[bytesToHex(address(12)), 'assigned', 1]])
      // only a live slot is replaced
      expect(() => transition(s, assignedEvent(assignment({ miners: [address(13)], round: 2, replaced: [address(20)] })), T + 3)).to.throw(/no live slot/)
    })

    it('a replacement naming a miner this node has timed out already fills the vacancy its own clock opened', function () {
      const T = 1_000_000
      let s = createTask({ taskId: 1n, sessionId: 1n, redundancy: 2, deadlineMs: T + 60_000, timeouts: { ackMs: 1000 } }, T).state
      s = transition(s, assignedEvent(assignment({ miners: [address(10), address(11)] })), T + 1).state
      s = transition(s, { type: 'ack', miner: bytesToHex(address(10)) }, T + 2).state
      // address(11) missed its ack here: a vacancy, then the leader's replacement naming it
      s = transition(s, assignedEvent(assignment({ miners: [address(12)], round: 1, replaced: [address(11)] })), T + 1500).state
      expect(s.slots.map(x => x.status)).to.deep.equal(['acked', 'reassigned', 'assigned'])
      expect(s.vacancies).to.equal(0)
    })
  })

  describe('equivocation', function () {
    const domain = hubDomain(31337, '0x00000000000000000000000000000000000000aa')

    it('a signed reveal that matches the precommit and another signed reveal are the evidence the hub checks', async function () {
      const key = generatePrivateKey()
      const account = privateKeyToAccount(key)
      const miner = account.address.toLowerCase()
      const taskId = 5n
      const out = CID.decode(await cidBytes('the committed output'))
      const other = CID.decode(await cidBytes('another output'))
      const salt = bytesToHex(new Uint8Array(32).fill(7))
      const preSig = await signPrecommit(account, domain, { taskId, outputDigest: cidDigest(out), salt })
      const task = {
        queued: taskQueued(await cidBytes('p'), { taskId }),
        record: { precommits: { [miner]: { commitment: precommitHash(domain, taskId, cidDigest(out), salt), signature: preSig } }, reveals: {} }
      } as unknown as OracleTask
      const slashes: string[] = []
      const eq = new Equivocations({ chain: { domain } as any, isLeader: async () => false, signal: AbortSignal.abort(), persist: () => {}, onEquivocation: (_t, m) => { slashes.push(m) }, metrics: new OracleMetrics(), say: () => {} })
      const signed = async (cid: CID): Promise<ReturnType<typeof reveal>> => reveal(new Uint8Array(cid.bytes), {
        taskId,
        miner: bytes(account.address),
        salt: bytes(salt),
        signature: bytes(await signReveal(account, domain, { taskId, outputDigest: cidDigest(cid), salt }))
      })
      // the contradicting one first: no evidence until the precommit's preimage is disclosed
      await eq.onReveal(task, await signed(other))
      expect(task.record.equivocations).to.equal(undefined)
      await eq.onReveal(task, await signed(out))
      expect(task.record.equivocations?.[miner]).to.deep.equal({
        precommit: { outputDigest: cidDigest(out), salt, signature: preSig },
        reveal: { outputDigest: cidDigest(other), salt, signature: await signReveal(account, domain, { taskId, outputDigest: cidDigest(other), salt }) }
      })
      expect(slashes).to.deep.equal([miner])
      // the same reveal twice is no evidence
      const honest = { ...task, record: { ...task.record, signedReveals: undefined, equivocations: undefined } } as unknown as OracleTask
      await eq.onReveal(honest, await signed(out))
      await eq.onReveal(honest, await signed(out))
      expect(honest.record.equivocations).to.equal(undefined)
    })

    it('a reveal signed by another key than its sender\'s is rejected', async function () {
      const account = privateKeyToAccount(generatePrivateKey())
      const out = CID.decode(await cidBytes('o'))
      const salt = bytesToHex(new Uint8Array(32).fill(1))
      const m = reveal(new Uint8Array(out.bytes), { taskId: 3n, salt: bytes(salt), signature: bytes(await signReveal(account, domain, { taskId: 3n, outputDigest: cidDigest(out), salt })) })
      await checkRevealSignature(domain, m, { fromAddress: account.address })
      expect((await failure(async () => { await checkRevealSignature(domain, m, { fromAddress: bytesToHex(address(3)) as Address }) })).name).to.equal('InvalidSignatureError')
      // a signed precommit statement is not a reveal
      const wrongType = { ...m, signature: bytes(await signPrecommit(account, domain, { taskId: 3n, outputDigest: cidDigest(out), salt })) }
      expect((await failure(async () => { await checkRevealSignature(domain, wrongType, { fromAddress: account.address }) })).name).to.equal('InvalidSignatureError')
    })
  })

  describe('miner faults from the environment', function () {
    it('parses known faults and names the variable for anything else', async function () {
      expect(minerFaults(undefined)).to.equal(undefined)
      expect(minerFaults('{"tokenDelayMs":40,"equivocate":true}')).to.deep.equal({ tokenDelayMs: 40, equivocate: true })
      expect(minerFaults('{"firstTokenDelayMs":1500}')).to.deep.equal({ firstTokenDelayMs: 1500 })
      for (const bad of ['nope', '[]', '{"tokenDelayMs":-1}', '{"fly":true}', '{"copyOthers":"yes"}']) {
        const err = await failure(() => minerFaults(bad))
        expect(err.name, bad).to.equal('ConfigError')
      }
    })
  })
})
