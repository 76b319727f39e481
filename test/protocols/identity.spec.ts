import { secp256k1 } from '@noble/curves/secp256k1.js'
import { expect } from 'aegir/chai'
import { bytesToHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { publicKeyBytesToAddress } from '../../protocols/identity.ts'

describe('peer identity → EVM address', () => {
  it('maps compressed and uncompressed keys to the account address, again and again', () => {
    for (let i = 0; i < 40; i++) {
      const secret = secp256k1.utils.randomSecretKey()
      const expected = privateKeyToAccount(bytesToHex(secret)).address
      const compressed = secp256k1.getPublicKey(secret, true)
      const uncompressed = secp256k1.getPublicKey(secret, false)
      for (let r = 0; r < 2; r++) {
        expect(publicKeyBytesToAddress(compressed)).to.equal(expected)
        expect(publicKeyBytesToAddress(uncompressed)).to.equal(expected)
      }
    }
  })

  it('refuses bytes that are not a curve point, every time', () => {
    // x = 5 has no point on secp256k1 (5³ + 7 = 132 is not a square mod p)
    const notAPoint = new Uint8Array(33)
    notAPoint[0] = 2
    notAPoint[32] = 5
    for (let r = 0; r < 2; r++) {
      expect(() => publicKeyBytesToAddress(notAPoint)).to.throw()
    }
    expect(() => publicKeyBytesToAddress(new Uint8Array(20))).to.throw()
  })

  it('answers for the bytes it is given now, not for the array it saw before', () => {
    const key = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true)
    publicKeyBytesToAddress(key)
    // the same array, overwritten with bytes that are no point
    key.fill(0)
    key[0] = 2
    key[32] = 5
    expect(() => publicKeyBytesToAddress(key)).to.throw()
  })
})
