import { expect } from 'aegir/chai'
import { startGossipRelay } from '../../node/roles/bootstrap/relay.ts'
import { buildTopic } from '../../protocols/topics.ts'
import { TEST_NETWORK, TestNet, tcpAddr, waitFor } from '../fixtures/nodes.ts'
import type { CortensorNode } from '../../node/node.ts'
import type { GossipRelay } from '../../node/roles/bootstrap/relay.ts'

const prefix = `/${TEST_NETWORK}`

describe('bootstrap gossip relay: bounded slots, given back', function () {
  this.timeout(60_000)
  const net = new TestNet()
  let boot: CortensorNode
  let relay: GossipRelay

  before(async function () {
    boot = await net.start({ roles: ['bootstrap'], httpPort: 0 })
    relay = startGossipRelay({ pubsub: boot.libp2p.services.pubsub, network: TEST_NETWORK, maxModels: 8, maxModelsPerPeer: 4, sweepIntervalMs: 200 })
  })

  after(async function () {
    relay?.stop()
    await net.cleanup()
  })

  it('one peer cannot take more than its share of the slots, and its slots come back when it leaves', async function () {
    const rogue = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(boot)] })
    await waitFor('rogue connected', () => boot.libp2p.getPeers().some(p => p.equals(rogue.libp2p.peerId)))
    for (let i = 0; i < 40; i++) {
      rogue.libp2p.services.pubsub.subscribe(buildTopic('task', `fake-${i}`, { prefix }))
    }
    await waitFor('the relay follows the rogue\'s first models', () => relay.models().length === 4)
    // it had its share: the other 36 are not followed
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(relay.models()).to.deep.equal(['fake-0', 'fake-1', 'fake-2', 'fake-3'])

    // an honest peer's model still gets a slot
    const honest = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(boot)] })
    await waitFor('honest connected', () => boot.libp2p.getPeers().some(p => p.equals(honest.libp2p.peerId)))
    honest.libp2p.services.pubsub.subscribe(buildTopic('heartbeat', 'real-model', { prefix }))
    await waitFor('the relay follows the honest model', () => relay.models().includes('real-model'))

    // the rogue unsubscribes from two models: they are given back at once
    rogue.libp2p.services.pubsub.unsubscribe(buildTopic('task', 'fake-0', { prefix }))
    rogue.libp2p.services.pubsub.unsubscribe(buildTopic('task', 'fake-1', { prefix }))
    await waitFor('two slots given back', () => !relay.models().includes('fake-0') && !relay.models().includes('fake-1'))

    // the rogue disconnects: its other slots are swept, the honest model stays
    await rogue.stop()
    await waitFor('the rogue\'s slots swept', () => relay.models().length === 1, 10_000)
    expect(relay.models()).to.deep.equal(['real-model'])
    // and the relay still forwards the model it follows
    expect(boot.libp2p.services.pubsub.getTopics()).to.include(buildTopic('task', 'real-model', { prefix }))
    expect(boot.libp2p.services.pubsub.getTopics()).to.include(buildTopic('ack', undefined, { prefix }))
  })
})
