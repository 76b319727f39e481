import { expect } from 'aegir/chai'
import {
  aggregateVerdicts,
  auditTargets,
  auditVerdicts,
  clusterByEmbedding,
  commitmentDigest,
  DEFAULT_NETWORK_PARAMS,
  needsReplay,
  replayTargets,
  revealMatches,
  settle,
  Submission,
  Verdict
} from '../../protocols/policy/index.ts'

const OK = Submission.OK

function run (status: number[], cluster: number[], bad: number[] = [], escalate = true, output: number[] = cluster): { verdicts: number[], accepted: number, replays: number, replayedMiners: number[], replayed: boolean } {
  const verdicts = new Uint8Array(status.length)
  const replayedMiners: number[] = []
  const input = {
    n: status.length,
    status,
    cluster,
    output,
    escalateOnDisagreement: escalate,
    replay: (i: number) => { replayedMiners.push(i); return !bad.includes(output[i]) }
  }
  const res = aggregateVerdicts(input, verdicts)
  // the plan an asynchronous caller (the oracle) computes before replaying agrees with what aggregation did
  expect(needsReplay(input)).to.equal(res.replayed)
  if (res.replayed) {
    expect(replayTargets(input)).to.deep.equal(replayedMiners)
  }
  return { verdicts: Array.from(verdicts), accepted: res.accepted, replays: res.replays, replayedMiners, replayed: res.replayed }
}

describe('protocols/policy', () => {
  it('unanimous: accepted without replay', () => {
    const r = run([OK, OK, OK], [0, 0, 0])
    expect(r.verdicts).to.deep.equal([Verdict.PASS, Verdict.PASS, Verdict.PASS])
    expect(r.accepted).to.equal(0)
    expect(r.replays).to.equal(0)
    // a unanimous fake passes validation: only the audit after settlement can catch it
    expect(run([OK, OK, OK], [9, 9, 9], [9]).accepted).to.equal(9)
  })

  it('different outputs escalate to replay: every distinct output once, failures are slashable', () => {
    const r = run([OK, OK, OK], [0, 7, 0], [7])
    expect(r.verdicts).to.deep.equal([Verdict.PASS, Verdict.REPLAY_FAIL, Verdict.PASS])
    expect(r.replayedMiners).to.deep.equal([0, 1])
    const all = run([OK, OK, OK], [3, 4, 5], [3, 4, 5])
    expect(all.accepted).to.equal(-1)
    expect(all.verdicts).to.deep.equal([Verdict.REPLAY_FAIL, Verdict.REPLAY_FAIL, Verdict.REPLAY_FAIL])
  })

  it('without escalation the majority wins and the minority is an outlier; with replay, every output that passes is paid', () => {
    const maj = run([OK, OK, OK], [0, 0, 5], [5], false)
    expect(maj.verdicts).to.deep.equal([Verdict.PASS, Verdict.PASS, Verdict.OUTLIER])
    expect(maj.replays).to.equal(0)
    // an honest minority that passes replay (another answer, e.g. a sample) is honest work; the majority's answer is delivered
    const split = run([OK, OK, OK], [0, 1, 1])
    expect(split.verdicts).to.deep.equal([Verdict.PASS, Verdict.PASS, Verdict.PASS])
    expect(split.accepted).to.equal(1)
    // no majority and no replay: nothing accepted
    expect(run([OK, OK], [0, 1], [], false).accepted).to.equal(-1)
  })

  it('outputs that differ but pass replay and embed alike are one answer: all accepted', () => {
    // e.g. a GPU miner whose greedy output took the other side of a near-tie
    const r = run([OK, OK, OK], [0, 0, 0], [], true, [0, 1, 0])
    expect(r.replayed).to.equal(true)
    expect(r.verdicts).to.deep.equal([Verdict.PASS, Verdict.PASS, Verdict.PASS])
  })

  it('replays each distinct output, so a wrong model hiding in the honest embedding cluster is caught', () => {
    const r = run([OK, OK, OK], [0, 0, 0], [8], true, [0, 8, 0])
    expect(r.verdicts).to.deep.equal([Verdict.PASS, Verdict.REPLAY_FAIL, Verdict.PASS])
    expect(r.replayedMiners).to.deep.equal([0, 1])
    expect(r.accepted).to.equal(0)
  })

  it('audits each distinct accepted output once; a failure turns PASS into REPLAY_FAIL', () => {
    const verdicts = Uint8Array.from([Verdict.PASS, Verdict.PASS, Verdict.TIMEOUT, Verdict.PASS])
    const output = [9, 9, 0, 4]
    expect(auditTargets(4, output, verdicts)).to.deep.equal([0, 3])
    const replayed: number[] = []
    const a = auditVerdicts({ n: 4, output, replay: (i) => { replayed.push(i); return output[i] !== 9 } }, verdicts)
    expect(replayed).to.deep.equal([0, 3])
    expect(a).to.deep.equal({ replays: 2, failed: 2 })
    expect(Array.from(verdicts)).to.deep.equal([Verdict.REPLAY_FAIL, Verdict.REPLAY_FAIL, Verdict.TIMEOUT, Verdict.PASS])
  })

  it('structural failures come first and never count toward the quorum', () => {
    const r = run([Submission.COMMIT_MISMATCH, OK, Submission.TIMEOUT], [0, 0, 0])
    expect(r.verdicts).to.deep.equal([Verdict.COMMIT_MISMATCH, Verdict.PASS, Verdict.TIMEOUT])
    expect(run([Submission.TIMEOUT], [0]).accepted).to.equal(-1)
  })

  it('settles: pass pays, provable fraud slashes up to the stake, outliers get nothing', () => {
    const params = { reward: 2, penalty: 50 }
    expect(settle(Verdict.PASS, params)).to.deep.equal({ paid: 2, slashed: 0 })
    expect(settle(Verdict.REPLAY_FAIL, params)).to.deep.equal({ paid: 0, slashed: 100 })
    expect(settle(Verdict.COMMIT_MISMATCH, params, 30)).to.deep.equal({ paid: 0, slashed: 30 })
    expect(settle(Verdict.OUTLIER, params)).to.deep.equal({ paid: 0, slashed: 0 })
    expect(settle(Verdict.TIMEOUT, params)).to.deep.equal({ paid: 0, slashed: 0 })
    expect(DEFAULT_NETWORK_PARAMS.redundancy).to.be.at.least(1)
  })

  it('commit-reveal: a reveal of a different output or salt does not match the precommit', () => {
    const out = new Uint8Array([1, 2, 3])
    const salt = new Uint8Array(16).fill(9)
    const pre = commitmentDigest(5, out, salt)
    expect(revealMatches(pre, 5, out, salt)).to.equal(true)
    expect(revealMatches(pre, 5, new Uint8Array([1, 2, 4]), salt)).to.equal(false)
    expect(revealMatches(pre, 6, out, salt)).to.equal(false)
    expect(revealMatches(pre, 5, out, new Uint8Array(16))).to.equal(false)
  })

  it('clusters embeddings by cosine similarity', () => {
    const v = (...x: number[]): Float32Array => Float32Array.from(x)
    const ids = clusterByEmbedding([v(1, 0, 0), v(0.99, 0.05, 0), v(0, 1, 0), v(0, 0.98, 0.1), v(0, 0, 0)], 0.9)
    expect(Array.from(ids)).to.deep.equal([0, 0, 2, 2, 4])
  })
})
