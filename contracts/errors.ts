/**
 * Typed errors of the chain layer. A revert of the hub becomes a ContractRuleError whose `rule` is the
 * Solidity custom error name and whose message says in words which rule was broken.
 */
import { BaseError, ContractFunctionRevertedError } from 'viem'
import type { cortensorHubAbi } from './generated/cortensorHub.ts'

type HubAbiError = Extract<(typeof cortensorHubAbi)[number], { type: 'error' }>
export type HubRule = HubAbiError['name']

const s = (v: unknown): string => String(v)

/** One readable sentence per rule; the compiler insists on an entry for every error in the ABI. */
const RULES: Record<HubRule, (a: readonly unknown[]) => string> = {
  NotOwner: a => `only the deployer may do this (caller ${s(a[0])})`,
  NotLeader: a => `only the current leader oracle ${s(a[1])} may assign and settle (caller ${s(a[0])})`,
  ZeroAddress: () => 'the zero address is not allowed',
  ZeroValue: () => 'the transaction must carry value',
  PaymentFailed: a => `payment of ${s(a[1])} wei to ${s(a[0])} failed`,
  InvalidConfig: a => `deployment config field ${s(a[0])} is out of range`,
  NotOracle: a => `${s(a[0])} is not a registered oracle`,
  OracleExists: a => `${s(a[0])} is already an oracle`,
  TooManyOracles: a => `the oracle set is full (${s(a[0])} max)`,
  NoLiveOracle: () => 'no oracle has sent a heartbeat within the timeout',
  AlreadyRegistered: a => `node ${s(a[0])} is already registered`,
  NotRegistered: a => `node ${s(a[0])} is not registered`,
  InvalidRoles: a => `roles bitmask ${s(a[0])} is empty or has unknown bits`,
  NoModels: () => 'a miner must serve at least one model',
  TooManyModels: a => `${s(a[0])} models given, at most ${s(a[1])} allowed`,
  InvalidModel: () => 'model id must be the non-zero sha256 of the GGUF file',
  StakeTooLow: a => `stake ${s(a[0])} wei is below the minimum ${s(a[1])} wei`,
  UnstakePending: a => `node ${s(a[0])} is leaving; its stake unlocks at ${s(a[1])}`,
  UnstakeNotRequested: a => `node ${s(a[0])} must request unstake before withdrawing`,
  CooldownNotOver: a => `unstake cooldown of ${s(a[0])} ends at ${s(a[1])}`,
  NothingToWithdraw: a => `${s(a[0])} has nothing to withdraw`,
  InvalidRedundancy: a => `redundancy ${s(a[0])} must satisfy 1 ≤ minMiners (${s(a[1])}) ≤ redundancy ≤ maxMiners (${s(a[2])}) ≤ 16`,
  InvalidValidationMode: a => `validation mode ${s(a[0])} is unknown (0 structural, 1 embedding, 2 replay)`,
  InvalidSlaClass: a => `SLA class ${s(a[0])} is unknown (0–3)`,
  InvalidReservePeriod: () => 'reserve period must be positive',
  InvalidMaxTasks: () => 'max tasks must be positive',
  InvalidPrice: () => 'price per token must be positive',
  UnknownSession: a => `session ${s(a[0])} does not exist`,
  NotSessionOwner: a => `${s(a[1])} does not own session ${s(a[0])}`,
  SessionIsClosed: a => `session ${s(a[0])} is closed`,
  SessionHasOpenTasks: a => `session ${s(a[0])} still reserves ${s(a[1])} wei for open tasks; settle or expire them first`,
  SessionExpired: a => `session ${s(a[0])} reserve period ended at ${s(a[1])}`,
  SessionTaskLimit: a => `session ${s(a[0])} reached its limit of ${s(a[1])} tasks`,
  InsufficientDeposit: a => `session ${s(a[0])} needs ${s(a[1])} wei for this task but has ${s(a[2])} wei available`,
  InvalidMaxTokens: () => 'max tokens must be positive',
  InvalidPromptDigest: () => 'prompt digest must be non-zero',
  EmptySubmitBatch: () => 'a batch of tasks must hold at least one task',
  SubmitBatchLengthMismatch: a => `a batch of tasks gives ${s(a[0])} prompt digests but ${s(a[1])} parameter sets`,
  SubmitBatchTooLarge: a => `${s(a[0])} tasks in one batch, at most ${s(a[1])} allowed`,
  UnknownTask: a => `task ${s(a[0])} does not exist`,
  TaskNotQueued: a => `task ${s(a[0])} is not queued (status ${s(a[1])})`,
  TaskNotAssigned: a => `task ${s(a[0])} is not assigned (status ${s(a[1])})`,
  TaskAlreadySettled: a => `task ${s(a[0])} is already settled`,
  TaskNotOpen: a => `task ${s(a[0])} is neither queued nor assigned (status ${s(a[1])})`,
  WrongMinerCount: a => `task ${s(a[0])} needs ${s(a[1])} miners, got ${s(a[2])}`,
  MinerNotEligible: a => `miner ${s(a[1])} cannot take task ${s(a[0])} (not registered, leaving, under-staked or not serving the model)`,
  DuplicateMiner: a => `miner ${s(a[1])} appears twice for task ${s(a[0])}`,
  AssignmentMismatch: a => `the miners given for task ${s(a[0])} are not the assigned ones`,
  InvalidMinerIndex: a => `index ${s(a[1])} is outside task ${s(a[0])}'s assignment`,
  DeadlineNotPassed: a => `task ${s(a[0])}'s deadline ${s(a[1])} has not passed`,
  MalformedBatch: a => `settlement data for task ${s(a[0])} is shorter than its session's redundancy requires`,
  InvalidVerdict: a => `verdict ${s(a[2])} for miner ${s(a[1])} on task ${s(a[0])} is unknown`,
  InvalidPrecommitSignature: a => `miner ${s(a[1])} did not sign this precommit for task ${s(a[0])}`,
  InvalidRevealSignature: a => `miner ${s(a[1])} did not sign this reveal for task ${s(a[0])}`,
  TokensExceedMax: a => `miner ${s(a[1])} claims ${s(a[2])} tokens on task ${s(a[0])}, above max ${s(a[3])}`,
  NotContradictory: a => `miner ${s(a[1])}'s reveal matches its precommit on task ${s(a[0])}: no fraud`,
  AlreadySlashed: a => `miner ${s(a[1])} was already slashed for task ${s(a[0])}`,
  NothingToSlash: a => `miner ${s(a[0])} has no stake to slash`,
  TooManySignatures: a => `${s(a[0])} oracle signatures given, at most ${s(a[1])}`,
  OracleSignersNotSorted: a => `oracle signatures for task ${s(a[0])} must come from distinct oracles in increasing address order`,
  QuorumNotReached: a => `task ${s(a[0])}: ${s(a[1])} oracle signatures, quorum is ${s(a[2])}`
}

