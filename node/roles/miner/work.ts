/**
 * The miner's work on its tasks: each task's work machine
 * (protocols/miner/machine.ts) is stepped here and its effects carried out
 * in order: generation started, confirmed or dropped, the output stored and
 * precommitted, a decline, a reveal, the record stored, waiting token
 * streams woken. Also what is running, for the load the heartbeats tell.
 */
import { randomBytes } from 'node:crypto'
import { logger } from '@libp2p/logger'
import { bytesToHex, hexToBytes } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { signPrecommit } from '../../../contracts/index.ts'
import { Decline, StreamEnd, addressToBytes } from '../../../protocols/messages/index.ts'
import { commitmentOf, isSpeculative, step } from '../../../protocols/miner/machine.ts'
import { isEmbedInput, InvalidPromptError } from '../../../protocols/prompt/index.ts'
import { declineEvent, precommitEvent } from '../../../protocols/queue/wire.ts'
import { embeddingOutput, paidTokens } from '../shared/embedding-task.ts'
import { cidDigest, precommitHash, taskPrompt } from '../shared/records.ts'
import { TokenBuffer } from '../shared/stream.ts'
import { PROMPT_FETCH_TIMEOUT_MS } from './constants.ts'
import { TaskNotRunnableError, TooLateToPrecommitError } from './errors.ts'
import { checkRunnable, generateInto, generationParams } from './generation.ts'
import { settle, speculation } from './speculation.ts'
import { wake } from './tasks.ts'
import type { SessionReservation } from './reservation.ts'
import type { MinerCounts } from './stats.ts'
import type { MinerTasks } from './tasks.ts'
import type { CommitmentFields, MinerBehaviour, MinerRoleInit, MinerTask } from './types.ts'
import type { Precommit, TaskQueued } from '../../../protocols/messages/index.ts'
import type { MinerWorkEffect, MinerWorkEvent, NotRunnable } from '../../../protocols/miner/types.ts'
import type { PromptInput } from '../../../protocols/prompt/index.ts'
import type { InferenceEngine } from '../../inference/index.ts'
import type { OutputDoc } from '../shared/records.ts'
import type { Hex } from 'viem'

const log = logger('cortensor:miner')

const bytes = (hex: Hex): Uint8Array<ArrayBuffer> => Uint8Array.from(hexToBytes(hex))

export type PublishKind = 'ack' | 'decline' | 'precommit' | 'reveal'

export interface MinerWorkComponents {
  settings: Pick<MinerRoleInit, 'node' | 'domain' | 'engine'>
  /** the model id the main engine is advertised as */
  modelId: string
  /** the miner's address, lower case */
  address: string
  tasks: MinerTasks
  reservation: Pick<SessionReservation, 'reserveFor'>
  behaviour: MinerBehaviour
  counts: MinerCounts
  /** the role's lifetime */
  signal: AbortSignal
  /** the engine of the task's model (undefined: a model this miner does not serve) */
  engineOf(m: Pick<TaskQueued, 'params'>): InferenceEngine | undefined
  publish(kind: PublishKind, message: unknown): Promise<void>
  say(line: string): void
  /** the work running changed (a heartbeat may tell) */
  onLoadChange(): void
}

export class MinerWork {
  private readonly c: MinerWorkComponents
  private active = 0
  /** tasks at work per model (each engine has its own sequences) */
  private readonly activeByModel = new Map<string, number>()
  private readonly running = new Set<MinerTask>()

  constructor (components: MinerWorkComponents) {
    this.c = components
  }

  /** Tasks this miner works on now. */
  get load (): number {
    return this.active
  }

  /**
   * Tasks running that an assignment gave this miner: what heartbeats
   * advertise as load. Work started on the miner's own draw is left out
   * until confirmed: it is dropped as soon as the assignment names others,
   * and counting it would keep the miner out of the very draw it guessed.
   */
  get committedLoad (): number {
    let n = 0
    for (const t of this.running) {
      if (!isSpeculative(t.record.work)) {
        n++
      }
    }
    return n
  }

  /** Tasks at work on the model of `m`. */
  activeOn (m: Pick<TaskQueued, 'params'>): number {
    return this.activeByModel.get(m.params?.modelId ?? '') ?? 0
  }

  /** Step the task's work machine (IllegalMinerEventError if its phase cannot take `event`) and carry out the effects. */
  async handle (task: MinerTask, event: MinerWorkEvent): Promise<void> {
    const next = step(task.record.work, event)
    task.record.work = next.state
    for (const effect of next.effects) {
      await this.execute(task, effect)
    }
  }

  private async execute (task: MinerTask, effect: MinerWorkEffect): Promise<void> {
    switch (effect.type) {
      case 'start-work':
        this.startWork(task, effect.speculative)
        return
      case 'confirm-work':
        this.settleRun(task, true)
        return
      case 'drop-work':
        this.settleRun(task, false)
        return
      case 'decline':
        await this.decline(task, effect.cause)
        return
      case 'persist':
        await this.c.tasks.persist(task)
        return
      case 'resend-precommit':
        await this.resendPrecommit(task, effect.toQueue)
        return
      case 'reveal':
        await this.reveal(task)
        return
      default:
        wake(task)
    }
  }

