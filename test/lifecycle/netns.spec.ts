/**
 * The lifecycle across a network that is not one loopback host: every miner
 * and oracle process in a Linux network namespace of its own, joined to the
 * test's namespace by a veth pair on a bridge, with 1 % random loss on every
 * link, a 10 Mbit/s link for one miner and 25 ms each way (50 ms round
 * trip to this process; netem, or the NFQUEUE delayer where the kernel has
 * no netem). Tasks settle; a miner cut off by a
 * partition is replaced on chain; once the partition heals its heartbeats
 * reach the pool again and it is drawn and accepted.
 *
 * Needs root and network namespaces (CI runs as root); elsewhere the suite
 * is skipped and says why.
 */
import { execFileSync } from 'node:child_process'
import { connect } from 'node:net'
import { expect } from 'aegir/chai'
import { getContractEvents } from 'viem/actions'
import { cortensorHubAbi } from '../../contracts/index.ts'
import { NetnsLab, netnsUnavailable } from '../fixtures/netns.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { startProcessNet } from '../fixtures/process-net.ts'
import { modelDir } from '../inference/fixtures.ts'
import { reportIfFailed, sayLine } from './fixtures.ts'
import type { TaskResult } from '../../client/types.ts'
import type { ProcessNet } from '../fixtures/process-net.ts'
import type { ModelDir } from '../inference/fixtures.ts'

const MINERS = 3
const ORACLES = 2
const REDUNDANCY = 2
const MAX_TOKENS = 8
const LOSS_PERCENT = 1
/** one way: a 50 ms round trip */
const DELAY_MS = 25
const SLOW_LINK_MBIT = 10
/** the lifecycle tests' deadlines, with room for lost packets' retransmissions (TCP's first is after 200 ms or more) */
const QUEUE_TIMEOUTS = { assignMs: 3000, ackMs: 2000, precommitMs: 15000, revealMs: 15000, validateMs: 6000, settleMs: 6000 }
const TASK_TIMEOUT_MS = 60_000
/** tasks submitted at once after the partition: each draws two of the three miners */
const PARTITION_BATCH = 3
const PARTITION_ROUNDS = 4

