/**
 * Typed errors of the inference engine: one class per failure, identified by `name`.
 */

/** The file does not start with the GGUF magic bytes. */
export class GgufBadMagicError extends Error {
  static name = 'GgufBadMagicError'

  constructor (path: string) {
    super(`${path} is not a GGUF file (wrong magic bytes)`)
    this.name = 'GgufBadMagicError'
  }
}

/** The file ends before its header or tensor data does. */
export class GgufTruncatedError extends Error {
  static name = 'GgufTruncatedError'

  constructor (path: string, detail: string) {
    super(`${path} is truncated: ${detail}`)
    this.name = 'GgufTruncatedError'
  }
}

/** The header could not be parsed (bad version, bad value type, garbage). */
export class GgufMalformedError extends Error {
  static name = 'GgufMalformedError'

  constructor (path: string, detail: string) {
    super(`${path} is not a valid GGUF file: ${detail}`)
    this.name = 'GgufMalformedError'
  }
}

/** A tensor the architecture needs is not in the file. */
export class GgufMissingTensorError extends Error {
  static name = 'GgufMissingTensorError'
  readonly tensor: string

  constructor (path: string, tensor: string) {
    super(`${path} lacks tensor ${tensor}`)
    this.name = 'GgufMissingTensorError'
    this.tensor = tensor
  }
}

/** A metadata key the architecture needs is not in the file. */
export class GgufMissingKeyError extends Error {
  static name = 'GgufMissingKeyError'
  readonly key: string

  constructor (path: string, key: string) {
    super(`${path} lacks metadata key ${key}`)
    this.name = 'GgufMissingKeyError'
    this.key = key
  }
}

/** llama.cpp refused a file that passed our own checks. */
export class ModelLoadError extends Error {
  static name = 'ModelLoadError'

  constructor (path: string, detail: string) {
    super(`llama.cpp could not load ${path}: ${detail}`)
    this.name = 'ModelLoadError'
  }
}

/** The model file does not exist or cannot be read. */
export class ModelNotFoundError extends Error {
  static name = 'ModelNotFoundError'

  constructor (path: string) {
    super(`model file ${path} does not exist or is not readable`)
    this.name = 'ModelNotFoundError'
  }
}

/** All sequences are busy and the wait queue is at its bound. */
export class QueueFullError extends Error {
  static name = 'QueueFullError'

  constructor (maxQueued: number) {
    super(`inference queue is full (${maxQueued} waiting)`)
    this.name = 'QueueFullError'
  }
}

/** The caller's signal aborted the generation (or its wait for a sequence). */
export class GenerationAbortedError extends Error {
  static name = 'GenerationAbortedError'

  constructor () {
    super('generation aborted')
    this.name = 'GenerationAbortedError'
  }
}

/** The engine was closed. */
export class EngineClosedError extends Error {
  static name = 'EngineClosedError'

  constructor () {
    super('inference engine is closed')
    this.name = 'EngineClosedError'
  }
}

/** Generation or replay parameters out of range; the message names the parameter. */
export class InvalidParamsError extends Error {
  static name = 'InvalidParamsError'
  readonly param: string

  constructor (param: string, reason: string) {
    super(`${param}: ${reason}`)
    this.name = 'InvalidParamsError'
    this.param = param
  }
}

/** Prompt plus output do not fit in the context. */
export class ContextOverflowError extends Error {
  static name = 'ContextOverflowError'

  constructor (needed: number, available: number) {
    super(`needs ${needed} tokens of context, the engine has ${available}`)
    this.name = 'ContextOverflowError'
  }
}

/** The model's chat template cannot render these messages (a template that refuses a role order, say). */
export class ChatTemplateError extends Error {
  static name = 'ChatTemplateError'
  readonly template: string

  constructor (template: string, reason: string) {
    super(`the model's chat template (${template}) cannot render these messages: ${reason}`)
    this.name = 'ChatTemplateError'
    this.template = template
  }
}

/** The GPU backend asked for has no usable llama.cpp binary or device on this machine. */
export class GpuUnavailableError extends Error {
  static name = 'GpuUnavailableError'
  readonly backend: string
  /** the backends that do work here ('cpu' for none) */
  readonly available: string[]

  constructor (backend: string, available: string[], detail?: string) {
    super(`the ${backend} backend is not available on this machine${detail != null ? ` (${detail})` : ''}; available here: ${available.join(', ')}`)
    this.name = 'GpuUnavailableError'
    this.backend = backend
    this.available = available
  }
}

/** A GGUF file being written would not match its own header (a tensor not at the offset the header gives it). */
export class GgufLayoutError extends Error {
  static name = 'GgufLayoutError'

  constructor (tensor: string, at: number, expected: number) {
    super(`internal: ${tensor} at ${at}, expected ${expected}`)
    this.name = 'GgufLayoutError'
  }
}
