/**
 * The page's two ways to send a prompt, with what each shows as it goes:
 * to a router (API key, OpenAI-style streaming) or directly against the
 * wallet's session; either ends with the settlement checked on chain when
 * the page knows the chain (rpc) and the hub.
 */
import { streamChatCompletion } from './chat.ts'
import { $, renderInfo, renderVerification, resetResult, text } from './page-view.ts'
import { verifySettlement } from './verify.ts'
import type { ChatResult, CortensorInfo } from './chat.ts'
import type { PageConfig } from './config.ts'
import type { DirectClient } from './direct.ts'
import type { VerifyResult } from './verify.ts'

/** A prompt's answer as the page shows it: the router's result and, when the page knows the chain, its check there. */
export interface PageSubmitResult extends ChatResult {
  /** the light verification of the settlement (absent without `rpc` and `hub`, or when the task did not settle) */
  verification?: VerifyResult
}

export interface RouterSubmit {
  router: string
  prompt: string
  model?: string
  /** empty: none */
  apiKey: string
  signal: AbortSignal
  config: PageConfig
}

export interface DirectSubmit {
  direct: DirectClient
  sessionId: bigint
  modelId: string
  prompt: string
  maxTokens?: number
  signal: AbortSignal
  config: PageConfig
}

/** Check a settled result on chain when the page knows the chain (rpc) and the hub; shows the outcome. */
export async function verifyResult (config: PageConfig, result: ChatResult): Promise<VerifyResult | undefined> {
  const info = result.cortensor
  if (!result.settled || info.txHash == null || info.outputCid == null || info.taskId == null) {
    renderVerification('skipped', 'not checked: the task did not settle')
    return undefined
  }
  if (config.rpc == null || config.hub == null) {
    renderVerification('skipped', 'not checked: give the chain RPC (rpc=) and the hub (hub=) to verify on chain')
    return undefined
  }
  renderVerification('checking', 'checking on chain…')
  const verification = await verifySettlement({
    rpc: config.rpc,
    hub: config.hub,
    taskId: String(info.taskId),
    outputCid: String(info.outputCid),
    txHash: String(info.txHash),
    ...(info.miners != null ? { miners: info.miners } : {})
  })
  renderVerification(verification.ok ? 'verified' : 'failed', verification.ok ? 'verified on chain' : verification.summary, verification)
  return verification
}

/** Send a prompt to the router, stream its answer, then verify the settlement on chain. */
export async function submitToRouter (req: RouterSubmit): Promise<PageSubmitResult> {
  resetResult()
  $<HTMLButtonElement>('submit-button').disabled = true
  $<HTMLButtonElement>('cancel-button').disabled = false
  text('result-status', 'submitting')
  const tokens = $('tokens')
  try {
    const result = await streamChatCompletion({
      router: req.router,
      prompt: req.prompt,
      ...(req.model != null && req.model !== '' ? { model: req.model } : {}),
      ...(req.apiKey !== '' ? { apiKey: req.apiKey } : {}),
      signal: req.signal
    }, {
      onToken: (t) => { tokens.append(t) },
      onInfo: renderInfo
    })
    renderInfo({ ...result.cortensor, status: result.cortensor.status ?? (result.settled ? 'settled' : 'done') })
    const first = result.firstTokenMs != null ? `first token ${Math.round(result.firstTokenMs)} ms, ` : ''
    const settled = result.settled ? `, settled after ${Math.round(result.totalMs)} ms` : ''
    text('result-timing', `${first}last token ${Math.round(result.streamMs)} ms${settled}, ${result.chunks} tokens`)
    const verification = await verifyResult(req.config, result)
    return { ...result, ...(verification != null ? { verification } : {}) }
  } catch (err: any) {
    text('result-status', `failed: ${err.message}`)
    throw err
  } finally {
    $<HTMLButtonElement>('submit-button').disabled = false
    $<HTMLButtonElement>('cancel-button').disabled = true
  }
}

/** Submit a prompt against the wallet's session, stream the tokens, then verify the settlement on chain; `onVerified` runs before the form is released. */
export async function submitDirectly (req: DirectSubmit, onVerified: (verification: VerifyResult | undefined) => Promise<void>): Promise<PageSubmitResult> {
  const { direct, sessionId, modelId, prompt, maxTokens } = req
  resetResult()
  $<HTMLButtonElement>('submit-button').disabled = true
  $<HTMLButtonElement>('cancel-button').disabled = false
  text('result-status', 'submitting')
  const tokens = $('tokens')
  const started = performance.now()
  try {
    const field = Number($<HTMLInputElement>('max-tokens').value)
    const handle = await direct.submit(prompt, { sessionId, modelId, maxTokens: maxTokens ?? (Number.isInteger(field) && field > 0 ? field : undefined), signal: req.signal })
    const info: CortensorInfo = { taskId: handle.taskId.toString(), sessionId: sessionId.toString(), status: 'queued' }
    renderInfo(info)
    handle.onUpdate((u) => {
      if (u.status !== 'settled') {
        info.status = u.status
        text('result-status', u.status)
      }
    })
    let firstTokenMs: number | undefined
    let chunks = 0
    try {
      for await (const t of handle.tokens) {
        firstTokenMs ??= performance.now() - started
        tokens.append(t.text)
        chunks++
      }
    } catch {
      // the token stream is a preview: the settled result below is what counts (and carries the error, if any)
    }
    const streamMs = performance.now() - started
    const r = await handle.result
    const settledInfo: CortensorInfo = { ...info, status: 'settled', outputCid: r.outputCid, miners: r.miners, txHash: r.txHash, submitTxHash: r.submitTxHash }
    renderInfo(settledInfo)
    if (chunks === 0) {
      // no miner could stream to this page: show the settled output instead
      tokens.textContent = r.text
    }
    const totalMs = performance.now() - started
    const first = firstTokenMs != null ? `first token ${Math.round(firstTokenMs)} ms, ` : ''
    text('result-timing', `${first}last token ${Math.round(streamMs)} ms, settled after ${Math.round(totalMs)} ms, ${r.completionTokens} tokens`)
    const result: ChatResult = {
      model: r.modelId,
      text: r.text,
      finishReason: r.finishReason,
      chunks,
      ...(firstTokenMs != null ? { firstTokenMs } : {}),
      streamMs,
      totalMs,
      settled: true,
      cortensor: settledInfo
    }
    const verification = await verifyResult(req.config, result)
    await onVerified(verification)
    return { ...result, ...(verification != null ? { verification } : {}) }
  } catch (err: any) {
    text('result-status', `failed: ${err.message}`)
    throw err
  } finally {
    $<HTMLButtonElement>('submit-button').disabled = false
    $<HTMLButtonElement>('cancel-button').disabled = true
  }
}