  /** Confirm the work started on the miner's own draw, or drop it. */
  private settleRun (task: MinerTask, assigned: boolean): void {
    const run = task.run
    const s = run?.speculation
    if (run == null || s == null) {
      return
    }
    run.speculation = undefined
    settle(s, assigned)
    if (assigned) {
      this.c.counts.speculated('confirmed')
      this.c.reservation.reserveFor(task.queued.sessionId)
      this.c.onLoadChange()
    } else {
      this.c.counts.speculated('dropped')
      log('task %s: not assigned to this miner: work started on its own draw dropped', task.queued.taskId)
      run.abort.abort()
      run.buffer = undefined
    }
  }

  private startWork (task: MinerTask, speculative: boolean): void {
    if (speculative) {
      this.c.counts.speculated('started')
      log('task %s: started on this miner\'s own draw', task.queued.taskId)
    } else {
      this.c.reservation.reserveFor(task.queued.sessionId)
    }
    const abort = new AbortController()
    const buffer = new TokenBuffer()
    const wait = speculative
      ? speculation(this.c.signal, () => {
        if (task.run?.speculation === wait && isSpeculative(task.record.work)) {
          this.handle(task, { type: 'not-assigned' }).catch((err) => { log('task %s: %s', task.queued.taskId, err?.message) })
        }
      })
      : undefined
    task.run = { abort, buffer, speculation: wait }
    wake(task)
    const signal = abort.signal
    const model = task.queued.params?.modelId ?? ''
    this.active++
    this.activeByModel.set(model, (this.activeByModel.get(model) ?? 0) + 1)
    this.running.add(task)
    this.c.onLoadChange()
    void this.work(task, signal, buffer, wait?.decided)
      .catch((err) => {
        buffer.finish({ code: signal.aborted ? StreamEnd.Code.CANCELLED : StreamEnd.Code.ENGINE_ERROR, message: String(err?.message ?? err).slice(0, 200) })
        if (err instanceof TaskNotRunnableError) {
          this.c.counts.task(model, 'declined')
          this.c.say(`task ${task.queued.taskId}: cannot run: ${err.message}`)
          // declined once assigned (now, if it is; else when the assignment names this miner)
          const cause: NotRunnable = { reason: err.reason, message: err.message, promptTokens: err.promptTokens, contextTokens: err.contextTokens }
          this.c.tasks.enqueue(task, async () => { await this.handle(task, { type: 'not-runnable', cause }) })
        } else if (!signal.aborted) {
          this.c.counts.task(model, 'failed')
          this.c.say(`task ${task.queued.taskId}: generation failed: ${err?.message ?? err}`)
        }
      })
      .finally(() => {
        this.active--
        this.activeByModel.set(model, (this.activeByModel.get(model) ?? 1) - 1)
        this.running.delete(task)
        this.c.onLoadChange()
      })
  }