describe('lifecycle across network namespaces (loss, a slow link, a partition)', function () {
  this.timeout(300_000)
  let lab: NetnsLab | undefined
  let pn: ProcessNet | undefined
  let models: ModelDir | undefined

  before(async function () {
    const why = await netnsUnavailable()
    if (why != null) {
      process.stderr.write(`      skipped: ${why}\n`)
      this.skip()
    }
    models = await modelDir()
    const modelPath = await models.model('tiny', 1)
    lab = await NetnsLab.create(ORACLES + MINERS)
    const method = await lab.delayMethod()
    const delay = method.kind !== 'none'
    sayLine(method.kind !== 'none' ? `links: ${DELAY_MS} ms each way (${method.kind}), ${LOSS_PERCENT} % loss` : `links: ${LOSS_PERCENT} % loss; no added delay (${method.why})`)
    for (let i = 0; i < ORACLES + MINERS; i++) {
      // the last miner's link is the slow one
      await lab.shape(i, { lossPercent: LOSS_PERCENT, ...(delay ? { delayMs: DELAY_MS } : {}), ...(i === ORACLES + MINERS - 1 ? { rateMbit: SLOW_LINK_MBIT } : {}) })
    }
    pn = await startProcessNet({ miners: MINERS, oracles: ORACLES, modelPath, redundancy: REDUNDANCY, queueTimeouts: QUEUE_TIMEOUTS, lab, say: sayLine })
  })

  afterEach(function () { reportIfFailed(this) })

  after(async function () {
    await pn?.stop()
    await lab?.teardown()
    await models?.cleanup()
  })

  const submit = async (prompt: string): Promise<TaskResult> => {
    const task = await pn!.net.client.submit(prompt, { maxTokens: MAX_TOKENS, timeoutMs: TASK_TIMEOUT_MS })
    return task.result
  }

  it('every process runs in its own namespace, listening on its own address there', async function () {
    for (const p of [...pn!.oracles, ...pn!.miners]) {
      const i = pn!.labIndex(p)
      const inNs = execFileSync('ip', ['netns', 'pids', lab!.namespace(i)]).toString().split('\n').filter(l => l !== '')
      expect(inNs, `${p.name}'s process in ${lab!.namespace(i)}`).to.include(String(p.pid()))
      const listening = await lab!.exec(i, ['ss', '-Htln'])
      expect(listening, `${p.name} listening on ${lab!.ip(i)}`).to.include(`${lab!.ip(i)}:`)
    }
  })

  it('links carry the added delay: a connection from here to each process takes a round trip of 2 × the delay', async function () {
    const method = await lab!.delayMethod()
    if (method.kind === 'none') {
      process.stderr.write(`      skipped: ${method.why}\n`)
      this.skip()
    }
    const l = lab!
    for (const p of [...pn!.oracles, ...pn!.miners]) {
      const i = pn!.labIndex(p)
      const ip = l.ip(i)
      const port = Number(new RegExp(`${ip.replaceAll('.', '\\.')}:(\\d+)`).exec(await l.exec(i, ['ss', '-Htln']))?.[1])
      // the fastest of three handshakes (one lost SYN costs a second): SYN out and SYN-ACK back, each delayed once
      const rtts: number[] = []
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now()
        await new Promise<void>((resolve, reject) => {
          const socket = connect(port, ip, () => { socket.destroy(); resolve() })
          socket.once('error', reject)
        })
        rtts.push(performance.now() - t0)
      }
      sayLine(`${p.name}: handshake ${Math.min(...rtts).toFixed(1)} ms (${method.kind})`)
      expect(Math.min(...rtts), `${p.name}'s round trip`).to.be.within(2 * DELAY_MS * 0.9, 2 * DELAY_MS + 40)
    }
  })

  it('tasks settle over lossy links and a slow one, each accepted by its two miners', async function () {
    const results = await Promise.all(Array.from({ length: 6 }, async (_, i) => submit(`across namespaces ${i}`)))
    for (const r of results) {
      expect(r.miners.filter(m => m.outcome === 'accepted')).to.have.length(REDUNDANCY)
    }
    const slow = pn!.miners[MINERS - 1].address
    expect(results.some(r => r.miners.some(m => m.address.toLowerCase() === slow)), 'the miner on the slow link served').to.equal(true)
  })

  it('a miner behind a partition is replaced on chain and the task settles without it', async function () {
    const { net } = pn!
    const cut = pn!.miners[0]
    await lab!.partition(pn!.labIndex(cut))
    sayLine(`partitioned ${cut.name} (${cut.address})`)
    const fromBlock = await (net.owner as any).getBlockNumber() as bigint
    let drawn: TaskResult | undefined
    for (let round = 0; round < PARTITION_ROUNDS && drawn == null; round++) {
      const results = await Promise.all(Array.from({ length: PARTITION_BATCH }, async (_, i) => submit(`behind a partition ${round}.${i}`)))
      const reassigned = await getContractEvents(net.owner, { address: net.hub, abi: cortensorHubAbi, eventName: 'MinerReassigned', fromBlock, strict: true })
      const replaced = new Set(reassigned.filter(l => l.args.previous.toLowerCase() === cut.address).map(l => String(l.args.taskId)))
      drawn = results.find(r => replaced.has(r.taskId))
      for (const r of results) {
        // every task settled, none with the cut-off miner
        expect(r.miners.filter(m => m.outcome === 'accepted')).to.have.length(REDUNDANCY)
        expect(r.miners.some(m => m.address.toLowerCase() === cut.address && m.outcome === 'accepted')).to.equal(false)
      }
    }
    expect(drawn, `a task drawn onto ${cut.name} while it was cut off, replaced on chain`).to.not.equal(undefined)
  })

  it('the partition heals: the miner\'s heartbeats reach the pool again and it is drawn and accepted', async function () {
    const { net } = pn!
    const cut = pn!.miners[0]
    const healedAt = Date.now()
    await lab!.heal(pn!.labIndex(cut))
    await waitFor(`a heartbeat of ${cut.name} after the heal`, () => net.client.miners().some(m => m.address === cut.address && m.lastSeenMs >= healedAt), 60_000, 100)
    let served: TaskResult | undefined
    for (let i = 0; i < 10 && served == null; i++) {
      const r = await submit(`after the heal ${i}`)
      expect(r.miners.filter(m => m.outcome === 'accepted')).to.have.length(REDUNDANCY)
      served = r.miners.some(m => m.address.toLowerCase() === cut.address && m.outcome === 'accepted') ? r : undefined
    }
    expect(served, `${cut.name} drawn and accepted after the heal`).to.not.equal(undefined)
  })
})
