import { randomBytes } from 'node:crypto'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { privateKeyToAccount } from 'viem/accounts'
import { recoverSignerFast, useNativeSecp256k1 } from '../../node/native-secp256k1.ts'
import { recoverSigner, recoverSignerWithViem } from '../../protocols/signer.ts'

const N = secp256k1.Point.CURVE().n

/** the pure-JavaScript check `@libp2p/crypto` makes (sha-256, DER, low S) */
function nobleVerify (publicKey: Uint8Array, data: Uint8Array, sig: Uint8Array, lowS = true): boolean {
  try {
    return secp256k1.verify(sig, sha256(data), publicKey, { prehash: false, format: 'der', lowS })
  } catch {
    return false
  }
}

function nobleSign (privateKey: Uint8Array, data: Uint8Array): Uint8Array {
  return secp256k1.sign(sha256(data), privateKey, { prehash: false, format: 'der' })
}

describe('native secp256k1 for libp2p keys', function () {
  before(function () {
    useNativeSecp256k1()
  })

  it('signs natively: fresh nonces, always low S, and the pure-JavaScript check accepts every signature', async function () {
    const key = await generateKeyPair('secp256k1')
    const data = randomBytes(200)
    const sigs = await Promise.all(Array.from({ length: 40 }, async () => key.sign(data)))
    // noble's nonces are deterministic (one signature per message); OpenSSL's are not
    expect(new Set(sigs.map((s) => Buffer.from(s).toString('hex'))).size).to.equal(sigs.length)
    for (const sig of sigs) {
      expect(secp256k1.Signature.fromBytes(sig, 'der').hasHighS()).to.equal(false)
      expect(nobleVerify(key.publicKey.raw, data, sig)).to.equal(true)
    }
  })

  it('verifies what noble signed and rejects what noble rejects', async function () {
    const key = await generateKeyPair('secp256k1')
    const publicKey = publicKeyFromRaw(key.publicKey.raw)
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(50 + i)
      const sig = nobleSign(key.raw, data)
      expect(await publicKey.verify(data, sig)).to.equal(true)

      const otherData = Uint8Array.from(data)
      otherData[i] ^= 1
      expect(await publicKey.verify(otherData, sig)).to.equal(false)

      const parsed = secp256k1.Signature.fromBytes(sig, 'der')
      const highS = new secp256k1.Signature(parsed.r, N - parsed.s).toBytes('der')
      // the same signature with high S is valid ECDSA, and noble still refuses it
      expect(nobleVerify(key.publicKey.raw, data, highS, false)).to.equal(true)
      expect(nobleVerify(key.publicKey.raw, data, highS)).to.equal(false)
      expect(await publicKey.verify(data, highS)).to.equal(false)
    }
  })

  it('answers false, without throwing, for malformed signatures and for another key', async function () {
    const key = await generateKeyPair('secp256k1')
    const other = await generateKeyPair('secp256k1')
    const data = randomBytes(64)
    const sig = await key.sign(data)
    expect(await other.publicKey.verify(data, sig)).to.equal(false)
    expect(await key.publicKey.verify(data, sig.subarray(0, sig.length - 1))).to.equal(false)
    expect(await key.publicKey.verify(data, new Uint8Array(0))).to.equal(false)
    const trailing = new Uint8Array(sig.length + 1)
    trailing.set(sig)
    expect(await key.publicKey.verify(data, trailing)).to.equal(false)
  })

  it('takes a message in pieces, as the noise handshake passes it', async function () {
    const key = await generateKeyPair('secp256k1')
    const data = randomBytes(300)
    const list = new Uint8ArrayList(data.subarray(0, 100), data.subarray(100))
    const sig = await key.sign(list)
    expect(nobleVerify(key.publicKey.raw, data, sig)).to.equal(true)
    expect(await key.publicKey.verify(list, nobleSign(key.raw, data))).to.equal(true)
  })

  it('installs once', async function () {
    const key = await generateKeyPair('secp256k1')
    const verify = Object.getPrototypeOf(key.publicKey).verify
    useNativeSecp256k1()
    expect(Object.getPrototypeOf(key.publicKey).verify).to.equal(verify)
  })

  it('recovers EVM signers as viem does, for every signature viem accepts or refuses', async function () {
    const account = privateKeyToAccount(`0x${randomBytes(32).toString('hex')}`)
    /** viem's answer: the address, or the error's name */
    const answer = async (fn: typeof recoverSignerWithViem, hash: Uint8Array, sig: Uint8Array): Promise<string> =>
      fn(hash, sig).then(a => a, (err: Error) => `throws ${err.name}`)
    const cases: Array<{ name: string, hash: Uint8Array, sig: Uint8Array }> = []
    for (let i = 0; i < 8; i++) {
      const hash = randomBytes(32)
      const sig = Buffer.from((await account.sign({ hash: `0x${hash.toString('hex')}` })).slice(2), 'hex')
      cases.push({ name: `signature ${i}`, hash, sig })
      // v as 0/1 instead of 27/28
      cases.push({ name: `signature ${i}, v as a parity bit`, hash, sig: Buffer.concat([sig.subarray(0, 64), Buffer.from([sig[64] - 27])]) })
      // the other parity: another key
      cases.push({ name: `signature ${i}, other parity`, hash, sig: Buffer.concat([sig.subarray(0, 64), Buffer.from([sig[64] ^ 1])]) })
      // high S (n - s, parity flipped): the same key, but not a canonical signature
      const s = BigInt(`0x${sig.subarray(32, 64).toString('hex')}`)
      const high = Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex')
      cases.push({ name: `signature ${i}, high S`, hash, sig: Buffer.concat([sig.subarray(0, 32), high, Buffer.from([sig[64] ^ 1])]) })
      // a changed hash: another signer
      const other = Buffer.from(hash)
      other[0] ^= 1
      cases.push({ name: `signature ${i}, changed hash`, hash: other, sig })
    }
    const sig = cases[0].sig
    cases.push({ name: 'v = 29', hash: cases[0].hash, sig: Buffer.concat([sig.subarray(0, 64), Buffer.from([29])]) })
    cases.push({ name: 'r = 0', hash: cases[0].hash, sig: Buffer.concat([Buffer.alloc(32), sig.subarray(32)]) })
    cases.push({ name: 's = 0', hash: cases[0].hash, sig: Buffer.concat([sig.subarray(0, 32), Buffer.alloc(32), sig.subarray(64)]) })
    cases.push({ name: 'r = n', hash: cases[0].hash, sig: Buffer.concat([Buffer.from(N.toString(16), 'hex'), sig.subarray(32)]) })
    cases.push({ name: 'r ≥ p', hash: cases[0].hash, sig: Buffer.concat([Buffer.alloc(32, 0xff), sig.subarray(32)]) })
    cases.push({ name: '64 bytes', hash: cases[0].hash, sig: sig.subarray(0, 64) })
    cases.push({ name: 'a 31-byte hash', hash: cases[0].hash.subarray(1), sig })
    const fast = await Promise.all(cases.map(async c => `${c.name}: ${await answer(recoverSignerFast, c.hash, c.sig)}`))
    const viem = await Promise.all(cases.map(async c => `${c.name}: ${await answer(recoverSignerWithViem, c.hash, c.sig)}`))
    expect(fast).to.deep.equal(viem)
    // the protocol's recovery is the fast one in this process
    // the genuine ones, with v as 27/28 or as a parity bit, name the account; a high-S twin is refused (viem's rule)
    expect(fast.filter(a => a.endsWith(account.address))).to.have.length(8 * 2)
    expect(fast.filter(a => a.includes('high S: throws'))).to.have.length(8)
    expect(await recoverSigner(cases[0].hash, cases[0].sig)).to.equal(account.address)
  })
})