  /** Generate, store the output and precommit; work started on this miner's own draw waits for `assigned` first. */
  private async work (task: MinerTask, signal: AbortSignal, buffer: TokenBuffer, assigned?: Promise<boolean>): Promise<void> {
    const { node, domain } = this.c.settings
    const m = task.queued
    const taskId = m.taskId
    const engine = this.c.engineOf(m)
    if (engine == null) {
      throw new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, `this miner does not serve model ${m.params?.modelId ?? '(none)'}`, 0, 0)
    }
    const replaced = this.c.behaviour.replaceWork(taskId, signal)
    if (replaced != null) {
      // a copier generates nothing, so it has nothing to stream
      buffer.finish({ code: StreamEnd.Code.ENGINE_ERROR, message: 'no tokens' })
      const copy = await replaced
      if (copy != null) {
        await this.precommit(task, copy)
        this.c.say(`task ${taskId}: copied another miner's commitment`)
      }
      return
    }
    const prompt = await taskPrompt(node.libp2p, node.store, node.config.network, m, [task.from], AbortSignal.any([signal, AbortSignal.timeout(PROMPT_FETCH_TIMEOUT_MS)]))
      .catch((err) => {
        // a prompt document of neither shape: no miner can run the task
        throw err instanceof InvalidPromptError ? new TaskNotRunnableError(Decline.Reason.INVALID_PARAMS, String(err.message), 0, engine.contextSize) : err
      })
    const t0 = performance.now()
    const output = isEmbedInput(prompt)
      ? await embeddingOutput(engine, prompt, taskId.toString(), this.modelIdOf(engine), signal)
      : await this.generate(task, engine, prompt, signal, buffer)
    const ms = performance.now() - t0
    // the last tokens go out now, not after the output is stored and the assignment confirmed
    buffer.complete()
    const model = m.params?.modelId ?? ''
    if (assigned != null && !(await assigned)) {
      return
    }
    const outputCid = await node.store.putJson(output)
    buffer.finish({ tokenCount: output.tokens.length, outputCid: outputCid.bytes, promptTokens: output.promptTokens ?? 0 })
    const salt = bytesToHex(randomBytes(32))
    const outputDigest = cidDigest(outputCid)
    const commitment = precommitHash(domain, taskId, outputDigest, salt)
    const signature = await signPrecommit(privateKeyToAccount(node.peerIdentity.privateKey), domain, { taskId, outputDigest, salt })
    await this.precommit(task, { outputCid: outputCid.toString(), salt, commitment, signature, tokens: paidTokens(output) })
    if (output.embeddings == null) {
      this.c.counts.generated(model, output.tokens.length, ms)
    }
    this.c.say(`task ${taskId}: ${output.embeddings != null ? `embedded ${output.embeddings.length} texts` : `generated ${output.tokens.length} tokens`}, output ${outputCid}, precommitted`)
  }

  private modelIdOf (engine: InferenceEngine): string {
    return engine === this.c.settings.engine ? this.c.modelId : engine.modelId
  }

  /** A generation task's output document; a task no miner of the model can run (too long for the context, parameters the engine refuses) is declined. */
  private async generate (task: MinerTask, engine: InferenceEngine, prompt: PromptInput, signal: AbortSignal, buffer: TokenBuffer): Promise<OutputDoc> {
    const params = generationParams(task.queued)
    checkRunnable(engine, prompt, params)
    const result = await generateInto(engine, prompt, params, buffer, signal, this.c.behaviour)
    return {
      taskId: task.queued.taskId.toString(),
      modelId: this.modelIdOf(engine),
      text: result.text,
      tokens: result.tokens,
      finishReason: result.finishReason,
      promptTokens: result.promptTokens,
      ...(result.chatTemplate != null ? { chatTemplate: result.chatTemplate } : {})
    }
  }

  /**
   * Tell the submitter and the oracles that this miner cannot run the task it
   * is assigned (once per round); not assigned (yet): nothing to say.
   */
  private async decline (task: MinerTask, cause: NotRunnable): Promise<void> {
    const slot = this.c.tasks.slotOf(task)
    const work = task.record.work
    if (slot == null || (slot.status !== 'assigned' && slot.status !== 'acked') || (work.phase === 'unrunnable' && work.declinedRound === slot.round)) {
      return
    }
    await this.handle(task, { type: 'declined', round: slot.round })
    const decline: Decline = {
      taskId: task.queued.taskId,
      miner: addressToBytes(this.c.address as Hex),
      round: slot.round,
      reason: cause.reason,
      message: cause.message.slice(0, 256),
      promptTokens: cause.promptTokens,
      contextTokens: cause.contextTokens
    }
    await this.c.publish('decline', decline)
    // gossip does not deliver a node's own messages
    this.c.tasks.apply(task, declineEvent(decline))
    this.c.say(`task ${task.queued.taskId}: declined (round ${slot.round}): ${cause.message}`)
  }

  private precommitOf (task: MinerTask, r: Pick<CommitmentFields, 'commitment' | 'signature'>): Precommit {
    return { taskId: task.queued.taskId, miner: addressToBytes(this.c.address as Hex), commitment: bytes(r.commitment), signature: bytes(r.signature) }
  }

  /** Store the commitment and precommit, in the task's turn; TooLateToPrecommitError when its queue takes none from this miner now. */
  private async precommit (task: MinerTask, r: CommitmentFields): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.c.tasks.enqueue(task, async () => {
        try {
          const slot = this.c.tasks.slotOf(task)
          if (slot == null || (slot.status !== 'acked' && slot.status !== 'assigned')) {
            throw new TooLateToPrecommitError(slot?.status)
          }
          await this.handle(task, { type: 'committed', commitment: r })
          const msg = this.precommitOf(task, r)
          await this.c.publish('precommit', msg)
          this.c.tasks.apply(task, precommitEvent(msg))
          resolve()
        } catch (err) {
          reject(err)
        }
      })
    })
  }

  /** The stored precommit, gossiped again after a restart (a stop can lose what was just published; receivers drop the copies). */
  private async resendPrecommit (task: MinerTask, toQueue: boolean): Promise<void> {
    const c = commitmentOf(task.record.work)
    if (c == null) {
      return
    }
    const precommit = this.precommitOf(task, c as CommitmentFields)
    await this.c.publish('precommit', precommit)
    if (toQueue) {
      this.c.tasks.apply(task, precommitEvent(precommit))
    }
    this.c.say(`task ${task.queued.taskId}: precommit sent again after restart`)
  }

  private async reveal (task: MinerTask): Promise<void> {
    const c = commitmentOf(task.record.work)
    const taskId = task.queued.taskId
    const reveals = await this.c.behaviour.reveals(c?.outputCid != null && c.salt != null ? { taskId, outputCid: c.outputCid, salt: c.salt as Hex } : undefined, taskId)
    if (reveals.length === 0) {
      return
    }
    for (const reveal of reveals) {
      await this.c.publish('reveal', reveal)
    }
    await this.handle(task, { type: 'revealed' })
    this.c.say(`task ${taskId}: revealed`)
  }
}
