/**
 * The cost benchmark's per-operation figures, measured in the benchmark's
 * own process before the network starts: what a node pays per gossip
 * message it accepts (the author's signature natively, the author's key
 * decoded from its peer id, a precommit's EIP-712 signer recovered, the
 * message decoded and validated). The network-load model
 * (simulations/network-constants.ts) takes its CPU per operation from here.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { hexToBytes, keccak256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { useNativeSecp256k1 } from '../node/native-secp256k1.ts'
import { defaultValidators } from '../protocols/gossip/validators.ts'
import { peerIdToAddress } from '../protocols/identity.ts'
import { Heartbeat, addressToBytes } from '../protocols/messages/index.ts'
import { recoverSigner } from '../protocols/signer.ts'
import { parseTopic } from '../protocols/topics.ts'
import type { BenchFigure } from './report.ts'
import type { PeerId } from '@libp2p/interface'

const KEYS = 64
const ROUNDS = 4

/** Mean ms of `fn` over `n` calls, after one warm-up round. */
async function perCall (n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < n; i++) {
    await fn(i)
  }
  const t0 = performance.now()
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < n; i++) {
      await fn(i)
    }
  }
  return (performance.now() - t0) / (n * ROUNDS)
}

export async function measureOperations (): Promise<BenchFigure[]> {
  useNativeSecp256k1()
  const keys = await Promise.all(Array.from({ length: KEYS }, async () => generateKeyPair('secp256k1')))
  const ids = keys.map(k => peerIdFromPrivateKey(k))
  const idStrings = ids.map(String)
  // a gossip message's signed bytes: about a heartbeat's RPC
  const signed = new Uint8Array(340).fill(7)
  const sigs = keys.map(k => k.sign(signed) as Uint8Array)
  const verify = await perCall(KEYS, (i) => keys[i].publicKey.verify(signed, sigs[i]))
  const decode = await perCall(KEYS, (i) => peerIdFromString(idStrings[i]))

  const accounts = Array.from({ length: 8 }, (_, i) => privateKeyToAccount(keccak256(toHex(`cost-ops-${i}`))))
  const hash = keccak256(toHex('precommit'))
  const precommitSigs = await Promise.all(accounts.map(async a => a.sign({ hash })))
  const validators = defaultValidators()
  const topic = parseTopic('/cortensor/1/heartbeat/0xmodel')
  const { recoverAddress } = await import('viem')
  const recoverViem = await perCall(accounts.length, async (i) => recoverAddress({ hash, signature: precommitSigs[i] }))
  // what a node uses: libsecp256k1 in WebAssembly (installed by useNativeSecp256k1)
  const hashBytes = hexToBytes(hash)
  const sigBytes = precommitSigs.map(s => hexToBytes(s))
  const recover = await perCall(accounts.length, async (i) => recoverSigner(hashBytes, sigBytes[i]))

  const now = Date.now()
  const heartbeats = ids.map((id: PeerId) => Heartbeat.encode({
    node: addressToBytes(peerIdToAddress(id)),
    models: ['0xmodel'],
    hardwareClass: 'cpu',
    level: 0,
    tokensPerSecondMilli: 100_000,
    loadPermille: 0,
    reservedBySession: 0n,
    timestampMs: BigInt(now),
    seq: 1n,
    intervalMs: 10_000
  }))
  const handle = await perCall(KEYS, async (i) => {
    const m = Heartbeat.decode(heartbeats[i])
    await validators.heartbeat(m, { topic, from: ids[i], fromAddress: peerIdToAddress(ids[i]), nowMs: now } as any)
  })
  return [
    { name: 'gossip signature check (native secp256k1 verify, 340 B)', value: verify, unit: 'ms' },
    { name: 'author key decoded from its peer id (secp256k1 decompression, JavaScript)', value: decode, unit: 'ms' },
    { name: 'precommit EIP-712 signer recovered (libsecp256k1, WebAssembly)', value: recover, unit: 'ms' },
    { name: 'the same recovered by viem (JavaScript), the browser\'s', value: recoverViem, unit: 'ms' },
    { name: 'heartbeat decoded and validated (address cached)', value: handle, unit: 'ms' }
  ]
}
