/**
 * The browser's light verification of a settlement (client/browser/verify.ts),
 * run in Node: the packed-calldata split and the signature check on crafted
 * transactions, then a real task settled on a whole local network (anvil,
 * hub, miners, oracles), and the ways a wrong claim fails.
 */
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { encodeAbiParameters, encodeFunctionData, keccak256, toHex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { SETTLEMENT_ABI, TASKS_SETTLED_TOPIC, cidDigest, splitSettleBatch, verifySettlement } from '../../client/browser/verify.ts'
import { packBatch } from '../../contracts/actions/settlement.ts'
import { VERDICT_HONEST, VERDICT_MISSED } from '../../contracts/constants.ts'
import { hubDomain, signPrecommit } from '../../contracts/typed-data.ts'
import { startLifecycleNet } from '../lifecycle/fixtures.ts'
import type { ChainReader, VerifyRequest } from '../../client/browser/verify.ts'
import type { TaskResult } from '../../client/types.ts'
import type { TaskVerdicts } from '../../contracts/actions/settlement.ts'
import type { LifecycleNet } from '../lifecycle/fixtures.ts'
import type { Address, Hex } from 'viem'

async function cidOf (text: string): Promise<CID> {
  return CID.create(1, raw.code, await sha256.digest(new TextEncoder().encode(text)))
}

const HUB = '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address
const CHAIN_ID = 31337

/** A chain that knows one settlement transaction, for checks the real hub would never let through. */
function fakeChain (input: Hex, settled: bigint[], to: Address = HUB): ChainReader {
  const log = { address: HUB, topics: [TASKS_SETTLED_TOPIC], data: encodeAbiParameters([{ type: 'uint256[]' }], [settled]) }
  return {
    chainId: async () => CHAIN_ID,
    transaction: async () => ({ to, input }),
    receipt: async () => ({ status: 'success', blockNumber: 7n, logs: [log] })
  }
}

describe('light verification of a settlement', function () {
  describe('crafted transactions', function () {
    const miners = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()))
    const domain = hubDomain(CHAIN_ID, HUB)

    async function verdicts (taskId: bigint, digest: Hex, signers = miners): Promise<TaskVerdicts> {
      const salt = keccak256(toHex(`salt ${taskId}`))
      return {
        taskId,
        miners: await Promise.all(miners.map(async (m, i) => ({
          miner: m.address,
          verdict: VERDICT_HONEST,
          tokens: 5,
          onTime: true,
          outputDigest: digest,
          salt,
          precommitSignature: await signPrecommit(signers[i], domain, { taskId, outputDigest: digest, salt })
        })))
      }
    }

    it('splits packed calldata of tasks with different redundancy, guided by the event\'s task ids', async function () {
      const digest = cidDigest(await cidOf('out'))
      const a = await verdicts(5n, digest)
      const b: TaskVerdicts = { taskId: 6n, miners: [{ miner: miners[0].address, verdict: VERDICT_MISSED }] }
      const packed = packBatch([a, b])
      const tasks = splitSettleBatch(packed, [5n, 6n])
      expect(tasks?.map(t => [t.taskId, t.reports.length])).to.deep.equal([[5n, 3], [6n, 1]])
      expect(tasks?.[0].reports.map(r => r.miner)).to.deep.equal(miners.map(m => m.address))
      expect(tasks?.[0].reports[1]).to.deep.include({ tokens: 5, verdict: VERDICT_HONEST, onTime: true, outputDigest: digest })
      expect(tasks?.[1].reports[0]).to.deep.include({ verdict: VERDICT_MISSED, tokens: 0, onTime: false })
      // ids that do not describe the batch do not split it
      expect(splitSettleBatch(packed, [6n])).to.equal(undefined)
      expect(splitSettleBatch(packed, [5n])).to.equal(undefined)
      expect(splitSettleBatch(`${packed}00` as Hex, [5n, 6n])).to.equal(undefined)
    })

    it('passes a well-formed settlement and fails a precommit signed by someone else', async function () {
      const cid = await cidOf('out')
      const good = await verdicts(9n, cidDigest(cid))
      const input = encodeFunctionData({ abi: SETTLEMENT_ABI, functionName: 'settleBatch', args: [packBatch([good])] })
      const ok = await verifySettlement({ chain: fakeChain(input, [(9n << 128n) | 15n]), hub: HUB, taskId: 9n, outputCid: cid.toString(), txHash: `0x${'ab'.repeat(32)}` })
      expect(ok.ok).to.equal(true, ok.summary)
      expect(ok.paidWei).to.equal('15')
      expect(ok.checks.map(c => c.name)).to.deep.equal(['transaction', 'event', 'calldata', 'output', 'signatures'])

      const forger = privateKeyToAccount(generatePrivateKey())
      const forged = await verdicts(9n, cidDigest(cid), [miners[0], forger, miners[2]])
      const bad = await verifySettlement({
        chain: fakeChain(encodeFunctionData({ abi: SETTLEMENT_ABI, functionName: 'settleBatch', args: [packBatch([forged])] }), [9n << 128n]),
        hub: HUB,
        taskId: 9n,
        outputCid: cid.toString(),
        txHash: `0x${'ab'.repeat(32)}`
      })
      expect(bad.ok).to.equal(false)
      const failed = bad.checks.find(c => !c.ok)
      expect(failed?.name).to.equal('signatures')
      expect(failed?.detail).to.include(miners[1].address.slice(0, 8)).and.include(forger.address.slice(0, 8))
      expect(bad.reports.map(r => r.signatureValid)).to.deep.equal([true, false, true])
      expect(bad.summary).to.match(/^not verified: precommit of /)
    })

    it('rejects bad inputs and a transaction sent elsewhere', async function () {
      const cid = (await cidOf('x')).toString()
      const tx = `0x${'ab'.repeat(32)}`
      const input = encodeFunctionData({ abi: SETTLEMENT_ABI, functionName: 'settleBatch', args: ['0x'] })
      const chain = fakeChain(input, [1n << 128n])
      expect((await verifySettlement({ chain, hub: HUB, taskId: 1n, outputCid: 'not-a-cid', txHash: tx })).checks[0]).to.deep.include({ name: 'input', ok: false })
      expect((await verifySettlement({ chain, hub: 'nope', taskId: 1n, outputCid: cid, txHash: tx })).summary).to.include('hub nope is not an address')
      expect((await verifySettlement({ chain, hub: HUB, taskId: 'x', outputCid: cid, txHash: tx })).summary).to.include('task id x')
      const elsewhere = await verifySettlement({ chain: fakeChain(input, [1n << 128n], miners[0].address), hub: HUB, taskId: 1n, outputCid: cid, txHash: tx })
      expect(elsewhere.checks).to.have.length(1)
      expect(elsewhere.checks[0].name).to.equal('transaction')
      expect(elsewhere.summary).to.include('not the hub')
      const empty = await verifySettlement({ chain, hub: HUB, taskId: 1n, outputCid: cid, txHash: tx })
      expect(empty.checks.find(c => !c.ok)?.name).to.equal('calldata')
    })
  })

  describe('a task settled on a local network', function () {
    this.timeout(240_000)
    let ln: LifecycleNet
    let result: TaskResult

    before(async function () {
      ln = await startLifecycleNet()
      const task = await ln.net.client.submit('the man said that water was cold', { maxTokens: 8 })
      result = await task.result
    })

    after(async function () {
      await ln?.stop()
    })

    function request (over: Partial<VerifyRequest> = {}): VerifyRequest {
      return { rpc: ln.net.rpcUrl, hub: ln.net.hub, taskId: result.taskId, outputCid: result.outputCid, txHash: result.txHash, miners: result.miners, ...over }
    }

    it('verifies the router\'s claim against the chain: event, reports, output digest, signatures, verdicts', async function () {
      const v = await verifySettlement(request())
      expect(v.ok).to.equal(true, v.summary)
      expect(v.checks.map(c => [c.name, c.ok])).to.deep.equal([['transaction', true], ['event', true], ['calldata', true], ['output', true], ['signatures', true], ['verdicts', true]])
      expect(v.chainId).to.equal(31337)
      expect(v.outputDigest).to.equal(cidDigest(result.outputCid))
      expect(BigInt(v.paidWei ?? '0') > 0n).to.equal(true, v.paidWei)
      expect(v.reports.map(r => r.miner.toLowerCase())).to.deep.equal(result.miners.map(m => m.address.toLowerCase()))
      const accepted = v.reports.filter(r => r.verdict === 'honest')
      expect(accepted.length).to.equal(result.miners.filter(m => m.outcome === 'accepted').length)
      expect(accepted.every(r => r.signatureValid && r.signer?.toLowerCase() === r.miner.toLowerCase())).to.equal(true)
      expect(accepted.some(r => r.matchesOutput)).to.equal(true)
      expect(v.summary).to.match(/^verified on chain \(block \d+\)/)
    })

    it('fails an output CID the miners did not commit to', async function () {
      const v = await verifySettlement(request({ outputCid: (await cidOf('some other output')).toString() }))
      expect(v.ok).to.equal(false)
      expect(v.checks.map(c => [c.name, c.ok])).to.deep.equal([['transaction', true], ['event', true], ['calldata', true], ['output', false]])
      expect(v.summary).to.include('is not what the accepted miners committed')
    })

    it('fails a transaction that does not settle the task', async function () {
      // the task's own submit transaction: sent to the hub, but it settles nothing
      const submit = await verifySettlement(request({ txHash: result.submitTxHash }))
      expect(submit.ok).to.equal(false)
      expect(submit.checks.map(c => [c.name, c.ok])).to.deep.equal([['transaction', true], ['event', false]])
      expect(submit.summary).to.include('no TasksSettled event')
      // the settlement of this task, claimed for another task
      const other = await verifySettlement(request({ taskId: BigInt(result.taskId) + 1000n }))
      expect(other.checks.find(c => !c.ok)?.name).to.equal('event')
      expect(other.summary).to.include(`#${result.taskId}`).and.include(`not #${BigInt(result.taskId) + 1000n}`)
      // a hash the chain never saw
      const unknown = await verifySettlement(request({ txHash: `0x${'12'.repeat(32)}` }))
      expect(unknown.checks).to.deep.equal([{ name: 'transaction', ok: false, detail: unknown.checks[0].detail }])
      expect(unknown.summary).to.include('is not on chain 31337')
    })

    it('fails when the router\'s verdicts differ from the chain\'s', async function () {
      const v = await verifySettlement(request({ miners: result.miners.map(m => ({ address: m.address, outcome: 'missing' })) }))
      expect(v.checks.find(c => !c.ok)?.name).to.equal('verdicts')
    })
  })
})
