/**
 * The package entry, `import { createTaskClient } from 'cortensor-mesh'`: the
 * client SDK and what an app needs around it to pay for tasks on chain (the
 * chain context and the session actions). Browser-safe like client/: it runs
 * in Node and in browser bundles alike.
 *
 * Other entry points: `cortensor-mesh/node` (run a node from code),
 * `cortensor-mesh/contracts` (the whole chain layer, Node), `cortensor-mesh/browser`
 * (the browser light client) and `cortensor-mesh/browser/direct` (the light
 * client paying from its own wallet).
 */
export * from './client/index.ts'
export { createChainContext, watchHub, settledTaskIds } from './contracts/context.ts'
export type { ChainContext, ChainContextInit, HubLog, HubWatcher } from './contracts/context.ts'
export * from './contracts/actions/sessions.ts'
export type { HubTarget, HubWalletClient, HubWriteResult } from './contracts/actions/send.ts'
export { ContractRuleError, TransactionRevertedError, EventNotFoundError, decodeHubError } from './contracts/errors.ts'
export type { HubRule } from './contracts/errors.ts'
