import { expect } from 'aegir/chai'
import { terminalSafe } from '../../node/cli/output.ts'

describe('CLI output of model text', () => {
  it('shows control characters as escapes, keeps newlines, tabs and any printable text', () => {
    // an escape sequence that would clear the screen and retitle the terminal, a carriage return, a bell, C1 CSI
    expect(terminalSafe('a\u001b[2J\u001b]0;pwned\u0007b\rc\u009bd')).to.equal('a\\x1b[2J\\x1b]0;pwned\\x07b\\x0dc\\x9bd')
    expect(terminalSafe('line one\n\tline two: ünïcödé 漢字 🙂')).to.equal('line one\n\tline two: ünïcödé 漢字 🙂')
    expect(terminalSafe('\u0000\u007f')).to.equal('\\x00\\x7f')
  })
})
