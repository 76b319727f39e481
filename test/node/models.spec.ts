/**
 * Models from the network on two (and three) real nodes on loopback: a
 * miner's node shares a generated GGUF as a UnixFS file, another node
 * fetches it by sha256 or by CID over the direct block protocol; hash
 * checked, resumable across a stopped fetch and a node restart, with a typed
 * error when no peer serves the model or the file does not hash to its id.
 */
import { randomBytes } from 'node:crypto'
import { access, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { expect } from 'aegir/chai'
import { MemoryBlockstore } from 'blockstore-core'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { modelIdOf } from '../../node/inference/gguf/inspect.ts'
import { ModelNames } from '../../node/inference/model-names.ts'
import { loadProgress } from '../../node/load-progress.ts'
import { fetchModel, importModel, resolveModelFiles, shareModelFile, startModelShare, walkModel } from '../../node/models/index.ts'
import { modelKey as parseModelKey, parseModelRef } from '../../protocols/models/index.ts'
import { runCli } from '../fixtures/cli.ts'
import { TEST_NETWORK, TestNet, tcpAddr, waitFor } from '../fixtures/nodes.ts'
import { modelDir } from '../inference/fixtures.ts'
import type { ModelShare } from '../../node/models/index.ts'
import type { CortensorNode } from '../../node/node.ts'
import type { ModelDir } from '../inference/fixtures.ts'

/** 32 KiB chunks: the tiny preset (~860 KiB) becomes a few dozen leaves under one root, so a fetch can be stopped part-way */
const CHUNK_BYTES = 32 * 1024

describe('models from the network', function () {
  this.timeout(120_000)
  const net = new TestNet()
  let models: ModelDir
  let server: CortensorNode
  let share: ModelShare
  let modelA: string
  let idA: string
  let cidA: CID
  /** every block of model A's DAG (the root and its leaves), as CID strings */
  let blocksA: string[]

  before(async function () {
    models = await modelDir()
    modelA = await models.model('tiny', 1)
    idA = await modelIdOf(modelA)
    server = await net.start({ roles: ['miner'] })
    share = await startModelShare(server, [modelA], () => {}, { chunkBytes: CHUNK_BYTES })
    const served = share.models()
    expect(served.map(m => m.modelId)).to.deep.equal([idA])
    cidA = served[0].cid
    const size = (await readFile(modelA)).byteLength
    blocksA = []
    expect(await walkModel(server.store.blockstore, cidA, (c) => { blocksA.push(c.toString()) })).to.equal(true)
    // one dag-pb root over the raw leaves
    expect(blocksA.length).to.equal(Math.ceil(size / CHUNK_BYTES) + 1).and.greaterThan(20)
  })

  after(async function () {
    await share?.stop()
    await net.cleanup()
    await models?.cleanup()
  })

  async function fetcherNode (dataDir?: string): Promise<CortensorNode> {
    const node = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(server)], ...(dataDir != null ? { dataDir } : {}) })
    await waitFor('the fetcher to connect to the server', () => node.libp2p.getPeers().some(p => p.equals(server.libp2p.peerId)))
    return node
  }

  function components (node: CortensorNode): Parameters<typeof fetchModel>[0] {
    return { libp2p: node.libp2p, blockstore: node.store.blockstore, network: TEST_NETWORK }
  }

  it('records the shared model\'s CID next to its sha256 in models.json', async function () {
    const names = await ModelNames.open(server.config.dataDir)
    expect(names.shareOf(idA)).to.include({ id: idA, cid: cidA.toString(), path: modelA, chunkBytes: CHUNK_BYTES })
    expect(names.shareOf(cidA.toString())?.id).to.equal(idA)
    // the file unchanged and its blocks present: a second share (the next start) imports nothing
    const second = await shareModelFile(names, server.store.blockstore, modelA, { chunkBytes: CHUNK_BYTES })
    expect(second).to.deep.equal({ id: idA, cid: cidA, sizeBytes: (await readFile(modelA)).byteLength, imported: false })
  })

  it('shares the model as a standard UnixFS file: the CID `@helia/unixfs` gives the same bytes, and `cat` gives the file', async function () {
    const bytes = await readFile(modelA)
    // a fresh in-memory blockstore, the stock options spelt out: CIDv1, raw leaves, fixed-size chunks
    const reference = await unixfs({ blockstore: new MemoryBlockstore() }).addBytes(bytes, { cidVersion: 1, rawLeaves: true, chunker: fixedSize({ chunkSize: CHUNK_BYTES }) })
    expect(cidA.toString()).to.equal(reference.toString())
    expect(cidA.code).to.equal(0x70)
    const parts: Uint8Array[] = []
    for await (const part of unixfs({ blockstore: server.store.blockstore }).cat(cidA, { offline: true } as any)) {
      parts.push(part)
    }
    expect(Buffer.compare(Buffer.concat(parts), bytes)).to.equal(0)
  })

  it('fetches a model by sha256 from a peer serving it: byte-identical, every block pulled, progress to 100 %', async function () {
    const node = await fetcherNode()
    const dir = await net.tempDir()
    const lines: string[] = []
    const bar = loadProgress('fetching', { tty: false, write: () => {}, line: (l) => { lines.push(l) } })
    const fetched = await fetchModel(components(node), { kind: 'id', modelId: idA }, { dir, onProgress: (held, total) => { bar.update(held / total) } })
    bar.done()
    expect(fetched.path).to.equal(join(dir, `${idA.slice(2)}.gguf`))
    expect(Buffer.compare(await readFile(fetched.path), await readFile(modelA))).to.equal(0)
    expect(fetched).to.include({ modelId: idA, chunkBytes: CHUNK_BYTES, fetchedBlocks: blocksA.length, keptBlocks: 0 })
    expect(fetched.cid.equals(cidA)).to.equal(true)
    expect(lines).to.deep.equal(['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100'].map(p => `fetching: ${p}%`))
    expect(await readdir(dir)).to.deep.equal([`${idA.slice(2)}.gguf`])
  })

  it('fetches a model by its CID', async function () {
    const node = await fetcherNode()
    const dir = await net.tempDir()
    const ref = parseModelRef(cidA.toString())
    expect(ref?.kind).to.equal('cid')
    const fetched = await fetchModel(components(node), ref as NonNullable<typeof ref>, { dir })
    expect(fetched.modelId).to.equal(idA)
    expect(fetched.path).to.equal(join(dir, `${idA.slice(2)}.gguf`))
    expect(fetched).to.include({ fetchedBlocks: blocksA.length, keptBlocks: 0 })
    expect(Buffer.compare(await readFile(fetched.path), await readFile(modelA))).to.equal(0)
  })

  it('fetches a file of more than 1024 chunks, a root over inner dag-pb nodes, level by level', async function () {
    // 1025 chunks of 256 bytes: the balanced layout (1024 links a node) puts two inner nodes under the root
    const bytes = randomBytes(1025 * 256)
    const file = join(await net.tempDir(), 'wide.bin')
    await writeFile(file, bytes)
    const { modelId, cid, sizeBytes } = await importModel(server.store.blockstore, file, { chunkBytes: 256 })
    share.add(modelId, cid, sizeBytes)
    const blocks: CID[] = []
    expect(await walkModel(server.store.blockstore, cid, (c) => { blocks.push(c) })).to.equal(true)
    expect(blocks.slice(0, 3).map(c => c.code)).to.deep.equal([0x70, 0x70, 0x70])
    expect(blocks).to.have.length(1 + 2 + 1025)
    const node = await fetcherNode()
    const dir = await net.tempDir()
    const fetched = await fetchModel(components(node), { kind: 'id', modelId }, { dir })
    expect(fetched).to.include({ modelId, sizeBytes: bytes.byteLength, chunkBytes: 256, fetchedBlocks: blocks.length, keptBlocks: 0 })
    expect(Buffer.compare(await readFile(fetched.path), bytes)).to.equal(0)
  })

  it('goes on after a stopped fetch and a node restart without fetching the kept blocks again', async function () {
    const dataDir = await net.tempDir()
    const dir = await net.tempDir()
    let node = await fetcherNode(dataDir)
    const controller = new AbortController()
    let fetchedBeforeStop = 0
    const stopped = await fetchModel(components(node), { kind: 'id', modelId: idA }, {
      dir,
      signal: controller.signal,
      onBlock: (_, how) => {
        if (how === 'fetched' && ++fetchedBeforeStop === 8) {
          controller.abort()
        }
      }
    }).then(() => undefined, (err) => err)
    expect(stopped?.name).to.equal('AbortError')
    expect(await readdir(dir)).to.deep.equal([])

    // the node restarts on the same data dir (its FsBlockstore kept what arrived)
    await node.stop()
    node = await fetcherNode(dataDir)
    const held: string[] = []
    for (const c of blocksA) {
      if (await node.store.has(CID.parse(c))) {
        held.push(c)
      }
    }
    expect(held.length).to.be.at.least(8).and.below(blocksA.length)
    expect(held).to.include(cidA.toString())

    const kept: string[] = []
    const fetched = await fetchModel(components(node), { kind: 'id', modelId: idA }, { dir, onBlock: (c, how) => { if (how === 'kept') { kept.push(c.toString()) } } })
    expect(kept.sort()).to.deep.equal(held.sort())
    expect(fetched).to.include({ keptBlocks: held.length, fetchedBlocks: blocksA.length - held.length })
    expect(Buffer.compare(await readFile(fetched.path), await readFile(modelA))).to.equal(0)
  })

  it('refuses a model whose file does not hash to the id its record claims (ModelHashMismatchError), keeping no file', async function () {
    // a lying record, served by the real protocol: the UnixFS file of another model under a third model's id
    const modelB = await models.model('tiny', 2)
    const idB = await modelIdOf(modelB)
    const idClaimed = `0x${Buffer.from((await sha256.digest(new TextEncoder().encode('not a model'))).digest).toString('hex')}`
    const importedB = await importModel(server.store.blockstore, modelB, { chunkBytes: CHUNK_BYTES })
    share.add(idClaimed, importedB.cid, importedB.sizeBytes)

    const node = await fetcherNode()
    const dir = await net.tempDir()
    const err = await fetchModel(components(node), { kind: 'id', modelId: idClaimed }, { dir }).then(() => undefined, (e) => e)
    expect(err?.name).to.equal('ModelHashMismatchError')
    expect(err).to.include({ expected: idClaimed, actual: idB })
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('fails with NoModelProviderError when no peer serves the model', async function () {
    const node = await fetcherNode()
    const dir = await net.tempDir()
    const missing = `0x${'ab'.repeat(32)}`
    const started = Date.now()
    const err = await fetchModel(components(node), { kind: 'id', modelId: missing }, { dir, discoveryTimeoutMs: 1500 }).then(() => undefined, (e) => e)
    expect(err?.name).to.equal('NoModelProviderError')
    expect(err.message).to.include(missing).and.include(server.libp2p.peerId.toString())
    expect(Date.now() - started).to.be.at.least(1500)
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('finds a serving peer it is not connected to through the DHT provider records of the model key', async function () {
    // hub ← server2 (serves model C), hub ← fetcher: the fetcher's only peer is the hub, which does not serve it
    const hub = await net.start({ roles: ['miner'] })
    const server2 = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(hub)] })
    const modelC = await models.model('tiny', 3)
    const idC = await modelIdOf(modelC)
    await waitFor('server2 to have the hub in its DHT routing table', () => (server2.libp2p.services.dht as any).routingTable.size > 0)
    const share2 = await startModelShare(server2, [modelC], () => {}, { chunkBytes: CHUNK_BYTES })
    try {
      const node = await net.start({ roles: ['miner'], bootstrap: [tcpAddr(hub)] })
      await waitFor('the fetcher to connect to the hub', () => node.libp2p.getPeers().some(p => p.equals(hub.libp2p.peerId)))
      await waitFor('the hub to hold the provider record', async () => {
        for await (const p of hub.libp2p.contentRouting.findProviders(parseModelKey(idC), { signal: AbortSignal.timeout(1000) })) {
          if (p.id.equals(server2.libp2p.peerId)) {
            return true
          }
        }
        return false
      })
      if (node.libp2p.getPeers().some(p => p.equals(server2.libp2p.peerId))) {
        await node.libp2p.hangUp(server2.libp2p.peerId)
      }
      expect(node.libp2p.getPeers().map(String)).to.not.include(server2.libp2p.peerId.toString())
      const dir = await net.tempDir()
      const fetched = await fetchModel(components(node), { kind: 'id', modelId: idC }, { dir })
      expect(Buffer.compare(await readFile(fetched.path), await readFile(modelC))).to.equal(0)
    } finally {
      await share2.stop()
    }
  })

  it('resolves `--model <sha256>` to a fetched file once, records it, and shares it on without importing again', async function () {
    const node = await fetcherNode()
    const lines: string[] = []
    const progress = { tty: false, write: () => {}, line: (l: string) => { lines.push(l) } }
    const [path] = await resolveModelFiles(node, [idA], { say: (l) => { lines.push(l) }, progress })
    expect(path).to.equal(join(node.config.dataDir, 'models', `${idA.slice(2)}.gguf`))
    expect(Buffer.compare(await readFile(path), await readFile(modelA))).to.equal(0)
    expect(lines.at(-1)).to.equal(`fetched model ${idA} (${cidA}) into ${path}: ${blocksA.length} blocks fetched, 0 already held`)
    expect((await ModelNames.open(node.config.dataDir)).shareOf(idA)).to.include({ cid: cidA.toString(), path })

    // the second start finds the file: no fetch, and the CID resolves to it too
    lines.length = 0
    expect(await resolveModelFiles(node, [idA, cidA.toString()], { say: (l) => { lines.push(l) }, progress })).to.deep.equal([path, path])
    expect(lines).to.deep.equal([])

    const lines2: string[] = []
    const onward = await startModelShare(node, [path], (l) => { lines2.push(l) }, { chunkBytes: CHUNK_BYTES })
    try {
      expect(lines2).to.deep.equal([`sharing model ${idA} as ${cidA}`])
    } finally {
      await onward.stop()
    }
    await access(path)
  })

  it('CLI: `model fetch <sha256>` joins the mesh, fetches the file and prints its path; an id nobody serves exits 2', async function () {
    const dataDir = await net.tempDir()
    const common = ['--bootstrap', tcpAddr(server), '--network', TEST_NETWORK, '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir]
    const res = await runCli(['model', 'fetch', idA, ...common, '--json'])
    expect(res.code, res.stderr).to.equal(0)
    const { path, id } = JSON.parse(res.stdout)
    expect(id).to.equal(idA)
    expect(path).to.equal(join(dataDir, 'models', `${idA.slice(2)}.gguf`))
    expect(Buffer.compare(await readFile(path), await readFile(modelA))).to.equal(0)
    expect(res.stderr).to.include('fetching model').and.include('100%')

    const missing = await runCli(['model', 'fetch', `0x${'cd'.repeat(32)}`, ...common, '--timeout', '1'])
    expect(missing.code, missing.stderr).to.equal(2)
    expect(missing.stderr).to.match(/^cortensor: no peer served model 0x(cd){32} within 1000 ms/m)
  })
})
