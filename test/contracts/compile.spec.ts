import { expect } from 'aegir/chai'
import { compileContracts, staleArtifacts } from '../../contracts/compile.ts'

describe('contracts: compile step', function () {
  it('committed artifacts equal a fresh compile, and the hub fits the 24 KiB code size limit', function () {
    this.timeout(60_000)
    const compiled = compileContracts()
    expect(staleArtifacts(compiled)).to.deep.equal([])
    expect(compiled.codeSizes.CortensorHub).to.be.below(24_576)
  })
})
