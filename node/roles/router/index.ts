/**
 * The router node: an OpenAI-compatible and Cortensor-style HTTP/SSE/WebSocket
 * front door that submits every request through a `TaskClient`.
 */
export { createRouter, routerPlugin } from './app.ts'
export type { RouterInit } from './app.ts'
export { ApiError, toApiError } from './errors.ts'
export type { ApiErrorBody, ApiErrorType } from './errors.ts'
export { KeyStore, KeyStoreFileError, UnknownKeyError, hashKey, keyFilePath } from './keys.ts'
export type { ApiKeyRecord, CreateKeyOptions } from './keys.ts'
export { resolveRouterOptions } from './options.ts'
export type { RouterOptions } from './options.ts'
export { renderChat } from './prompt.ts'
export { startRouterRole } from './role.ts'
export type { RouterNode, RouterRole, RouterRoleOptions } from './role.ts'
