import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { generateModel, modelIdOf } from '../../node/inference/gguf/index.ts'
import { ModelNameError, ModelNames, modelNamesPath } from '../../node/inference/model-names.ts'
import { createRouter } from '../../node/roles/router/app.ts'
import { KeyStore } from '../../node/roles/router/keys.ts'
import { runCli } from '../fixtures/cli.ts'
import { MODEL_ID, ScriptedTaskClient } from './fixtures.ts'

describe('model names', function () {
  this.timeout(120_000)
  let dir: string
  let gguf: string
  let id: string

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'model-names-'))
    gguf = join(dir, 'tiny.gguf')
    await generateModel(gguf, { preset: 'tiny', seed: 1 })
    id = await modelIdOf(gguf)
  })

  after(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('names a model id by hashing its file, in a 0600 file read back on open; refuses bad, id-like and taken names', async function () {
    const data = join(dir, 'a')
    const names = await ModelNames.open(data)
    const entry = await names.add('tiny-1', gguf)
    expect(entry).to.include({ name: 'tiny-1', id, path: gguf })
    expect((await stat(modelNamesPath(data))).mode & 0o777).to.equal(0o600)
    const again = await ModelNames.open(data)
    expect(again.idOf('tiny-1')).to.equal(id)
    expect(again.nameOf(id.toUpperCase().replace('0X', '0x'))).to.equal('tiny-1')
    for (const bad of ['', '-x', 'a b', 'x'.repeat(65), 'ab'.repeat(32), `0x${'ab'.repeat(32)}`]) {
      await expect(names.set(bad, id)).to.eventually.be.rejectedWith(ModelNameError)
    }
    await expect(names.set('tiny-1', `0x${'cd'.repeat(32)}`)).to.eventually.be.rejectedWith(ModelNameError, /already stands for/)
    expect(await again.remove('tiny-1')).to.equal(true)
    expect(await again.remove('tiny-1')).to.equal(false)
    expect((await ModelNames.open(data)).list()).to.deep.equal([])
  })

  it('the router lists names beside ids and accepts a name as the model (official openai client)', async function () {
    const client = new ScriptedTaskClient()
    const keys = KeyStore.memory()
    const { key } = await keys.create({ sessionId: client.sessionId })
    const names = new ModelNames({ names: [{ name: 'tiny', id: MODEL_ID, addedAtMs: 0 }] })
    const app = createRouter({ client, keys, names, options: { rateLimitPerMinute: 10_000 } })
    await app.listen({ host: '127.0.0.1', port: 0 })
    try {
      const address = app.server.address()
      const openai = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${typeof address === 'object' && address != null ? address.port : 0}/v1`, maxRetries: 0 })
      const list = await openai.models.list()
      expect(list.data.map(m => [m.id, (m as any).cortensor.name])).to.deep.equal([[MODEL_ID, 'tiny']])
      expect((await openai.models.retrieve('tiny')).id).to.equal(MODEL_ID)
      // the dashboard's status names it too
      const status = await (await fetch(`http://127.0.0.1:${typeof address === 'object' && address != null ? address.port : 0}/api/v1/status`)).json()
      expect(status.pool.models).to.deep.equal([{ id: MODEL_ID, miners: 3, name: 'tiny' }])
      const res = await openai.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
      // the id stays what the network and the response use
      expect(res.model).to.equal(MODEL_ID)
      const unknown: any = await openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e: unknown) => e)
      expect(unknown).to.include({ status: 404, code: 'model_not_found', param: 'model' })
    } finally {
      await app.close()
    }
  })

  it('cortensor model add / list / remove, with a clear error for a bad name', async function () {
    const data = join(dir, 'cli')
    const added = await runCli(['model', 'add', 'tiny', gguf, '--data-dir', data, '--json'])
    expect(added.code, added.stderr).to.equal(0)
    expect(JSON.parse(added.stdout)).to.include({ name: 'tiny', id })
    const listed = await runCli(['model', 'list', '--data-dir', data, '--json'])
    expect(JSON.parse(listed.stdout).map((n: { name: string, id: string }) => [n.name, n.id])).to.deep.equal([['tiny', id]])
    const bad = await runCli(['model', 'add', 'no good', gguf, '--data-dir', data])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.include('"no good" is not a model name')
    const notGguf = await runCli(['model', 'add', 'x', modelNamesPath(data), '--data-dir', data])
    expect(notGguf.code).to.equal(2)
    const removed = await runCli(['model', 'remove', 'tiny', '--data-dir', data])
    expect(removed.code, removed.stderr).to.equal(0)
    const gone = await runCli(['model', 'remove', 'tiny', '--data-dir', data])
    expect(gone.code).to.equal(2)
  })
})
