/**
 * The browser bundle: the page builds with nothing Node-only in it, and the
 * check that guarantees this fails (clearly) when Node-only code is added.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'aegir/chai'
import { NodeOnlyImportError, buildBrowser } from '../../client/browser/build.ts'

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const BUILD_SCRIPT = fileURLToPath(new URL('../../client/browser/build.ts', import.meta.url))

async function rejection (p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the build to fail')
}

describe('browser bundle', function () {
  let dir: string

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'cortensor-bundle-'))
  })

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true })
  })

  it('builds the page with no Node-only module in it', async function () {
    const res = await buildBrowser({ outdir: dir })
    expect((await readdir(dir)).sort()).to.deep.equal(['index.html', 'page.js', 'page.js.map', 'style.css'])
    expect(res.bytes).to.be.greaterThan(100_000)
    expect(res.inputs).to.be.greaterThan(100)
    const bundle = await readFile(join(dir, 'page.js'), 'utf8')
    // one classic script: no module syntax, no require of a Node builtin
    expect(bundle).to.not.match(/\brequire\(["'](node:)?(fs|net|os|child_process|dgram)["']\)/)
    expect(bundle).to.not.match(/^import\s/m)
    expect(await readFile(join(dir, 'index.html'), 'utf8')).to.include('<script defer src="page.js"></script>')
  })

  it('fails naming the builtin and the import chain when Node-only code is imported', async function () {
    const err = await rejection(buildBrowser({ entry: join(FIXTURES, 'node-only-entry.ts'), outdir: dir }))
    expect(err).to.be.an.instanceOf(NodeOnlyImportError)
    const byModule = Object.fromEntries(err.imports.map((i: any) => [i.module, i]))
    expect(byModule['node:os'].chain).to.deep.equal(['test/browser/fixtures/node-only-entry.ts', 'test/browser/fixtures/node-only-helper.ts', 'node:os'])
    expect(byModule['node:os'].reason).to.include('Node builtin')
    expect(byModule['@libp2p/tcp'].reason).to.include('runs only in Node')
    expect(err.message).to.include('node:os').and.include('node-only-helper.ts')
    // nothing was written: a failed check leaves no half-good bundle behind
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('fails when the repository\'s node/ runtime is imported', async function () {
    const err = await rejection(buildBrowser({ entry: join(FIXTURES, 'node-tree-entry.ts'), outdir: dir }))
    expect(err).to.be.an.instanceOf(NodeOnlyImportError)
    expect(err.imports.map((i: any) => i.module)).to.include('node/mesh.ts').and.include('@libp2p/tcp')
  })

  it('accepts browser-safe code, including builtin names that npm packages provide', async function () {
    const res = await buildBrowser({ entry: join(FIXTURES, 'clean-entry.ts'), outdir: dir, outfile: 'clean.js' })
    expect(res.bytes).to.be.greaterThan(0)
    expect(await readdir(dir)).to.include('clean.js').and.not.include('index.html')
  })

  it('npm run build:browser exits 1 with the message when the check fails', async function () {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'))
    const child = spawn(process.execPath, [BUILD_SCRIPT, '--entry', join(FIXTURES, 'node-only-entry.ts'), '--outdir', dir], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += String(d) })
    const code = await new Promise(resolve => child.on('close', resolve))
    expect(code).to.equal(1)
    expect(stderr).to.include('the browser bundle would contain Node-only code').and.include('node:os')
  })
})
