/**
 * The miner's behaviour hooks (node/roles/miner/behaviour.ts): the honest
 * miner changes nothing, and each fault of `MinerFaults` overrides exactly
 * its own hook. The copier's re-signed commitment is checked by recovering
 * its signer.
 */
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { bytesToHex, hexToBytes, recoverAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { hubDomain } from '../../contracts/index.ts'
import { honestBehaviour, minerBehaviour } from '../../node/roles/miner/behaviour.ts'
import { addressToBytes } from '../../protocols/messages/index.ts'
import type { InferenceEngine } from '../../node/inference/index.ts'
import type { Hex } from 'viem'

const privateKey = generatePrivateKey()
const address = privateKeyToAccount(privateKey).address.toLowerCase()
const domain = hubDomain(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3')
/** only signing is used: no store is reached by these hooks */
const node = { peerIdentity: { privateKey, address }, store: undefined as any } as any
const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const committed = { taskId: 9n, outputCid: cid, salt: `0x${'11'.repeat(32)}` as Hex }
const engine = { modelId: 'm', contextSize: 512, sequences: 1, generate: () => { throw new Error('not generating here') } } as unknown as InferenceEngine

describe('miner behaviour', function () {
  let controller: AbortController

  beforeEach(function () {
    controller = new AbortController()
  })

  afterEach(function () {
    controller.abort()
  })

  it('the honest miner changes nothing and reveals what it committed to', async function () {
    const b = honestBehaviour({ node, domain, address })
    expect(minerBehaviour(undefined, { node, domain, address, signal: controller.signal }).engine(engine)).to.equal(engine)
    expect(b.engine(engine)).to.equal(engine)
    expect(b.advertisedTokensPerSec(undefined)).to.equal(undefined)
    expect(b.advertisedTokensPerSec(12)).to.equal(12)
    expect(b.drawsSelf(() => false)).to.equal(false)
    expect(b.drawsSelf(() => true)).to.equal(true)
    expect(b.replaceWork(9n, controller.signal)).to.equal(null)
    expect(b.afterToken(controller.signal)).to.equal(undefined)
    expect(b.beforeFirstToken(controller.signal)).to.equal(undefined)
    expect(await b.reveals(undefined, 9n)).to.deep.equal([])
    const [reveal, ...rest] = await b.reveals(committed, 9n)
    expect(rest).to.deep.equal([])
    expect(bytesToHex(reveal.salt)).to.equal(committed.salt)
    expect(CID.decode(reveal.outputCid).toString()).to.equal(cid)
    expect(bytesToHex(reveal.miner).toLowerCase()).to.equal(address)
  })

  it('each fault overrides its own hook only', async function () {
    const init = { node, domain, address, signal: controller.signal }
    expect(minerBehaviour({ throttleTokensPerSec: 5 }, init).engine(engine)).to.not.equal(engine)
    const liar = minerBehaviour({ claimTokensPerSec: 500 }, init)
    expect([liar.advertisedTokensPerSec(undefined), liar.advertisedTokensPerSec(12)]).to.deep.equal([500, 12])
    expect(liar.drawsSelf(() => false)).to.equal(false)
    expect(minerBehaviour({ misdraw: true }, init).drawsSelf(() => false)).to.equal(true)
    expect(await minerBehaviour({ withholdReveal: true }, init).reveals(committed, 9n)).to.deep.equal([])
    const [mismatch] = await minerBehaviour({ revealMismatch: true }, init).reveals(committed, 9n)
    expect(bytesToHex(mismatch.salt)).to.not.equal(committed.salt)
    expect(minerBehaviour({ revealMismatch: true }, init).replaceWork(9n, controller.signal)).to.equal(null)
  })

  it('a slow miner waits before each token, and stops waiting when the work is cancelled', async function () {
    const slow = minerBehaviour({ tokenDelayMs: 200 }, { node, domain, address, signal: controller.signal })
    let t0 = performance.now()
    await slow.afterToken(controller.signal)
    expect(performance.now() - t0).to.be.at.least(190)
    const slower = minerBehaviour({ tokenDelayMs: 60_000 }, { node, domain, address, signal: controller.signal })
    const work = new AbortController()
    t0 = performance.now()
    const waiting = slower.afterToken(work.signal)
    work.abort()
    await waiting
    expect(performance.now() - t0).to.be.below(10_000)
  })

  it('a miner slow to start holds the first token back, not the others, and stops waiting when the work is cancelled', async function () {
    const late = minerBehaviour({ firstTokenDelayMs: 200 }, { node, domain, address, signal: controller.signal })
    expect(late.afterToken(controller.signal)).to.equal(undefined)
    // its engine is the honest one, so its start-up benchmark (and its heartbeats' claim) sees no delay
    expect(late.engine(engine)).to.equal(engine)
    let t0 = performance.now()
    await late.beforeFirstToken(controller.signal)
    expect(performance.now() - t0).to.be.at.least(190)
    const later = minerBehaviour({ firstTokenDelayMs: 60_000 }, { node, domain, address, signal: controller.signal })
    const work = new AbortController()
    t0 = performance.now()
    const waiting = later.beforeFirstToken(work.signal)
    work.abort()
    await waiting
    expect(performance.now() - t0).to.be.below(10_000)
  })

  it('the copier never draws itself, re-signs the first precommit it sees and reveals the first reveal as its own', async function () {
    const copier = minerBehaviour({ copyOthers: true }, { node, domain, address, signal: controller.signal })
    expect(copier.drawsSelf(() => true)).to.equal(false)
    const other = `0x${'22'.repeat(20)}` as Hex
    const commitment = `0x${'ab'.repeat(32)}` as Hex
    const copying = copier.replaceWork(9n, controller.signal)
    expect(copying).to.not.equal(null)
    copier.onPrecommit({ taskId: 9n, miner: addressToBytes(other), commitment: Uint8Array.from(hexToBytes(commitment)), signature: new Uint8Array(65) })
    const copy = await copying
    expect(copy?.commitment).to.equal(commitment)
    expect((await recoverAddress({ hash: commitment, signature: copy?.signature as Hex })).toLowerCase()).to.equal(address)
    copier.onReveal({ taskId: 9n, miner: addressToBytes(other), outputCid: CID.parse(cid).bytes, salt: Uint8Array.from(hexToBytes(committed.salt)), signature: new Uint8Array(65) })
    const [reveal, ...rest] = await copier.reveals(undefined, 9n)
    expect(rest).to.deep.equal([])
    expect(bytesToHex(reveal.miner).toLowerCase()).to.equal(address)
    expect(bytesToHex(reveal.salt)).to.equal(committed.salt)
  })

  it('the copier stops waiting when the miner stops', async function () {
    const copier = minerBehaviour({ copyOthers: true }, { node, domain, address, signal: controller.signal })
    const t0 = performance.now()
    const copying = copier.replaceWork(10n, new AbortController().signal)
    controller.abort()
    expect(await copying).to.equal(undefined)
    // the copier waits a minute for a precommit unless stopped
    expect(performance.now() - t0).to.be.below(10_000)
  })
})
