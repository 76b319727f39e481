import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, TopicValidatorResult } from '@libp2p/gossipsub'
import { validatePeerScoreParams, validatePeerScoreThresholds } from '@libp2p/gossipsub/score'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { bytesToHex, hexToBytes, keccak256 } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import {
  ContradictsRecordError, GOSSIP_THRESHOLD, GRAYLIST_THRESHOLD, INVALID_MESSAGE_WEIGHT, PUBLISH_THRESHOLD, RecordContradictions, createGossipValidator, defaultValidators,
  installGossip, peerScoreParams, peerScoreThresholds, publishMessage, resultFor
} from '../../protocols/gossip/index.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'
import { Ack, MAX_GOSSIP_MESSAGE_BYTES, addressToBytes } from '../../protocols/messages/index.ts'
import { IllegalTransitionError, PrematureRevealError } from '../../protocols/queue/index.ts'
import { TOPIC_CODECS, allTopics, buildTopic } from '../../protocols/topics.ts'
import * as f from './fixtures.ts'
import type { GossipValidatorInit, MessageMeta } from '../../protocols/gossip/index.ts'
import type { TopicKind, TopicMessages } from '../../protocols/topics.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'

const NOW = 1_700_000_000_000
const MODEL = 'tiny-llama'

interface SecpPeer { key: PrivateKey, peerId: PeerId, address: Uint8Array<ArrayBuffer>, sign(hash: Uint8Array): Promise<Uint8Array<ArrayBuffer>> }

async function secpPeer (): Promise<SecpPeer> {
  const key = await generateKeyPair('secp256k1')
  const peerId = peerIdFromPrivateKey(key)
  // the libp2p key is the EVM account (DESIGN.md §2)
  const account = privateKeyToAccount(bytesToHex(key.raw))
  expect(account.address).to.equal(peerIdToAddress(peerId))
  return {
    key,
    peerId,
    address: addressToBytes(account.address),
    sign: async (hash) => new Uint8Array(hexToBytes(await account.sign({ hash: bytesToHex(hash) })))
  }
}

function signed (from: PeerId, topic: string, data: Uint8Array): Message {
  return { type: 'signed', from, topic, data, sequenceNumber: 1n, signature: new Uint8Array(64), key: from.publicKey! }
}

function encode<K extends TopicKind> (kind: K, m: TopicMessages[K]): Uint8Array {
  return (TOPIC_CODECS[kind] as unknown as { encode(x: TopicMessages[K]): Uint8Array }).encode(m)
}

