import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { KeyStore, KeyStoreFileError, UnknownKeyError, hashKey, keyFilePath } from '../../node/roles/router/keys.ts'
import { runCli } from '../fixtures/cli.ts'

describe('router: API keys', function () {
  let dir: string

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'router-keys-'))
  })

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('stores only the SHA-256 of a key, in a 0600 file in a 0700 directory', async function () {
    const store = await KeyStore.open(dir)
    const { key, record } = await store.create({ sessionId: 12n, label: 'app', rateLimitPerMinute: 30, maxStreams: 2 })
    expect(key).to.match(/^csk_[A-Za-z0-9_-]{43}$/)
    const path = keyFilePath(dir)
    const text = await readFile(path, 'utf8')
    expect(text).to.not.include(key)
    expect(text).to.not.include(key.slice(4, 20))
    const data = JSON.parse(text)
    expect(data).to.include({ version: 1, hash: 'sha256' })
    expect(data.keys[0]).to.include({ hash: hashKey(key), sessionId: '12', label: 'app', rateLimitPerMinute: 30, maxStreams: 2, id: record.id })
    expect((await stat(path)).mode & 0o777).to.equal(0o600)
    expect((await stat(join(dir, 'router'))).mode & 0o777).to.equal(0o700)
    // no temporary file is left behind
    expect(await readdir(join(dir, 'router'))).to.deep.equal(['keys.json'])
  })

  it('verifies keys, refuses revoked and unknown ones, and reopens from disk', async function () {
    const store = await KeyStore.open(dir)
    const a = await store.create({})
    const b = await store.create({ sessionId: 5n })
    expect((await store.verify(a.key))?.sessionId).to.equal(null)
    expect((await store.verify(b.key))?.sessionId).to.equal('5')
    expect(await store.verify('csk_' + 'B'.repeat(43))).to.equal(undefined)
    expect(await store.verify('')).to.equal(undefined)
    await store.revoke(a.record.id.slice(0, 6))
    expect(await store.verify(a.key)).to.equal(undefined)
    const again = await KeyStore.open(dir)
    expect(await again.verify(a.key)).to.equal(undefined)
    expect((await again.verify(b.key))?.id).to.equal(b.record.id)
    expect(again.list().map(r => r.revokedAtMs != null)).to.deep.equal([true, false])
    // revoking by the key itself works too
    await again.revoke(b.key)
    expect(await again.verify(b.key)).to.equal(undefined)
  })

  it('typed errors for unknown ids and broken files', async function () {
    const store = await KeyStore.open(dir)
    await expect(store.revoke('abcdef')).to.eventually.be.rejectedWith(UnknownKeyError)
    await expect(store.revoke('not-an-id!')).to.eventually.be.rejectedWith(UnknownKeyError)
    await mkdir(join(dir, 'router'), { recursive: true })
    await writeFile(keyFilePath(dir), '{ nope')
    await expect(KeyStore.open(dir)).to.eventually.be.rejectedWith(KeyStoreFileError, /not valid JSON/)
    await writeFile(keyFilePath(dir), JSON.stringify({ version: 1, keys: [{ hash: 'xyz', sessionId: null, createdAtMs: 1 }] }))
    await expect(KeyStore.open(dir)).to.eventually.be.rejectedWith(KeyStoreFileError, /keys\[0\]\.hash/)
  })

  it('CLI: router key create | list | revoke', async function () {
    this.timeout(60000)
    const created = await runCli(['router', 'key', 'create', '--data-dir', dir, '--session', '9', '--label', 'ci', '--rate-limit', '120'])
    expect(created.code, created.stderr).to.equal(0)
    const key = created.stdout.trim()
    expect(key).to.match(/^csk_/)
    expect(created.stderr).to.include('shown only now')

    const listed = await runCli(['router', 'key', 'list', '--data-dir', dir, '--json'])
    expect(listed.code).to.equal(0)
    const records = JSON.parse(listed.stdout)
    expect(records).to.have.length(1)
    expect(records[0]).to.include({ sessionId: '9', label: 'ci', rateLimitPerMinute: 120 })
    expect(records[0]).to.not.have.property('hash')
    expect(listed.stdout).to.not.include(key)

    const store = await KeyStore.open(dir)
    expect((await store.verify(key))?.sessionId).to.equal('9')

    const revoked = await runCli(['router', 'key', 'revoke', records[0].id, '--data-dir', dir])
    expect(revoked.code, revoked.stderr).to.equal(0)
    expect(await (await KeyStore.open(dir)).verify(key)).to.equal(undefined)
  })

  it('CLI: spend and token limits on create, changed and removed with `router key limits`, shown by list', async function () {
    this.timeout(60000)
    const created = await runCli(['router', 'key', 'create', '--data-dir', dir, '--spend-limit', '0.5eth', '--token-limit', '20000', '--json'])
    expect(created.code, created.stderr).to.equal(0)
    const { key, id } = JSON.parse(created.stdout)
    expect((await (await KeyStore.open(dir)).verify(key))).to.include({ spendLimitWei: '500000000000000000', tokenLimit: 20000 })

    const listed = await runCli(['router', 'key', 'list', '--data-dir', dir])
    expect(listed.code, listed.stderr).to.equal(0)
    expect(listed.stdout.split('\n')[0].split('\t')).to.include.members(['spend limit', 'token limit'])
    expect(listed.stdout.split('\n')[1].split('\t')).to.include.members([id, '500000000000000000 wei', '20000'])

    const changed = await runCli(['router', 'key', 'limits', id, '--data-dir', dir, '--spend-limit', '123456', '--json'])
    expect(changed.code, changed.stderr).to.equal(0)
    expect(JSON.parse(changed.stdout)).to.include({ id, spendLimitWei: '123456', tokenLimit: 20000 })
    expect(JSON.parse(changed.stdout)).to.not.have.property('hash')
    expect(changed.stderr).to.include(`key ${id}: spend limit 123456 wei, token limit 20000`)

    const removed = await runCli(['router', 'key', 'limits', id.slice(0, 6), '--data-dir', dir, '--token-limit', 'none'])
    expect(removed.code, removed.stderr).to.equal(0)
    const record = (await (await KeyStore.open(dir)).verify(key))
    expect(record).to.include({ spendLimitWei: '123456' })
    expect(record).to.not.have.property('tokenLimit')
  })

  it('CLI: bad limit values exit with code 2, name the flag and change nothing', async function () {
    this.timeout(60000)
    for (const [args, flag] of [
      [['create', '--spend-limit', '-1'], '--spend-limit'],
      [['create', '--spend-limit', '0.5 ether'], '--spend-limit'],
      [['create', '--token-limit', '1.5'], '--token-limit'],
      [['create', '--token-limit', 'none'], '--token-limit'],
      [['limits', 'abcdef'], '--spend-limit'],
      [['limits', 'abcdef', '--token-limit', '-3'], '--token-limit']
    ] as Array<[string[], string]>) {
      const res = await runCli(['router', 'key', ...args, '--data-dir', dir])
      expect(res.code, `${args.join(' ')}: ${res.stderr}`).to.equal(2)
      expect(res.stderr).to.include(flag)
      expect(res.stderr).to.not.match(/\n\s+at /)
    }
    expect((await KeyStore.open(dir)).list()).to.deep.equal([])
    const unknown = await runCli(['router', 'key', 'limits', 'deadbeef', '--token-limit', '5', '--data-dir', dir])
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.include('no key with id deadbeef')
  })

  it('CLI: bad flags exit with code 2 and name the flag', async function () {
    this.timeout(60000)
    const badSession = await runCli(['router', 'key', 'create', '--data-dir', dir, '--session', '-1'])
    expect(badSession.code).to.equal(2)
    expect(badSession.stderr).to.match(/--session/)
    const badLimit = await runCli(['router', 'key', 'create', '--data-dir', dir, '--rate-limit', '1.5'])
    expect(badLimit.code).to.equal(2)
    expect(badLimit.stderr).to.match(/--rate-limit/)
    const unknown = await runCli(['router', 'key', 'revoke', 'deadbeef', '--data-dir', dir])
    expect(unknown.code).to.equal(2)
    expect(unknown.stderr).to.include('no key with id deadbeef')
    expect(unknown.stderr).to.not.match(/\n\s+at /)
  })
})
