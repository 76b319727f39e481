/** Defaults of the chain layer. Times in seconds as the contract counts them (block timestamps). */

/** Deployment rules (HubBase.Config). Devnet values; a public deployment picks its own. */
export const DEFAULT_MIN_STAKE_WEI = 10n ** 16n // 0.01 ETH: small enough for anvil's 10k ETH test accounts
export const DEFAULT_UNSTAKE_COOLDOWN_S = 3600 // an hour to prove fraud after a node leaves
export const DEFAULT_LEADER_WINDOW_S = 60 // one leader turn; Cortensor rotates oracles per minute-scale window
export const DEFAULT_HEARTBEAT_TIMEOUT_S = 30 // three missed 10 s heartbeats
export const DEFAULT_QUEUE_TIMEOUT_S = 300 // a task nobody assigned for 5 min can be expired
export const DEFAULT_PRECOMMIT_WINDOW_S = 120 // generation of a few hundred tokens on CPU fits in 2 min
export const DEFAULT_SETTLE_TIMEOUT_S = 1800 // the leader has 30 min to settle before the deposit frees
export const DEFAULT_REPLAY_QUORUM = 2 // two oracles must agree a replay failed
export const DEFAULT_SLASH_BPS = 1000 // 10 % of stake per proven fraud

/** Roles bitmask (NodeRegistry). */
export const ROLE_MINER = 1
export const ROLE_ORACLE = 2
export const ROLE_ROUTER = 4
export const ROLE_BOOTSTRAP = 8

/** Task status (TaskQueue). */
export const TASK_STATUS = ['none', 'queued', 'assigned', 'settled', 'expired'] as const
export type TaskStatusName = typeof TASK_STATUS[number]

/** Verdicts a settlement carries per miner (Settlement). */
export const VERDICT_MISSED = 0
export const VERDICT_HONEST = 1
export const VERDICT_FAULTY = 2

/** Polling for receipts: anvil mines instantly; 50 ms keeps tests fast without busy looping. */
export const RECEIPT_POLL_MS = 50

/** Anvil start-up: ready in 65–100 ms here (STACK-FACTS §6); 15 s leaves room on a loaded machine. */
export const ANVIL_START_TIMEOUT_MS = 15_000
/** Wait after unwatching viem watchers before killing anvil (STACK-FACTS §6). */
export const ANVIL_UNWATCH_GRACE_MS = 200
export const ANVIL_CHAIN_ID = 31337