describe('protocols/gossip', () => {
  describe('validation wrapper', () => {
    let miner: SecpPeer
    let other: SecpPeer
    let commitment: Uint8Array<ArrayBuffer>
    let promptCid: Uint8Array<ArrayBuffer>
    let outputCid: Uint8Array<ArrayBuffer>

    before(async () => {
      miner = await secpPeer()
      other = await secpPeer()
      promptCid = await f.cidBytes('prompt')
      outputCid = await f.cidBytes('output')
      commitment = new Uint8Array(hexToBytes(keccak256(new TextEncoder().encode('precommit statement'))))
    })

    function validator (over: Partial<GossipValidatorInit> & Parameters<typeof defaultValidators>[0] = {}): ReturnType<typeof createGossipValidator> {
      return createGossipValidator({ validators: defaultValidators(over), now: () => NOW, ...over })
    }

    async function verdictOf (v: ReturnType<typeof createGossipValidator>, msg: Message): Promise<TopicValidatorResult> {
      return v.topicValidator(msg.type === 'signed' ? msg.from : miner.peerId, msg)
    }

    it('accepts an honest message of every kind from its author', async () => {
      const v = validator()
      const a = miner.address
      const honest: Array<[TopicKind, Uint8Array, string?]> = [
        ['task', encode('task', f.taskQueued(promptCid, { submitter: a, deadlineMs: BigInt(NOW + 60_000) })), MODEL],
        ['assignment', encode('assignment', f.assignment({ leader: a }))],
        ['ack', encode('ack', f.ack({ miner: a }))],
        ['precommit', encode('precommit', f.precommit({ miner: a, commitment, signature: await miner.sign(commitment) }))],
        ['reveal', encode('reveal', f.reveal(outputCid, { miner: a }))],
        ['verdict', encode('verdict', f.verdict({ oracle: a }))],
        ['heartbeat', encode('heartbeat', f.heartbeat({ node: a, timestampMs: BigInt(NOW - 1_000) })), MODEL]
      ]
      for (const [kind, data, model] of honest) {
        expect(await verdictOf(v, signed(miner.peerId, buildTopic(kind, model), data)), kind).to.equal(TopicValidatorResult.Accept)
      }
      const validated = await validator().validate(miner.peerId, signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: a }))))
      expect(validated.kind).to.equal('ack')
      expect(validated.ctx.fromAddress).to.equal(peerIdToAddress(miner.peerId))
    })

    it('rejects what an honest peer cannot send: unsigned, bad topic, oversize, malformed, invalid, forged', async () => {
      const v = validator()
      const ack = encode('ack', f.ack({ miner: miner.address }))
      const ed = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const cases: Array<[string, string, Message]> = [
        ['unsigned', 'UnsignedMessageError', { type: 'unsigned', topic: buildTopic('ack'), data: ack }],
        ['foreign topic', 'InvalidTopicError', signed(miner.peerId, '/cortensor/1/nonsense', ack)],
        ['oversize', 'OversizeMessageError', signed(miner.peerId, buildTopic('ack'), new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1))],
        ['malformed', 'MalformedMessageError', signed(miner.peerId, buildTopic('ack'), new Uint8Array([0x12, 0x40, 0x01]))],
        ['invalid field', 'InvalidFieldError', signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: miner.address, taskId: 0n })))],
        ['forged miner', 'ForgedSenderError', signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: other.address })))],
        ['precommit signed by someone else', 'InvalidSignatureError', signed(miner.peerId, buildTopic('precommit'), encode('precommit', f.precommit({ miner: miner.address, commitment, signature: await other.sign(commitment) })))],
        ['precommit with a garbage signature', 'InvalidSignatureError', signed(miner.peerId, buildTopic('precommit'), encode('precommit', f.precommit({ miner: miner.address, commitment, signature: new Uint8Array(65).fill(7) })))],
        ['forged leader', 'ForgedSenderError', signed(miner.peerId, buildTopic('assignment'), encode('assignment', f.assignment({ leader: other.address })))],
        ['non-secp256k1 sender', 'NotSecp256k1PeerError', signed(ed, buildTopic('ack'), ack)],
        ['task on the wrong model topic', 'TopicMismatchError', signed(miner.peerId, buildTopic('task', 'other-model'), encode('task', f.taskQueued(promptCid, { submitter: miner.address, deadlineMs: BigInt(NOW + 1) })))],
        ['heartbeat from the future', 'InvalidFieldError', signed(miner.peerId, buildTopic('heartbeat', MODEL), encode('heartbeat', f.heartbeat({ node: miner.address, timestampMs: BigInt(NOW + 3_600_000) })))],
        ['heartbeat without the topic model', 'TopicMismatchError', signed(miner.peerId, buildTopic('heartbeat', 'other'), encode('heartbeat', f.heartbeat({ node: miner.address, timestampMs: BigInt(NOW) })))]
      ]
      for (const [what, name, msg] of cases) {
        expect(await verdictOf(v, msg), what).to.equal(TopicValidatorResult.Reject)
        const err = await v.validate(miner.peerId, msg).then(() => undefined, (e: Error) => e)
        expect(err?.name, what).to.equal(name)
      }
    })

    it('ignores what an honest peer may send late or twice', async () => {
      const a = miner.address
      const v = validator({ isKnownTask: (id) => id === 42n, isLeader: () => false })
      const ack = signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: a })))
      expect(await verdictOf(v, ack)).to.equal(TopicValidatorResult.Accept)
      expect(await verdictOf(v, ack), 'duplicate').to.equal(TopicValidatorResult.Ignore)
      const cases: Array<[string, Message]> = [
        ['unknown task', signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: a, taskId: 43n })))],
        ['not the leader', signed(miner.peerId, buildTopic('assignment'), encode('assignment', f.assignment({ leader: a })))],
        ['task past its deadline', signed(miner.peerId, buildTopic('task', MODEL), encode('task', f.taskQueued(promptCid, { submitter: a, deadlineMs: BigInt(NOW - 1) })))],
        ['stale heartbeat', signed(miner.peerId, buildTopic('heartbeat', MODEL), encode('heartbeat', f.heartbeat({ node: a, timestampMs: BigInt(NOW - 600_000) })))]
      ]
      for (const [what, msg] of cases) {
        expect(await verdictOf(v, msg), what).to.equal(TopicValidatorResult.Ignore)
      }
      // the same ack again in a later round is a new statement
      expect(await verdictOf(v, signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: a, round: 1 }))))).to.equal(TopicValidatorResult.Accept)
    })

    it('maps queue errors to ignore and unexpected errors to ignore, and reports non-accepts', async () => {
      expect(resultFor(new IllegalTransitionError('queued', 'ack'))).to.equal(TopicValidatorResult.Ignore)
      expect(resultFor(new PrematureRevealError('0x1'))).to.equal(TopicValidatorResult.Ignore)
      const seen: string[] = []
      const v = validator({
        isKnownTask: () => { throw new TypeError('datastore closed') },
        onVerdict: (result, err) => { seen.push(`${result}:${err.name}`) }
      })
      expect(await verdictOf(v, signed(miner.peerId, buildTopic('ack'), encode('ack', f.ack({ miner: miner.address }))))).to.equal(TopicValidatorResult.Ignore)
      expect(seen).to.deep.equal(['ignore:TypeError'])
    })

    it('ignores what contradicts the chain or an oracle\'s records, from its author or a relay, and names the author', async () => {
      const seen: string[] = []
      const blamed: string[] = []
      const base = defaultValidators()
      const v = createGossipValidator({
        validators: { ...base, task: async (m, ctx) => { await base.task(m, ctx); throw new ContradictsRecordError('seed', 'chain says 0x01') } },
        now: () => NOW,
        onContradiction: (author) => { blamed.push(author.toString()) },
        onVerdict: (result, err) => { seen.push(`${result}:${err.name}`) }
      })
      const msg = signed(miner.peerId, buildTopic('task', MODEL), encode('task', f.taskQueued(promptCid, { submitter: miner.address, deadlineMs: BigInt(NOW + 60_000) })))
      expect(await v.topicValidator(other.peerId, msg)).to.equal(TopicValidatorResult.Ignore)
      expect(await v.topicValidator(miner.peerId, msg)).to.equal(TopicValidatorResult.Ignore)
      expect(seen).to.deep.equal(['ignore:ContradictsRecordError', 'ignore:ContradictsRecordError'])
      expect(blamed).to.deep.equal([miner.peerId.toString(), miner.peerId.toString()])
    })

    it('scores the author of contradictions like invalid messages, decaying with the same half-life', () => {
      let now = 0
      const c = new RecordContradictions(() => now)
      expect(c.score('a')).to.equal(0)
      c.add('a')
      c.add('a')
      expect(c.score('a')).to.equal(INVALID_MESSAGE_WEIGHT * 4)
      expect(c.score('b')).to.equal(0)
      now = 69_000
      expect(c.count('a')).to.be.closeTo(1, 0.01)
      now = 10 * 60_000
      expect(c.score('a')).to.equal(0)
      // bounded: the author whose last offence is oldest is forgotten first
      c.add('first')
      for (let i = 0; i < 4096; i++) {
        c.add(`other ${i}`)
      }
      expect(c.count('first')).to.equal(0)
      expect(c.count('other 0')).to.equal(1)
    })

    it('score parameters and thresholds are valid and ordered', () => {
      const topics = allTopics([MODEL])
      const params = peerScoreParams(topics, { ipColocationWhitelist: ['127.0.0.1'] })
      validatePeerScoreParams(params)
      validatePeerScoreThresholds(peerScoreThresholds())
      expect(Object.keys(params.topics).sort()).to.deep.equal([...topics].sort())
      expect(params.topics[buildTopic('ack')].invalidMessageDeliveriesWeight).to.equal(INVALID_MESSAGE_WEIGHT)
      expect(GRAYLIST_THRESHOLD).to.be.lessThan(PUBLISH_THRESHOLD)
      expect(PUBLISH_THRESHOLD).to.be.lessThan(GOSSIP_THRESHOLD)
      expect(INVALID_MESSAGE_WEIGHT).to.be.lessThan(0)
    })
  })

  describe('on a real mesh (3 nodes on loopback)', function () {
    this.timeout(30_000)
    type Node = Libp2p<{ identify: Identify, pubsub: GossipSub }>
    const prefix = `/cortensor-test-${Math.random().toString(36).slice(2)}`
    const topics = allTopics([MODEL], { prefix })
    const nodes: Node[] = []
    let receiver: Node
    let honest: Node
    let mallory: Node
    const received: Array<{ kind: string, meta: MessageMeta, message: unknown }> = []
    const verdicts: Array<{ result: string, error: string, from: string }> = []
    let uninstall: () => void

    async function node (withValidation: boolean, contradictions?: RecordContradictions): Promise<Node> {
      const privateKey = await generateKeyPair('secp256k1')
      const n = await createLibp2p({
        privateKey,
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: {
          identify: identify(),
          pubsub: gossipsub({
            allowPublishToZeroTopicPeers: true,
            ...(withValidation ? { scoreParams: peerScoreParams(topics, { ipColocationWhitelist: ['127.0.0.1'], appSpecificScore: contradictions != null ? (p) => contradictions.score(p) : undefined }), scoreThresholds: peerScoreThresholds() } : {})
          })
        }
      })
      nodes.push(n)
      return n
    }

    const record = (kind: string) => (message: unknown, meta: MessageMeta) => { received.push({ kind, meta, message }) }

    before(async () => {
      receiver = await node(true)
      honest = await node(false)
      mallory = await node(false)
      uninstall = installGossip(receiver.services.pubsub, {
        prefix,
        models: [MODEL],
        validators: defaultValidators(),
        onVerdict: (result, err, ctx) => { verdicts.push({ result, error: err.name, from: ctx.propagationSource.toString() }) },
        handlers: {
          task: record('task'),
          assignment: record('assignment'),
          ack: record('ack'),
          decline: record('decline'),
          precommit: record('precommit'),
          reveal: record('reveal'),
          verdict: record('verdict'),
          'first-token': record('first-token'),
          heartbeat: record('heartbeat')
        }
      })
      await honest.dial(receiver.getMultiaddrs()[0])
      await mallory.dial(receiver.getMultiaddrs()[0])
      const ackTopic = buildTopic('ack', undefined, { prefix })
      const deadline = Date.now() + 10_000
      const target = receiver.peerId
      const subscribed = (n: Node): boolean => n.services.pubsub.getSubscribers(ackTopic).some(p => p.equals(target))
      while (!subscribed(honest) || !subscribed(mallory)) {
        if (Date.now() > deadline) { throw new Error('subscriptions did not propagate') }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    })

    after(async () => {
      uninstall?.()
      await Promise.all(nodes.map(async n => n.stop()))
    })

    async function until (what: string, cond: () => boolean, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms
      while (!cond()) {
        if (Date.now() > deadline) { throw new Error(`timed out waiting for ${what}`) }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }

    it('scores down the author of an announcement that contradicts the chain, not the honest node that relayed it', async () => {
      // author → relay (no chain, forwards it) → checker (finds it contradicts the chain)
      const contradictions = new RecordContradictions()
      const checker = await node(true, contradictions)
      const relay = await node(false)
      const author = await node(false)
      const taskTopic = buildTopic('task', MODEL, { prefix })
      const checked: string[] = []
      const base = defaultValidators()
      const off = installGossip(checker.services.pubsub, {
        prefix,
        models: [MODEL],
        validators: { ...base, task: async (m, ctx) => { await base.task(m, ctx); throw new ContradictsRecordError('taskId', 'not on chain') } },
        onContradiction: (peer) => { contradictions.add(peer.toString()) },
        onVerdict: (result, _err, ctx) => { checked.push(`${result} from ${ctx.propagationSource.equals(relay.peerId) ? 'relay' : 'author'}`) }
      })
      try {
        relay.services.pubsub.subscribe(taskTopic)
        await relay.dial(checker.getMultiaddrs()[0])
        await author.dial(relay.getMultiaddrs()[0])
        const meshOf = (n: Node): string[] => (n.services.pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(taskTopic)
        await until('the relay to mesh with the checker', () => meshOf(relay).includes(checker.peerId.toString()))
        await until('the author to see the relay subscribed', () => author.services.pubsub.getSubscribers(taskTopic).some(p => p.equals(relay.peerId)))
        const score = (id: PeerId): number => (checker.services.pubsub as unknown as { getScore(p: string): number }).getScore(id.toString())
        const promptCid = await f.cidBytes('prompt')
        const announce = async (taskId: bigint): Promise<void> => {
          await publishMessage(author.services.pubsub, 'task', f.taskQueued(promptCid, { taskId, submitter: addressToBytes(peerIdToAddress(author.peerId)), deadlineMs: BigInt(Date.now() + 60_000) }), { prefix, model: MODEL })
        }

        // relayed: dropped, the relay keeps its score, the author (not even connected) is remembered
        await announce(41n)
        await until('the relayed copy to be checked', () => checked.length >= 1)
        expect(checked).to.deep.equal(['ignore from relay'])
        expect(contradictions.count(author.peerId.toString())).to.be.closeTo(1, 0.01)

        // now also straight from the author: its score at the checker drops; the relay's copy costs the relay nothing
        await author.dial(checker.getMultiaddrs()[0])
        await until('the author to see the checker subscribed', () => author.services.pubsub.getSubscribers(taskTopic).some(p => p.equals(checker.peerId)))
        await announce(42n)
        await until('the second announcement to be checked', () => checked.length >= 2)
        await until('the author\'s score to drop', () => score(author.peerId) < INVALID_MESSAGE_WEIGHT)
        await new Promise(resolve => setTimeout(resolve, 1500))
        expect(score(relay.peerId)).to.be.at.least(0)
      } finally {
        off()
      }
    })

    it('rejects malformed and forged messages, lowers the sender\'s score, and delivers honest traffic', async () => {
      const score = (id: PeerId): number => (receiver.services.pubsub as unknown as { getScore(p: string): number }).getScore(id.toString())
      const honestAddress = addressToBytes(peerIdToAddress(honest.peerId))
      const ackTopic = buildTopic('ack', undefined, { prefix })
      expect(score(mallory.peerId)).to.be.at.least(0)

      // malformed bytes, then an ack that claims to be the honest miner's
      await mallory.services.pubsub.publish(ackTopic, new Uint8Array([0x12, 0x40, 0x01]))
      await publishMessage(mallory.services.pubsub, 'ack', f.ack({ miner: honestAddress, taskId: 9n }), { prefix })
      // and the honest miner's own ack
      await publishMessage(honest.services.pubsub, 'ack', f.ack({ miner: honestAddress, taskId: 9n }), { prefix })

      await until('two rejects', () => verdicts.filter(v => v.result === 'reject').length >= 2)
      await until('the honest ack', () => received.length >= 1)
      expect(verdicts.map(v => [v.result, v.error, v.from])).to.deep.equal([
        ['reject', 'MalformedMessageError', mallory.peerId.toString()],
        ['reject', 'ForgedSenderError', mallory.peerId.toString()]
      ])
      await until('mallory\'s score to drop', () => score(mallory.peerId) < 0)
      // P4 = weight × count²: two invalid messages cost at least 4 × |weight| before decay
      expect(score(mallory.peerId)).to.be.lessThan(INVALID_MESSAGE_WEIGHT * 3)
      expect(score(honest.peerId)).to.be.at.least(0)

      expect(received).to.have.length(1)
      expect(received[0].kind).to.equal('ack')
      expect(received[0].meta.from?.equals(honest.peerId)).to.equal(true)
      expect(Ack.encode(received[0].message as Ack)).to.deep.equal(Ack.encode(f.ack({ miner: honestAddress, taskId: 9n })))
    })
  })
})
