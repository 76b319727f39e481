import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { VERDICT_FAULTY, VERDICT_HONEST, VERDICT_MISSED } from '../../contracts/index.ts'
import { minerVerdict } from '../../node/roles/oracle/settlement.ts'
import { cidDigest } from '../../node/roles/shared/records.ts'
import { MinerVerdict } from '../../protocols/messages/index.ts'
import type { Address, Hex } from 'viem'

const A = '0x00000000000000000000000000000000000000aa' as Address
const SALT = `0x${'11'.repeat(32)}` as Hex
const SIG = `0x${'22'.repeat(65)}` as Hex

async function taskWith (outcome: MinerVerdict.Outcome | undefined, opts: { reveal?: boolean, precommit?: boolean, tokens?: number } = {}): Promise<Parameters<typeof minerVerdict>[0]> {
  const cid = CID.createV1(0x0129, await sha256.digest(new TextEncoder().encode('output')))
  const m = A.toLowerCase()
  return {
    queued: { params: { maxTokens: 100 } },
    record: {
      outcomes: outcome == null ? undefined : { [m]: outcome },
      reveals: opts.reveal === false ? {} : { [m]: { outputCid: cid.toString(), salt: SALT } },
      precommits: opts.precommit === false ? {} : { [m]: { commitment: SALT, signature: SIG } },
      tokens: { [m]: opts.tokens ?? 40 }
    }
  } as unknown as Parameters<typeof minerVerdict>[0]
}

describe('settlement lines', () => {
  it('pays an accepted miner its tokens, at most the task\'s budget, against its revealed output and precommit', async () => {
    const task = await taskWith(MinerVerdict.Outcome.ACCEPTED)
    const line = minerVerdict(task, A)
    expect(line.verdict).to.equal(VERDICT_HONEST)
    expect(line.tokens).to.equal(40)
    expect(line.outputDigest).to.equal(cidDigest(CID.parse(task.record.reveals[A.toLowerCase()].outputCid)))
    expect(line.salt).to.equal(SALT)
    expect(line.precommitSignature).to.equal(SIG)
    expect(minerVerdict(await taskWith(MinerVerdict.Outcome.ACCEPTED, { tokens: 500 }), A).tokens).to.equal(100)
  })

  it('marks rejected and outlier outputs faulty, unpaid', async () => {
    for (const o of [MinerVerdict.Outcome.REJECTED_REPLAY, MinerVerdict.Outcome.REJECTED_STRUCTURAL, MinerVerdict.Outcome.OUTLIER]) {
      const line = minerVerdict(await taskWith(o), A)
      expect(line.verdict, o).to.equal(VERDICT_FAULTY)
      expect(line.tokens, o).to.equal(0)
    }
  })

  it('marks a miner missed without an outcome, a reveal or a precommit, or with a missing or mismatched reveal', async () => {
    const cases = [
      await taskWith(undefined),
      await taskWith(MinerVerdict.Outcome.ACCEPTED, { reveal: false }),
      await taskWith(MinerVerdict.Outcome.ACCEPTED, { precommit: false }),
      await taskWith(MinerVerdict.Outcome.MISSING),
      await taskWith(MinerVerdict.Outcome.REVEAL_MISMATCH)
    ]
    for (const task of cases) {
      expect(minerVerdict(task, A)).to.deep.equal({ miner: A, verdict: VERDICT_MISSED })
    }
  })
})
