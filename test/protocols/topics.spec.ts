import { expect } from 'aegir/chai'
import { TOPIC_CODECS, TOPIC_KINDS, TOPIC_PREFIX, allTopics, buildTopic, parseTopic } from '../../protocols/topics.ts'
import type { TopicHandlers } from '../../protocols/topics.ts'

function throwsNamed (fn: () => unknown, name: string): void {
  let thrown: any
  try { fn() } catch (err) { thrown = err }
  expect(thrown, `expected ${name}`).to.be.an('error')
  expect(thrown.name).to.equal(name)
}

describe('protocols/topics', () => {
  it('builds versioned topics, per model where the kind needs it', () => {
    expect(TOPIC_PREFIX).to.equal('/cortensor')
    expect(buildTopic('task', 'tiny-llama')).to.equal('/cortensor/1/task/tiny-llama')
    expect(buildTopic('heartbeat', 'qwen2.5-7b:q8_0')).to.equal('/cortensor/1/heartbeat/qwen2.5-7b:q8_0')
    expect(buildTopic('ack')).to.equal('/cortensor/1/ack')
    expect(buildTopic('verdict', undefined, { prefix: '/test-net-7' })).to.equal('/test-net-7/1/verdict')
  })

  it('parses what it builds, for every kind and a private prefix', () => {
    for (const prefix of [undefined, '/private/abc']) {
      for (const kind of TOPIC_KINDS) {
        const model = TOPIC_CODECS[kind].modelScoped ? 'm-1' : undefined
        const topic = buildTopic(kind, model, { prefix })
        const parsed = parseTopic(topic, { prefix })
        expect(parsed).to.deep.equal({ prefix: prefix ?? TOPIC_PREFIX, version: 1, kind, ...(model != null ? { model } : {}) })
      }
    }
  })

  it('refuses bad topics with InvalidTopicError', () => {
    const bad = [
      '/other/1/ack',
      '/cortensor/2/ack',
      '/cortensor/1/gossip',
      '/cortensor/1/task',
      '/cortensor/1/ack/tiny',
      '/cortensor/1/task/tiny/extra',
      '/cortensor/1/task/bad model',
      '/cortensor/1/task/' + 'x'.repeat(129),
      '/cortensorx/1/ack'
    ]
    for (const topic of bad) {
      throwsNamed(() => parseTopic(topic), 'InvalidTopicError')
    }
    throwsNamed(() => parseTopic('/cortensor/1/ack', { prefix: '/private' }), 'InvalidTopicError')
    throwsNamed(() => buildTopic('task'), 'InvalidTopicError')
    throwsNamed(() => buildTopic('ack', 'tiny'), 'InvalidTopicError')
    throwsNamed(() => buildTopic('task', 'a/b'), 'InvalidTopicError')
  })

  it('lists every topic for a set of models', () => {
    const topics = allTopics(['a', 'b'])
    expect(topics).to.have.length(7 + 2 * 2)
    expect(topics).to.include.members(['/cortensor/1/task/a', '/cortensor/1/task/b', '/cortensor/1/heartbeat/b', '/cortensor/1/reveal'])
    expect(new Set(topics).size).to.equal(topics.length)
  })

  it('the handler map must cover every kind (checked by the compiler)', () => {
    const calls: string[] = []
    const handlers: TopicHandlers<null> = {
      task: (m) => { calls.push(`task ${m.taskId}`) },
      assignment: (m) => { calls.push(`assignment ${m.round}`) },
      ack: () => { calls.push('ack') },
      decline: () => { calls.push('decline') },
      precommit: () => { calls.push('precommit') },
      reveal: () => { calls.push('reveal') },
      verdict: () => { calls.push('verdict') },
      'first-token': (m) => { calls.push(`first-token ${m.firstTokenMs}`) },
      heartbeat: (m) => { calls.push(`heartbeat ${m.level}`) }
    }
    // @ts-expect-error a map without a heartbeat handler does not compile
    const incomplete: TopicHandlers<null> = { task: () => {}, assignment: () => {}, ack: () => {}, decline: () => {}, precommit: () => {}, reveal: () => {}, verdict: () => {}, 'first-token': () => {} }
    void incomplete
    expect(Object.keys(handlers).sort()).to.deep.equal([...TOPIC_KINDS].sort())
    void handlers.task({ taskId: 5n } as any, null)
    expect(calls).to.deep.equal(['task 5'])
  })
})
