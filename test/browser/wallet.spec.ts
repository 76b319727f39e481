/**
 * The page's wallet (client/browser/direct.ts) and its in-memory block store
 * (protocols/blocks), in Node: one key is both the chain account and the
 * libp2p identity, bad keys are typed errors, the key and the last session
 * survive in the given storage, and a store answers only with what it holds.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { privateKeyToAddress } from 'viem/accounts'
import { WALLET_STORAGE_KEY, InvalidWalletKeyError, WalletUnfundedError, generateWallet, loadOrCreateWallet, loadSessionId, saveSessionId, walletFromKey } from '../../client/browser/direct.ts'
import { ANVIL_KEYS } from '../../contracts/anvil.ts'
import { BlockNotFoundError, MemoryContentStore, UnsupportedCodecError } from '../../protocols/blocks/index.ts'
import { peerIdToAddress } from '../../protocols/identity.ts'

/** A Storage over a Map (the page passes localStorage). */
function memoryStorage (): Storage {
  const map = new Map<string, string>()
  return {
    get length () { return map.size },
    clear: () => { map.clear() },
    getItem: (k: string) => map.get(k) ?? null,
    key: (i: number) => [...map.keys()][i] ?? null,
    removeItem: (k: string) => { map.delete(k) },
    setItem: (k: string, v: string) => { map.set(k, String(v)) }
  }
}

describe('page wallet', function () {
  it('uses one key as the chain account and the libp2p identity', function () {
    const key = ANVIL_KEYS[9]
    const w = walletFromKey(key)
    expect(w.privateKey).to.equal(key)
    expect(w.address).to.equal(privateKeyToAddress(key))
    const peerId = peerIdFromPrivateKey(w.libp2pKey)
    expect(peerId.toString()).to.equal(w.peerId)
    expect(peerId.type).to.equal('secp256k1')
    expect(peerIdToAddress(peerId)).to.equal(w.address)
    // pasted without 0x, in capitals, with spaces around
    expect(walletFromKey(`  ${key.slice(2).toUpperCase()} `).address).to.equal(w.address)
  })

  it('refuses keys that are not secp256k1 private keys with a typed error', function () {
    for (const bad of ['', 'abc', '0x1234', `0x${'zz'.repeat(32)}`, `0x${'00'.repeat(32)}`, `0x${'ff'.repeat(32)}`]) {
      expect(() => walletFromKey(bad), bad).to.throw(InvalidWalletKeyError)
    }
  })

  it('generates a key on first use, keeps it, and replaces an unusable stored one', function () {
    const storage = memoryStorage()
    const first = loadOrCreateWallet(storage)
    expect(first.created).to.equal(true)
    expect(storage.getItem(WALLET_STORAGE_KEY)).to.equal(first.wallet.privateKey)
    const again = loadOrCreateWallet(storage)
    expect(again.created).to.equal(false)
    expect(again.wallet.address).to.equal(first.wallet.address)
    storage.setItem(WALLET_STORAGE_KEY, 'not a key')
    const replaced = loadOrCreateWallet(storage)
    expect(replaced.created).to.equal(true)
    expect(replaced.wallet.address).to.not.equal(first.wallet.address)
    expect(generateWallet().address).to.not.equal(replaced.wallet.address)
  })

  it('remembers the last session per hub and wallet', function () {
    const storage = memoryStorage()
    const hub = `0x${'ab'.repeat(20)}`
    const w = generateWallet()
    expect(loadSessionId(hub, w.address, storage)).to.equal(undefined)
    saveSessionId(hub.toUpperCase().replace('0X', '0x'), w.address, 7n, storage)
    expect(loadSessionId(hub, w.address.toLowerCase(), storage)).to.equal(7n)
    expect(loadSessionId(`0x${'cd'.repeat(20)}`, w.address, storage)).to.equal(undefined)
  })

  it('says what an unfunded wallet lacks', function () {
    const address = generateWallet().address
    expect(new WalletUnfundedError(address, 0n, 10n ** 17n).message).to.equal(`the wallet ${address} holds no ETH: send it some (at least 0.1 ETH plus gas) before creating a session`)
    expect(new WalletUnfundedError(address, 10n ** 16n, 10n ** 17n).message).to.equal(`the wallet ${address} holds 0.01 ETH, less than the 0.1 ETH deposit plus gas`)
  })
})

describe('in-memory block store', function () {
  it('keeps dag-json documents under their CID and answers only with what it holds', async function () {
    const store = new MemoryContentStore()
    const cid = await store.putJson({ prompt: 'hello' })
    expect(await store.getJson(cid)).to.deep.equal({ prompt: 'hello' })
    expect(await store.has(cid)).to.equal(true)
    const other = await new MemoryContentStore().putJson({ prompt: 'elsewhere' })
    expect(await store.localBlock(other)).to.equal(undefined)
    await expect(store.getJson(other)).to.eventually.be.rejectedWith(BlockNotFoundError)
    const rawCid = CID.createV1(0x55, cid.multihash)
    await expect(store.getJson(rawCid)).to.eventually.be.rejectedWith(UnsupportedCodecError)
  })
})
