/**
 * A miner beats soon after a connected peer joins its heartbeat topic
 * (node/roles/miner/advert.ts), so a newcomer that found it (on the DHT, or
 * through its connections) sees it without waiting a whole heartbeat period;
 * newcomers joining close together share one heartbeat. A miner that stops
 * says so in a last heartbeat.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { resolveConfig } from '../../node/config.ts'
import { startNetwork } from '../../node/network.ts'
import { CortensorNode } from '../../node/node.ts'
import { JOIN_HEARTBEAT_MIN_GAP_MS } from '../../node/roles/miner/constants.ts'
import { defaultValidators, installGossip } from '../../protocols/gossip/index.ts'
import { waitFor } from '../fixtures/nodes.ts'
import { modelDir } from '../inference/fixtures.ts'
import { reportIfFailed, sayLine } from '../lifecycle/fixtures.ts'
import type { LocalNetwork } from '../../node/network.ts'
import type { Heartbeat } from '../../protocols/messages/index.ts'
import type { ModelDir } from '../inference/fixtures.ts'

/** far beyond the test: every heartbeat it sees after the miner's first is one for a newcomer */
const PERIOD_MS = 600_000

describe('miner heartbeats for newcomers', function () {
  this.timeout(120_000)
  afterEach(function () { reportIfFailed(this) })
  let models: ModelDir
  let net: LocalNetwork
  let dir: string
  const newcomers: Array<{ node: CortensorNode, uninstall(): void }> = []

  before(async function () {
    models = await modelDir()
    dir = await mkdtemp(join(tmpdir(), 'cortensor-join-'))
    net = await startNetwork({ miners: 1, oracles: 0, modelPath: await models.model('tiny', 1), redundancy: 1, heartbeatIntervalMs: PERIOD_MS, say: sayLine })
  })

  after(async function () {
    for (const n of newcomers) {
      n.uninstall()
      await n.node.stop().catch(() => {})
    }
    await net?.stop()
    await models?.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  /** A started node with no role; `join()` dials the miner, joins the heartbeat topic and gives the heartbeats it receives. */
  async function newcomer (name: string): Promise<{ join(): Promise<Heartbeat[]> }> {
    const config = await resolveConfig({
      env: {},
      flags: { role: ['router'], network: net.clientNode.config.network, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [net.bootstrapAddr], httpPort: 0 }
    })
    const node = new CortensorNode(config)
    await node.start()
    const joined = { node, uninstall: () => {} }
    newcomers.push(joined)
    return {
      join: async () => {
        await node.libp2p.dial(net.miners[0].node.libp2p.getMultiaddrs()[0])
        const seen: Heartbeat[] = []
        const ignore = (): void => {}
        joined.uninstall = installGossip(node.libp2p.services.pubsub, {
          prefix: `/${config.network}`,
          models: [net.modelId],
          kinds: ['heartbeat'],
          validators: defaultValidators(),
          handlers: { task: ignore, assignment: ignore, ack: ignore, decline: ignore, precommit: ignore, reveal: ignore, verdict: ignore, 'first-token': ignore, heartbeat: (m) => { seen.push(m) } }
        })
        return seen
      }
    }
  }

  it('beats at once for the first, once for two joining within the gap, and a last time, fully loaded, when it stops', async function () {
    const seqs = (seen: Heartbeat[]): bigint[] => seen.map(h => h.seq)
    const [a, b, c] = [await newcomer('first'), await newcomer('second'), await newcomer('third')]
    const t0 = Date.now()
    const first = await a.join()
    await waitFor('a heartbeat for the first newcomer', () => first.length > 0, 30_000, 50)
    // well within one period: the heartbeat was for the newcomer, not the periodic one
    expect(Date.now() - t0).to.be.below(PERIOD_MS / 10)

    const [second, third] = await Promise.all([b.join(), c.join()])
    await waitFor('a heartbeat for the second and third newcomers', () => second.length > 0 && third.length > 0, 30_000, 50)
    // both within the gap after the first's heartbeat: one heartbeat between them, which the first sees too
    expect(seqs(second)).to.deep.equal(seqs(third))
    expect(third).to.have.length(1)
    expect(seqs(first)).to.deep.equal([first[0].seq, second[0].seq])
    // and nothing more while nobody joins
    await new Promise(resolve => setTimeout(resolve, JOIN_HEARTBEAT_MIN_GAP_MS + 1000))
    expect(first).to.have.length(2)
    expect(first.map(h => h.loadPermille)).to.deep.equal([0, 0])

    // the miner stops: its last heartbeat says it is fully loaded, so draws pass it over
    await net.stopMiner(0)
    await waitFor('the miner\'s last heartbeat', () => first.length === 3, 10_000, 50)
    expect(first[2].loadPermille).to.equal(1000)
    expect(first[2].seq > first[1].seq).to.equal(true)
  })
})
