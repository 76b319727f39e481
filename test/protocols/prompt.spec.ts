/**
 * Prompt documents: a task's input is `{ prompt }` or `{ messages }`,
 * checked the same way by the SDK that writes it and the miners and oracles
 * that read it; the plain transcript is the same text everywhere.
 */
import * as dagJson from '@ipld/dag-json'
import { expect } from 'aegir/chai'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { inlinePrompt } from '../../node/roles/shared/records.ts'
import { checkMessages, grammarSchema, MAX_CHAT_MESSAGES, MAX_EMBED_INPUTS, parsePromptDoc, parseSchema, parseTaskDoc, promptDoc, promptText, renderTranscript, taskDoc, taskText } from '../../protocols/prompt/index.ts'

function thrown (fn: () => unknown): Error & { field?: string } {
  try {
    fn()
  } catch (err: any) {
    return err
  }
  throw new Error('expected a throw')
}

describe('protocols/prompt: prompt documents', () => {
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'hi', name: 'alice' }]

  it('stores a prompt as { prompt } and a chat as { messages }, and reads both back', () => {
    expect(promptDoc('hello')).to.deep.equal({ prompt: 'hello' })
    expect(promptDoc({ messages })).to.deep.equal({ messages })
    expect(parsePromptDoc({ prompt: 'hello' })).to.equal('hello')
    expect(parsePromptDoc(dagJson.decode(dagJson.encode(promptDoc({ messages }))))).to.deep.equal({ messages })
  })

  it('drops extra fields and empty names, so equal chats are byte-equal documents', () => {
    const noisy = [{ role: 'user', content: 'hi', name: '', extra: 1 }] as any
    expect(checkMessages(noisy)).to.deep.equal([{ role: 'user', content: 'hi' }])
    expect(dagJson.encode(promptDoc({ messages: noisy }))).to.deep.equal(dagJson.encode({ messages: [{ role: 'user', content: 'hi' }] }))
  })

  it('refuses documents of neither shape with InvalidPromptError naming the field', () => {
    for (const [doc, field] of [
      [null, 'prompt document'],
      [{}, 'prompt document'],
      [{ prompt: 'a', messages: [] }, 'prompt document'],
      [{ messages: [] }, 'messages'],
      [{ messages: 'hi' }, 'messages'],
      [{ messages: [{ role: 'constructor', content: 'x' }] }, 'messages[0].role'],
      [{ messages: [{ role: 'user', content: 3 }] }, 'messages[0].content'],
      [{ messages: [{ role: 'user', content: 'x', name: 'n'.repeat(257) }] }, 'messages[0].name'],
      [{ messages: new Array(MAX_CHAT_MESSAGES + 1).fill({ role: 'user', content: 'x' }) }, 'messages']
    ] as const) {
      const err = thrown(() => parsePromptDoc(doc))
      expect(err.name, JSON.stringify(doc)?.slice(0, 80)).to.equal('InvalidPromptError')
      expect(err.field).to.equal(field)
    }
  })

  it('renders the plain transcript: roles labelled, names in parentheses, the assistant\'s turn open', () => {
    expect(renderTranscript([...messages, { role: 'tool', content: '42', name: 'calc' }, { role: 'developer', content: 'Be kind.' }]))
      .to.equal('System: Be brief.\n\nUser (alice): hi\n\nTool (calc): 42\n\nSystem: Be kind.\n\nAssistant:')
    expect(promptText('as is')).to.equal('as is')
    expect(promptText({ messages })).to.equal('System: Be brief.\n\nUser (alice): hi\n\nAssistant:')
  })

  it('an announcement\'s inline block of chat messages is read when it hashes to the CID', async () => {
    const block = Uint8Array.from(dagJson.encode(promptDoc({ messages })))
    const cid = CID.createV1(dagJson.code, await sha256.digest(block))
    expect(inlinePrompt({ promptCid: cid.bytes, promptBlock: block })).to.deep.equal({ messages })
    const bad = Uint8Array.from(dagJson.encode({ messages: [{ role: 'nobody', content: 'x' }] }))
    const badCid = CID.createV1(dagJson.code, await sha256.digest(bad))
    expect(inlinePrompt({ promptCid: badCid.bytes, promptBlock: bad })).to.equal(undefined)
  })
  it('a chat document carries its response format through dag-json, the schema as JSON text (what the CID commits to)', async () => {
    const schema = JSON.stringify({ type: 'object', properties: { '/': { type: 'string' }, n: { anyOf: [{ type: 'integer' }, { type: 'null' }] } } })
    const input = { messages, responseFormat: { type: 'json_schema' as const, schema } }
    const block = dagJson.encode(promptDoc(input))
    expect(parsePromptDoc(dagJson.decode(block))).to.deep.equal(input)
    const other = dagJson.encode(promptDoc({ messages, responseFormat: { type: 'json_object' } }))
    expect((await sha256.digest(other)).digest).to.not.deep.equal((await sha256.digest(block)).digest)
    expect(grammarSchema(JSON.parse(schema))).to.deep.equal({ type: 'object', properties: { '/': { type: 'string' }, n: { oneOf: [{ type: 'integer' }, { type: 'null' }] } } })
    for (const [doc, field] of [
      [{ prompt: 'x', responseFormat: { type: 'json_object' } }, 'prompt document'],
      [{ messages, responseFormat: { type: 'yaml' } }, 'responseFormat'],
      [{ messages, responseFormat: { type: 'json_schema', schema: '{"type":"string","pattern":"a"}' } }, 'responseFormat'],
      [{ messages, responseFormat: { type: 'json_schema', schema: 'not json' } }, 'responseFormat']
    ] as const) {
      const err = thrown(() => parsePromptDoc(doc))
      expect(err.name, JSON.stringify(doc)).to.equal('InvalidPromptError')
      expect(err.field).to.equal(field)
    }
  })

  it('names the schema keyword the grammar cannot enforce and where it is', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ type: 'object', properties: { 'a/b': { type: 'string', pattern: 'x' } } }, 'pattern', '#/properties/a~1b'],
      [{ type: 'array', items: { type: 'number', multipleOf: 2 } }, 'multipleOf', '#/items'],
      [{ $ref: '#/definitions/x' }, '$ref', '#'],
      [{ oneOf: [{ type: 'string' }], type: 'string' }, 'type', '#'],
      [{ type: ['object', 'null'] }, 'type', '#'],
      [{ type: 'string', format: 'uri' }, 'format', '#'],
      [true, 'true', '#']
    ]
    for (const [schema, keyword, at] of cases) {
      const err: any = thrown(() => parseSchema(JSON.stringify(schema)))
      expect(err.name, JSON.stringify(schema)).to.equal('UnsupportedSchemaError')
      expect(err.keyword).to.equal(keyword)
      expect(err.at).to.equal(at)
    }
    // what the grammar does enforce passes
    parseSchema(JSON.stringify({ type: 'object', title: 'T', $defs: { c: { enum: ['r', 'g'] } }, properties: { c: { $ref: '#/$defs/c' }, l: { type: 'array', prefixItems: [{ const: 1 }], items: { type: ['string', 'null'] }, maxItems: 3 }, d: { type: 'string', format: 'date' } }, required: ['c'], additionalProperties: false }))
  })
  it('an embedding task\'s document is { embed: [...] }; the prompt reader refuses it and the task reader reads it', () => {
    const doc = taskDoc({ embed: ['a', 'b'] })
    expect(doc).to.deep.equal({ embed: ['a', 'b'] })
    expect(parseTaskDoc(dagJson.decode(dagJson.encode(doc)))).to.deep.equal({ embed: ['a', 'b'] })
    expect(parseTaskDoc({ messages })).to.deep.equal({ messages })
    expect(taskText({ embed: ['a', 'b'] })).to.equal('a\nb')
    expect(thrown(() => parsePromptDoc({ embed: ['a'] })).field).to.equal('prompt document')
    for (const [bad, field] of [[{ embed: [] }, 'embed'], [{ embed: ['a', ''] }, 'embed[1]'], [{ embed: ['a'], prompt: 'x' }, 'prompt document'], [{ embed: new Array(MAX_EMBED_INPUTS + 1).fill('x') }, 'embed']] as const) {
      const err = thrown(() => parseTaskDoc(bad))
      expect(err.name).to.equal('InvalidPromptError')
      expect(err.field, JSON.stringify(bad).slice(0, 60)).to.equal(field)
    }
  })
})
