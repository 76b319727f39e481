import { DEFAULT_PENALTY_REWARDS, DEFAULT_REDUNDANCY, DEFAULT_SAMPLE_RATE, TASK_REWARD_UNITS } from '../protocols/policy/constants.ts'

/**
 * Defaults and cost model of the sampling simulation. Costs are in units of
 * one task reward (the reward is 1).
 */

/** Generation cost of an honest result: a miner keeps 40 % of the reward as margin (assumption, tune per network). */
export const COST_INFERENCE = 0.6
/** Cost of a cheap fake output (a canned or truncated answer). */
export const COST_CHEAP = 0.05
/** Cost of running a smaller model than the one asked for. */
export const COST_WRONG_MODEL = 0.3
/** Replay check cost relative to a generation: one prefill pass (DESIGN §3: "cost ≈ prefill"); prefill of n tokens runs ~10× faster than decoding them on CPU. */
export const COST_REPLAY = 0.1
/** Embedding of one output relative to a generation (one small prefill). */
export const COST_EMBEDDING = 0.02
/** How long a miner stays reserved for one task (s): a few hundred tokens at ~20 tokens/s plus commit-reveal. */
export const TASK_DURATION_S = 30
/** Chain value (block) period for seeds (s); a new beacon every block. */
export const BLOCK_TIME_S = 2
/** Range of miner speeds (tokens/s), uniform. */
export const MIN_TOKENS_PER_SEC = 10
export const MAX_TOKENS_PER_SEC = 40

export const STRATEGIES = ['honest', 'lazy', 'wrong-model', 'copier', 'colluding', 'sybil'] as const
export type Strategy = typeof STRATEGIES[number]

export const DEFAULT_SCENARIO = {
  nodes: 100_000,
  days: 1,
  tasksPerNodePerDay: 1,
  seed: 1,
  /** the network's defaults (protocols/policy/constants.ts) */
  sampleRate: DEFAULT_SAMPLE_RATE,
  redundancy: DEFAULT_REDUNDANCY,
  penalty: DEFAULT_PENALTY_REWARDS,
  reward: TASK_REWARD_UNITS,
  escalateOnDisagreement: true,
  commitReveal: true,
  malicious: 0.1,
  strategy: 'lazy' as Strategy,
  /** fraction of nodes per cheating strategy; when set, replaces malicious/strategy */
  mix: undefined as Partial<Record<Exclude<Strategy, 'honest'>, number>> | undefined,
  /** probability a lazy miner fakes a given task (q) */
  lazyProbability: 0.5,
  /** probability a wrong model's output lands in the honest embedding cluster */
  wrongModelSimilar: 0.5,
  /** colluders per group; 0 = all colluders form one group */
  collusionGroupSize: 0,
  /** stake of a normal miner, in rewards */
  stake: 1000,
  /** stake of a sybil identity, in rewards */
  sybilStake: 5,
  /** fraction of identities replaced per day (leave + join fresh) */
  churnPerDay: 0
}
