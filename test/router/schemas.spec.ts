/**
 * The body schemas' error formatter (node/roles/router/check.ts): which field
 * answers when several are wrong, which variant of a union speaks, null as
 * absent, and where a rule across fields sits in the order. Each case is the
 * exact error the hand-written checks gave.
 */
import { expect } from 'aegir/chai'
import { parseEmbeddingsRequest } from '../../node/roles/router/embeddings.ts'
import { ApiError } from '../../node/roles/router/errors.ts'
import { resolveRouterOptions } from '../../node/roles/router/options.ts'
import { parseChatRequest, parseCompletionRequest, parseCortensorRequest } from '../../node/roles/router/validate.ts'

const o = resolveRouterOptions({ maxTokensLimit: 512 })
const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

function errorOf (f: () => unknown): { code: string, param: string | null, message: string } {
  try {
    f()
  } catch (err) {
    expect(err).to.be.an.instanceOf(ApiError)
    const e = err as ApiError
    expect(e.status).to.equal(400)
    return { code: e.code, param: e.param, message: e.message }
  }
  expect.fail('no error')
}

describe('router: body schemas and their errors', () => {
  it('answers with the first failing field in check order, a wrong kind before a bound', () => {
    expect(errorOf(() => parseChatRequest({ ...chat, stop: 5, temperature: 9, top_k: 'x' }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'temperature', message: 'temperature: must be between 0 and 2 (got 9)' })
    expect(errorOf(() => parseChatRequest({ ...chat, top_k: 1.5, seed: -1 }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'top_k', message: 'top_k: must be an integer (got 1.5)' })
    expect(errorOf(() => parseChatRequest({ ...chat, max_tokens: 513 }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'max_tokens', message: 'max_tokens: must be at most 512 on this router (got 513)' })
    expect(errorOf(() => parseChatRequest({ ...chat, max_completion_tokens: true }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'max_completion_tokens', message: 'max_completion_tokens: must be a positive integer (got boolean)' })
  })

  it('refused fields and a missing model come before the fields the schema checks', () => {
    expect(errorOf(() => parseChatRequest({ messages: [], tools: [{}], temperature: 'x' }, o)))
      .to.deep.equal({ code: 'unsupported_parameter', param: 'tools', message: 'tools: tool calling is not supported: miners generate plain text only' })
    expect(errorOf(() => parseChatRequest({ messages: 'x', temperature: 'x' }, o)))
      .to.deep.equal({ code: 'missing_required_parameter', param: 'model', message: 'model: is required (GET /v1/models lists the models served now)' })
  })

  it('null is absent, except where the field itself says otherwise', () => {
    expect(parseChatRequest({ ...chat, temperature: null, stop: null, stream_options: { include_usage: null } }, o).params).to.not.have.property('temperature')
    expect(errorOf(() => parseChatRequest({ model: 'm', messages: null }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'messages', message: 'messages: must be an array of messages' })
    expect(errorOf(() => parseCompletionRequest({ model: 'm', prompt: null }, o)))
      .to.deep.equal({ code: 'missing_required_parameter', param: 'prompt', message: 'prompt: is required' })
  })

  it('a union speaks through the variant that fits the value, else as a whole', () => {
    expect(errorOf(() => parseChatRequest({ ...chat, stop: '' }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'stop', message: 'stop: each sequence must be 1 to 256 characters' })
    expect(errorOf(() => parseChatRequest({ ...chat, stop: ['a', 'b', 'c', 'd', 1] }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'stop', message: 'stop: must be a string or an array of strings' })
    expect(errorOf(() => parseChatRequest({ ...chat, stop: ['a', 'b', 'c', 'd', 'e'] }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'stop', message: 'stop: at most 4 sequences' })
    expect(errorOf(() => parseCompletionRequest({ model: 'm', prompt: [1] }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'prompt', message: 'prompt: must be a string (or an array of one string); token arrays and batches are not supported' })
    expect(errorOf(() => parseEmbeddingsRequest({ model: 'm', input: ['a', 2] }, o)))
      .to.deep.equal({ code: 'unsupported_parameter', param: 'input', message: 'input: token arrays are not supported: give the texts as strings' })
    expect(errorOf(() => parseEmbeddingsRequest({ model: 'm', input: ['a', ''] }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'input[1]', message: 'input[1]: must be 1 to 65536 characters' })
    expect(errorOf(() => parseEmbeddingsRequest({ model: 'm', input: [] }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'input', message: 'input: must be a string or a non-empty array of strings' })
  })

  it('a value in range but not served, and an open bound, have their own messages', () => {
    expect(errorOf(() => parseCompletionRequest({ model: 'm', prompt: 'p', n: 2 }, o)))
      .to.deep.equal({ code: 'unsupported_value', param: 'n', message: 'n: only n = 1 is supported (one completion per task)' })
    expect(errorOf(() => parseCompletionRequest({ model: 'm', prompt: 'p', n: 200 }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'n', message: 'n: must be between 1 and 128 (got 200)' })
    expect(errorOf(() => parseChatRequest({ ...chat, top_p: 0 }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'top_p', message: 'top_p: must be greater than 0 and at most 1' })
    expect(errorOf(() => parseChatRequest({ ...chat, top_p: -1 }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'top_p', message: 'top_p: must be between 0 and 1 (got -1)' })
  })

  it('a rule across fields answers in its place in the order', () => {
    const greedy = { ...chat, response_format: { type: 'json_object' }, temperature: 1 }
    expect(errorOf(() => parseChatRequest({ ...greedy, stream: 'x' }, o)))
      .to.deep.equal({ code: 'unsupported_value', param: 'temperature', message: 'temperature: a response_format other than text is generated greedily on this network: give temperature 0 or leave it out' })
    expect(errorOf(() => parseChatRequest({ ...greedy, top_k: 'x' }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'top_k', message: 'top_k: must be an integer (got string)' })
    expect(errorOf(() => parseCortensorRequest({ prompt: 'p', messages: [] }, o)))
      .to.deep.equal({ code: 'invalid_value', param: 'messages', message: 'messages: give prompt or messages, not both' })
    expect(errorOf(() => parseCortensorRequest({ model: 5 }, o)))
      .to.deep.equal({ code: 'missing_required_parameter', param: 'prompt', message: 'prompt: is required (or messages)' })
  })

  it('does not coerce: a string number is a wrong kind', () => {
    expect(errorOf(() => parseCortensorRequest({ prompt: 'p', timeout: '5' }, o)))
      .to.deep.equal({ code: 'invalid_type', param: 'timeout', message: 'timeout: must be a number (got string)' })
    expect(parseCortensorRequest({ prompt: 'p', timeout: 1.5, max_tokens: 8 }, o)).to.deep.include({ prompt: 'p', maxTokens: 8 })
  })
})
