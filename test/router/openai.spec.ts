import { expect } from 'aegir/chai'
import OpenAI from 'openai'
import { MODEL_ID, ScriptedTaskClient, startTestRouter, waitUntil } from './fixtures.ts'
import type { TestRouter } from './fixtures.ts'

describe('router: OpenAI-compatible API with the official openai client', function () {
  let r: TestRouter
  let openai: OpenAI

  before(async function () {
    r = await startTestRouter({ options: { rateLimitPerMinute: 10_000 } })
    openai = new OpenAI({ apiKey: r.key, baseURL: `${r.base}/v1`, maxRetries: 0 })
  })

  after(async function () {
    await r?.close()
  })

  it('lists the served models', async function () {
    const page = await openai.models.list()
    expect(page.data.map(m => m.id)).to.deep.equal([MODEL_ID])
    expect(page.data[0].object).to.equal('model')
    const one = await openai.models.retrieve(MODEL_ID)
    expect(one.id).to.equal(MODEL_ID)
  })

  it('answers a chat completion after settlement, with usage and the Cortensor extras', async function () {
    const res = await openai.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }],
      max_tokens: 16,
      temperature: 0
    })
    expect(res.object).to.equal('chat.completion')
    expect(res.id).to.match(/^chatcmpl-1-\d+$/)
    expect(res.model).to.equal(MODEL_ID)
    expect(res.created).to.be.closeTo(Date.now() / 1000, 10)
    expect(res.choices[0].message).to.include({ role: 'assistant', content: 'Hello, world!' })
    expect(res.choices[0].finish_reason).to.equal('stop')
    expect(res.usage?.completion_tokens).to.equal(4)
    expect(res.usage?.total_tokens).to.equal((res.usage?.prompt_tokens ?? 0) + 4)
    const extra = (res as any).cortensor
    expect(extra.output_cid).to.match(/^bafk/)
    expect(extra.tx_hash).to.match(/^0x/)
    expect(extra.miners).to.have.length(3)
    expect(extra.miners[0]).to.deep.equal({ address: '0x1111111111111111111111111111111111111111', outcome: 'accepted' })

    const submitted = r.client.submits.at(-1)
    // the task carries the messages (miners render them with the model's template); the transcript is what listings show
    expect(submitted?.input).to.deep.equal({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }] })
    expect(submitted?.prompt).to.equal('System: Be brief.\n\nUser: Say hello\n\nAssistant:')
    expect(submitted?.params).to.include({ maxTokens: 16, temperature: 0, sessionId: 1n })
  })

  it('streams a chat completion as OpenAI does: role chunk, deltas, finish chunk, usage chunk', async function () {
    const stream = await openai.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
      stream_options: { include_usage: true }
    })
    const chunks = []
    for await (const chunk of stream) {
      chunks.push(chunk)
    }
    expect(chunks.every(c => c.object === 'chat.completion.chunk')).to.equal(true)
    expect(new Set(chunks.map(c => c.id)).size).to.equal(1)
    expect(chunks[0].choices[0].delta.role).to.equal('assistant')
    const text = chunks.map(c => c.choices[0]?.delta.content ?? '').join('')
    expect(text).to.equal('Hello, world!')
    const finish = chunks.filter(c => c.choices[0]?.finish_reason != null)
    expect(finish).to.have.length(1)
    expect(finish[0].choices[0].finish_reason).to.equal('stop')
    const usage = chunks.at(-1)
    expect(usage?.choices).to.deep.equal([])
    expect(usage?.usage?.completion_tokens).to.equal(4)
  })

  it('reports finish_reason length when max_tokens cuts the stream', async function () {
    const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 2 })
    let reason: string | null | undefined
    let text = ''
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      reason = chunk.choices[0]?.finish_reason ?? reason
    }
    expect(text).to.equal('Hello,')
    expect(reason).to.equal('length')
  })

  it('answers and streams legacy completions', async function () {
    const res = await openai.completions.create({ model: MODEL_ID, prompt: 'Once upon', max_tokens: 8, stop: ['\n'] })
    expect(res.object).to.equal('text_completion')
    expect(res.choices[0].text).to.equal('Hello, world!')
    expect(r.client.submits.at(-1)?.params.stop).to.deep.equal(['\n'])

    const stream = await openai.completions.create({ model: MODEL_ID, prompt: 'Once upon', stream: true })
    let text = ''
    let reason: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? ''
      reason = chunk.choices[0]?.finish_reason ?? reason
    }
    expect(text).to.equal('Hello, world!')
    expect(reason).to.equal('stop')
  })

  it('refuses every field it cannot honour with a 400 unsupported_parameter naming it, submitting nothing', async function () {
    const messages = [{ role: 'user' as const, content: 'x' }]
    const chatCases: Array<[string, Record<string, unknown>]> = [
      ['tools', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }] }],
      ['tool_choice', { tool_choice: 'required' }],
      ['tool_choice', { tool_choice: { type: 'function', function: { name: 'f' } } }],
      ['functions', { functions: [{ name: 'f', parameters: {} }] }],
      ['function_call', { function_call: { name: 'f' } }],
      ['response_format', { response_format: { type: 'grammar', grammar: 'root ::= "a"' } }],
      ['logprobs', { logprobs: true }],
      ['top_logprobs', { top_logprobs: 3 }],
      ['logit_bias', { logit_bias: { 50256: -100 } }],
      ['audio', { audio: { voice: 'alloy', format: 'mp3' }, modalities: ['text', 'audio'] }],
      ['modalities', { modalities: ['text', 'audio'] }],
      ['web_search_options', { web_search_options: {} }]
    ]
    const submits = r.client.submits.length
    for (const [param, extra] of chatCases) {
      for (const stream of [false, true]) {
        const err: any = await openai.chat.completions.create({ model: MODEL_ID, messages, stream, ...extra } as any).then(() => null, (e: unknown) => e)
        expect(err, `${param} ${JSON.stringify(extra)}`).to.be.instanceOf(OpenAI.BadRequestError)
        expect(err.status).to.equal(400)
        expect(err.code, JSON.stringify(err.error)).to.equal('unsupported_parameter')
        expect(err.param).to.equal(param)
        expect(err.type).to.equal('invalid_request_error')
        expect(err.message).to.include(`${param}: `)
      }
    }
    const textCases: Array<[string, Record<string, unknown>]> = [
      ['logprobs', { logprobs: 2 }], ['echo', { echo: true }], ['suffix', { suffix: '}' }], ['logit_bias', { logit_bias: { 1: 5 } }]
    ]
    for (const [param, extra] of textCases) {
      const err: any = await openai.completions.create({ model: MODEL_ID, prompt: 'x', ...extra } as any).then(() => null, (e: unknown) => e)
      expect(err, param).to.be.instanceOf(OpenAI.BadRequestError)
      expect(err.code).to.equal('unsupported_parameter')
      expect(err.param).to.equal(param)
    }
    // several choices per request stay refused as before (n = 1 is supported, so the value is what is refused)
    const n: any = await openai.chat.completions.create({ model: MODEL_ID, messages, n: 2 }).then(() => null, (e: unknown) => e)
    expect(n).to.be.instanceOf(OpenAI.BadRequestError)
    expect(n).to.include({ code: 'unsupported_value', param: 'n' })
    const bestOf: any = await openai.completions.create({ model: MODEL_ID, prompt: 'x', best_of: 3 }).then(() => null, (e: unknown) => e)
    expect(bestOf).to.include({ code: 'unsupported_value', param: 'best_of' })
    expect(r.client.submits.length, 'a refused request submits no task').to.equal(submits)
  })

  it('carries a JSON-mode or JSON-schema response format in the task, and refuses a schema keyword the grammar cannot enforce, naming it', async function () {
    const messages = [{ role: 'user' as const, content: 'Say hello' }]
    await openai.chat.completions.create({ model: MODEL_ID, messages, response_format: { type: 'json_object' } })
    expect(r.client.submits.at(-1)?.input).to.deep.equal({ messages, responseFormat: { type: 'json_object' } })
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 20 }, tags: { type: 'array', items: { enum: ['a', 'b'] } } }, required: ['name', 'tags'], additionalProperties: false }
    await openai.chat.completions.create({ model: MODEL_ID, messages, response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } })
    // the schema travels as JSON text inside the prompt document (the CID the chain commits to)
    expect(r.client.submits.at(-1)?.input).to.deep.equal({ messages, responseFormat: { type: 'json_schema', schema: JSON.stringify(schema) } })

    const submits = r.client.submits.length
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'object', properties: { name: { type: 'string', pattern: '^[a-z]+$' } } }, '"pattern" at #/properties/name'],
      [{ type: 'object', properties: { n: { type: 'number', minimum: 0 } } }, '"minimum" at #/properties/n'],
      [{ allOf: [{ type: 'string' }] }, '"allOf" at #'],
      [{ type: 'string', format: 'email' }, '"format" at #'],
      [{ properties: { a: { type: 'string' } } }, '"properties" at # is not supported (needs "type": "object")'],
      [{ type: 'object', properties: { a: {} } }, '"{}" at #/properties/a']
    ]
    for (const [bad, naming] of cases) {
      const err: any = await openai.chat.completions.create({ model: MODEL_ID, messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: bad } } }).then(() => null, (e: unknown) => e)
      expect(err, JSON.stringify(bad)).to.be.instanceOf(OpenAI.BadRequestError)
      expect(err).to.include({ status: 400, code: 'unsupported_parameter', param: 'response_format.json_schema.schema' })
      expect(err.message).to.include(`JSON schema keyword ${naming}`)
    }
    const noSchema: any = await openai.chat.completions.create({ model: MODEL_ID, messages, response_format: { type: 'json_schema' } } as any).then(() => null, (e: unknown) => e)
    expect(noSchema).to.include({ status: 400, code: 'missing_required_parameter', param: 'response_format.json_schema' })
    // JSON output is greedy: a sampled request is refused, naming temperature
    const sampled: any = await openai.chat.completions.create({ model: MODEL_ID, messages, temperature: 0.7, response_format: { type: 'json_object' } }).then(() => null, (e: unknown) => e)
    expect(sampled).to.include({ status: 400, code: 'unsupported_value', param: 'temperature' })
    expect(r.client.submits.length, 'a refused request submits no task').to.equal(submits)
  })

  it('accepts neutral values of those fields and the fields that leave the answer alone, answering as without them', async function () {
    const messages = [{ role: 'user' as const, content: 'Say hello' }]
    const plain = await openai.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 8 })
    const plainSubmit = r.client.submits.at(-1)
    const res = await openai.chat.completions.create({
      model: MODEL_ID,
      messages,
      max_tokens: 8,
      tools: [],
      tool_choice: 'none',
      parallel_tool_calls: false,
      response_format: { type: 'text' },
      logprobs: false,
      top_logprobs: 0,
      logit_bias: {},
      modalities: ['text'],
      presence_penalty: 0.5,
      frequency_penalty: 0.5,
      user: 'user-1',
      metadata: { purpose: 'test' },
      store: false,
      service_tier: 'auto',
      n: 1
    })
    expect(res.choices[0].message.content).to.equal(plain.choices[0].message.content)
    const submit = r.client.submits.at(-1)
    expect(submit?.prompt).to.equal(plainSubmit?.prompt)
    const { signal: _a, ...params } = submit?.params ?? {}
    const { signal: _b, ...plainParams } = plainSubmit?.params ?? {}
    expect(params).to.deep.equal({ ...plainParams, clientReference: 'user-1' })
    const text = await openai.completions.create({ model: MODEL_ID, prompt: 'Once', echo: false, suffix: '', logprobs: 0, best_of: 1, presence_penalty: 1 } as any)
    expect(text.choices[0].text).to.equal('Hello, world!')
  })

  it('sends the SSE wire format exactly: data lines, [DONE] last, task headers', async function () {
    const res = await fetch(`${r.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true })
    })
    expect(res.status).to.equal(200)
    expect(res.headers.get('content-type')).to.match(/^text\/event-stream/)
    expect(res.headers.get('x-cortensor-task-id')).to.match(/^\d+$/)
    const body = await res.text()
    const events = body.split('\n\n').filter(e => e !== '')
    expect(events.every(e => e.startsWith('data: '))).to.equal(true)
    expect(events.at(-1)).to.equal('data: [DONE]')
    const first = JSON.parse(events[0].slice(6))
    expect(first.choices[0].delta).to.deep.equal({ role: 'assistant', content: '', refusal: null })
  })

  it('a task failing before its first token is a clean HTTP error, not a stream', async function () {
    r.client.next({ failBeforeFirst: { code: 'miner_failed', message: 'the assigned miners failed' } })
    let caught: any
    try {
      const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true })
      for await (const chunk of stream) {
        expect.fail(`nothing should arrive, got ${JSON.stringify(chunk)}`)
      }
    } catch (err) {
      caught = err
    }
    expect(caught).to.be.instanceOf(OpenAI.APIError)
    expect(caught.status).to.equal(502)
    expect(caught.error).to.include({ code: 'miner_failed', type: 'upstream_error' })
    expect(caught.headers.get('x-should-retry')).to.equal('false')
  })

  it('a task failing after its first token ends the stream with an error event and [DONE]', async function () {
    r.client.next({ failAfterTokens: 2, failure: { code: 'miner_failed', message: 'the miner went away' } })
    const seen: string[] = []
    let caught: any
    try {
      const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true })
      for await (const chunk of stream) {
        seen.push(chunk.choices[0]?.delta.content ?? '')
      }
    } catch (err) {
      caught = err
    }
    expect(seen.join('')).to.equal('Hello,')
    expect(caught).to.be.instanceOf(OpenAI.APIError)
    expect(caught.error).to.include({ code: 'miner_failed' })

    r.client.next({ failAfterTokens: 1 })
    const raw = await fetch(`${r.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true })
    })
    const events = (await raw.text()).split('\n\n').filter(e => e !== '')
    expect(events.at(-1)).to.equal('data: [DONE]')
    expect(JSON.parse(events.at(-2)?.slice(6) ?? '{}').error.code).to.equal('miner_failed')
  })

  it('a stream that never produces a token ends with a 504, not a hang', async function () {
    const client = new ScriptedTaskClient({ script: { hang: true } })
    const slow = await startTestRouter({ client, options: { firstTokenTimeoutMs: 200 } })
    try {
      const o = new OpenAI({ apiKey: slow.key, baseURL: `${slow.base}/v1`, maxRetries: 0 })
      const started = Date.now()
      const err: any = await o.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true }).then(() => null, e => e)
      expect(err?.status).to.equal(504)
      expect(err.error.code).to.equal('first_token_timeout')
      expect(Date.now() - started).to.be.lessThan(3000)
      await waitUntil('cancel', () => client.cancels.length === 1)
    } finally {
      await slow.close()
    }
  })

  it('a client that disconnects mid-stream cancels the task\'s stream', async function () {
    r.client.next({ tokens: Array.from({ length: 200 }, (_, i) => `t${i} `), delayMs: 10 })
    const ac = new AbortController()
    const stream = await openai.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'long' }], stream: true }, { signal: ac.signal })
    const taskId = r.client.submits.at(-1)?.taskId
    let n = 0
    try {
      for await (const chunk of stream) {
        expect(chunk.object).to.equal('chat.completion.chunk')
        if (++n === 3) {
          ac.abort()
        }
      }
    } catch {
      // the client's own abort
    }
    await waitUntil('the router to cancel the task', () => r.client.cancels.includes(taskId ?? -1n))
  })

  it('a client that disconnects before the first token cancels too', async function () {
    r.client.next({ firstTokenDelayMs: 2000 })
    const ac = new AbortController()
    const pending = fetch(`${r.base}/v1/chat/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'x' }], stream: true })
    }).catch(() => null)
    await waitUntil('submit', () => r.client.handles.length > 0 && r.client.handles.at(-1)?.record.prompt === 'User: x\n\nAssistant:' && r.client.handles.at(-1)?.cancelled === false)
    const handle = r.client.handles.at(-1)
    ac.abort()
    await pending
    await waitUntil('cancel', () => handle?.cancelled === true)
  })

  it('a non-stream request whose caller disconnects cancels the wait', async function () {
    r.client.next({ hang: true })
    const before = r.client.handles.length
    const ac = new AbortController()
    const pending = fetch(`${r.base}/v1/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${r.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, prompt: 'x' })
    }).catch(() => null)
    await waitUntil('submit', () => r.client.handles.length > before)
    ac.abort()
    await pending
    await waitUntil('cancel', () => r.client.handles[before].cancelled)
  })
})
