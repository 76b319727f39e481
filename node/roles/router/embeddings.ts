/**
 * `POST /v1/embeddings`, OpenAI-shaped: `input` (a string or an array of
 * strings), `model`, optional `encoding_format` (`float` or `base64`) and
 * `user`. The texts become an embedding task (`{ embed: [...] }`) that goes
 * through the queue like any task: redundant miners compute the vectors with
 * the model, the oracles settle it (and replay it when sampled), and the
 * answer is the accepted output's vectors once settled. Token arrays as
 * input and `dimensions` are refused with a 400 naming the field.
 */
import { MAX_EMBED_INPUTS } from '../../../protocols/prompt/index.ts'
import { abortOnDisconnect } from './context.ts'
import { ApiError, invalidParam, unsupportedParam } from './errors.ts'
import { taskHeaders, cortensorFields } from './openai.ts'
import { CallerGoneError, waitForResult } from './stream.ts'
import { asBody, MAX_REFERENCE_LENGTH, optString } from './validate.ts'
import type { RouterContext } from './context.ts'
import type { TaskRequest } from './validate.ts'
import type { TaskHandle } from '../../../client/types.ts'
import type { FastifyInstance } from 'fastify'

/** Longest text one input may be, in characters (the miner declines one longer than its embedding context in tokens). */
export const MAX_EMBED_INPUT_CHARS = 64 * 1024

/** The texts and options of an embeddings request. */
export function parseEmbeddingsRequest (body: unknown): TaskRequest & { embed: string[], base64: boolean } {
  const b = asBody(body)
  const model = optString(b, 'model', 256)
  if (model == null) {
    throw invalidParam('model', 'is required (GET /v1/models lists the models served now)', 'missing_required_parameter')
  }
  const input = b.input
  const list = typeof input === 'string' ? [input] : input
  if (input === undefined || input === null) {
    throw invalidParam('input', 'is required', 'missing_required_parameter')
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidParam('input', 'must be a string or a non-empty array of strings', 'invalid_type')
  }
  if (list.some(x => typeof x !== 'string')) {
    throw unsupportedParam('input', 'token arrays are not supported: give the texts as strings')
  }
  if (list.length > MAX_EMBED_INPUTS) {
    throw invalidParam('input', `at most ${MAX_EMBED_INPUTS} texts per request`)
  }
  list.forEach((t: string, i) => {
    if (t.length === 0 || t.length > MAX_EMBED_INPUT_CHARS) {
      throw invalidParam(`input[${i}]`, `must be 1 to ${MAX_EMBED_INPUT_CHARS} characters`)
    }
  })
  const format = b.encoding_format ?? 'float'
  if (format !== 'float' && format !== 'base64') {
    throw invalidParam('encoding_format', 'must be "float" or "base64"')
  }
  if (b.dimensions !== undefined && b.dimensions !== null) {
    throw unsupportedParam('dimensions', 'the model\'s vectors are returned at their own size; shortening them is not supported')
  }
  const user = optString(b, 'user', MAX_REFERENCE_LENGTH)
  const embed = list as string[]
  // one token of budget: an embedding task generates nothing (its price is one token per miner)
  return { prompt: embed.join('\n'), embed, base64: format === 'base64', model, stream: false, includeUsage: false, maxTokens: 1, params: { maxTokens: 1, ...(user != null ? { clientReference: user } : {}) } }
}

/** A vector as OpenAI's base64 encoding: little-endian float32. */
function base64Vector (v: number[]): string {
  return Buffer.from(Float32Array.from(v).buffer).toString('base64')
}

export function registerEmbeddingRoutes (app: FastifyInstance, ctx: RouterContext): void {
  app.post('/v1/embeddings', { bodyLimit: ctx.options.bodyLimitBytes }, async (req, reply) => {
    const treq = parseEmbeddingsRequest(req.body)
    const admission = ctx.admit(treq)
    const disconnect = abortOnDisconnect(reply)
    let handle: TaskHandle | undefined
    try {
      const principal = ctx.principal(req)
      const model = await ctx.resolveModel(principal, treq.model)
      handle = await admission.submit(principal, disconnect.signal)
      const result = await waitForResult(handle, ctx.options.resultTimeoutMs, disconnect.signal)
      const vectors = result.embeddings
      if (vectors == null || vectors.length !== treq.embed.length) {
        throw new ApiError(502, 'bad_output', `task ${result.taskId} settled without ${treq.embed.length} embedding vectors`)
      }
      reply.headers(taskHeaders(handle))
      return {
        object: 'list',
        data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: treq.base64 ? base64Vector(v) : v })),
        model,
        usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
        cortensor: cortensorFields(result)
      }
    } catch (err) {
      if (err instanceof CallerGoneError) {
        handle?.cancel()
        return await reply.hijack()
      }
      if (err instanceof ApiError && err.status === 504) {
        handle?.cancel()
      }
      throw err
    } finally {
      disconnect.dispose()
      admission.release()
    }
  })
}
