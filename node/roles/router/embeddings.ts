/**
 * `POST /v1/embeddings`, OpenAI-shaped: `input` (a string or an array of
 * strings), `model`, optional `encoding_format` (`float` or `base64`) and
 * `user`. The texts become an embedding task (`{ embed: [...] }`) that goes
 * through the queue like any task: redundant miners compute the vectors with
 * the model, the oracles settle it (and replay it when sampled), and the
 * answer is the accepted output's vectors once settled. Token arrays as
 * input and `dimensions` are refused with a 400 naming the field.
 */
import { checkBody } from './check.ts'
import { abortOnDisconnect } from './context.ts'
import { ApiError } from './errors.ts'
import { taskHeaders, cortensorFields } from './openai.ts'
import { CallerGoneError, waitForResult } from './stream.ts'
import { routerBodies } from './validate.ts'
import type { Body } from './check.ts'
import type { RouterContext } from './context.ts'
import type { ResolvedRouterOptions } from './options.ts'
import type { TaskRequest } from './validate.ts'
import type { TaskHandle } from '../../../client/types.ts'
import type { FastifyInstance } from 'fastify'

export { MAX_EMBED_INPUT_CHARS } from './schemas.ts'

/** The texts and options of an embeddings request. */
export function parseEmbeddingsRequest (body: unknown, o: ResolvedRouterOptions): TaskRequest & { embed: string[], base64: boolean } {
  return embeddingsTask(checkBody(routerBodies(o).embeddings, body))
}

/** A checked embeddings body → its task. */
export function embeddingsTask (b: Body): TaskRequest & { embed: string[], base64: boolean } {
  const embed = typeof b.input === 'string' ? [b.input] : b.input as string[]
  const user = b.user as string | null | undefined
  // one token of budget: an embedding task generates nothing (its price is one token per miner)
  return { prompt: embed.join('\n'), embed, base64: b.encoding_format === 'base64', model: b.model as string, stream: false, includeUsage: false, maxTokens: 1, params: { maxTokens: 1, ...(user != null ? { clientReference: user } : {}) } }
}

/** A vector as OpenAI's base64 encoding: little-endian float32. */
function base64Vector (v: number[]): string {
  return Buffer.from(Float32Array.from(v).buffer).toString('base64')
}

export function registerEmbeddingRoutes (app: FastifyInstance, ctx: RouterContext): void {
  app.post('/v1/embeddings', { bodyLimit: ctx.options.bodyLimitBytes, schema: { body: routerBodies(ctx.options).embeddings.schema } }, async (req, reply) => {
    const treq = embeddingsTask(req.body as Body)
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
