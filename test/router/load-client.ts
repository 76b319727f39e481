/**
 * The callers of the router load test, in a process of their own (as real
 * callers are): opens `count` streaming chat completions at once with the
 * official openai client and prints one JSON line with each one's outcome.
 *
 * Run: node test/router/load-client.ts <base url> <key> <model> <count> <label>
 */
import OpenAI from 'openai'

export interface LoadOutcome {
  ok: boolean
  ms: number
  firstMs?: number
  text?: string
  taskId?: string
  status?: number
  code?: string
  retryAfter?: string | null
  /** neither completed nor refused: what happened */
  broken?: string
}

const [base, key, model, countText, label] = process.argv.slice(2)
const openai = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 300_000 })

async function one (i: number): Promise<LoadOutcome> {
  const t0 = performance.now()
  try {
    const stream = await openai.chat.completions.create({
      model,
      messages: [{ role: 'user', content: `question ${label}.${i} about the water near home` }],
      max_tokens: 8,
      stream: true
    })
    let text = ''
    let firstMs: number | undefined
    let finished = false
    let taskId: string | undefined
    for await (const chunk of stream) {
      firstMs ??= performance.now() - t0
      taskId ??= /^chatcmpl-\d+-(\d+)$/.exec(chunk.id)?.[1]
      text += chunk.choices[0]?.delta.content ?? ''
      finished ||= chunk.choices[0]?.finish_reason != null
    }
    if (!finished) {
      return { ok: false, ms: performance.now() - t0, broken: `stream ${label}.${i} (task ${taskId}) ended without a finish_reason` }
    }
    return { ok: true, ms: performance.now() - t0, firstMs, text, taskId }
  } catch (err: any) {
    const ms = performance.now() - t0
    // an error after the stream began has no HTTP status: a broken stream, not a refusal
    if (err?.status == null) {
      return { ok: false, ms, broken: `stream ${label}.${i}: ${err?.message}` }
    }
    return { ok: false, ms, status: err.status, code: err?.error?.code, retryAfter: err?.headers?.get?.('retry-after') ?? null }
  }
}

const outcomes = await Promise.all(Array.from({ length: Number(countText) }, async (_, i) => one(i)))
process.stdout.write(`${JSON.stringify(outcomes)}\n`)