/** The hub refused a call; `rule` names the broken rule (the Solidity custom error). */
export class ContractRuleError extends Error {
  static name = 'ContractRuleError'
  readonly rule: HubRule
  readonly args: readonly unknown[]

  constructor (rule: HubRule, args: readonly unknown[], options?: ErrorOptions) {
    super(`${RULES[rule](args)} (${rule})`, options)
    this.name = 'ContractRuleError'
    this.rule = rule
    this.args = args
  }
}

/** A transaction was mined but reverted without a decodable reason. */
export class TransactionRevertedError extends Error {
  static name = 'TransactionRevertedError'

  constructor (hash: string) {
    super(`transaction ${hash} reverted`)
    this.name = 'TransactionRevertedError'
  }
}

/** A receipt lacks the event the action needs to return its result. */
export class EventNotFoundError extends Error {
  static name = 'EventNotFoundError'

  constructor (eventName: string, hash: string) {
    super(`event ${eventName} not found in transaction ${hash}`)
    this.name = 'EventNotFoundError'
  }
}

export class AnvilNotFoundError extends Error {
  static name = 'AnvilNotFoundError'

  constructor (tried: string[]) {
    super(`anvil binary not found (tried ${tried.join(', ')}); install @foundry-rs/anvil or set ANVIL_BIN`)
    this.name = 'AnvilNotFoundError'
  }
}

export class AnvilStartError extends Error {
  static name = 'AnvilStartError'

  constructor (reason: string) {
    super(`anvil did not start: ${reason}`)
    this.name = 'AnvilStartError'
  }
}

export class DeploymentFileError extends Error {
  static name = 'DeploymentFileError'

  constructor (path: string, reason: string) {
    super(`deployment file ${path}: ${reason}`)
    this.name = 'DeploymentFileError'
  }
}

/** Turn a viem error from a hub call into a ContractRuleError when it carries a custom error. */
export function decodeHubError (err: unknown): unknown {
  if (err instanceof BaseError) {
    const reverted = err.walk(e => e instanceof ContractFunctionRevertedError)
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName != null && reverted.data.errorName in RULES) {
      return new ContractRuleError(reverted.data.errorName as HubRule, reverted.data.args ?? [], { cause: err })
    }
  }
  return err
}
