/**
 * `cortensor-mesh/node`: run a node from code, as `cortensor node start` does.
 *
 * ```ts
 * import { CortensorNode, resolveConfig, roleAttachment } from 'cortensor-mesh/node'
 * const config = await resolveConfig({ flags: { role: ['miner'], model: './m.gguf', dataDir: './miner' } })
 * const node = new CortensorNode(config, { attach: roleAttachment() })
 * await node.start()
 * ```
 *
 * Node only (filesystem stores, llama.cpp, HTTP servers).
 */
export { CortensorNode, createNode } from './node.ts'
export type { HealthReport, NodeAttachment, NodeEvents, NodeOptions } from './node.ts'
export { ConfigError, CONFIG_ENV_VARS, readConfigFile, resolveConfig } from './config.ts'
export type { ConfigSources, NodeConfig, RawConfig } from './config.ts'
export { ROLES, DEFAULT_NETWORK } from './constants.ts'
export type { Role } from './constants.ts'
export { PAGE_PREFIX, roleAttachment } from './roles/run.ts'
export { KEY_FILE_NAME, KeyFileMalformedError, KeyFileUnreadableError, generatePrivateKey, identityFromHex, loadOrCreateIdentity, readKeyFile, writeKeyFile } from './identity.ts'
export type { Identity } from './identity.ts'
export { DEFAULT_DEVNET_ROLES, startDevnet } from './devnet.ts'
export type { Devnet, DevnetInit } from './devnet.ts'
export * from './roles/router/index.ts'
export { generateModel, inspectGguf, modelIdOf, PRESET_NAMES } from './inference/index.ts'
export type { GgufSummary, PresetName } from './inference/index.ts'
