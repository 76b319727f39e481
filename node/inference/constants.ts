/**
 * Defaults of the inference engine. Units are in the names; each number says
 * where it came from (STACK-FACTS §9/§9b are the probe runs on the 2-core
 * dev machine, "bench" is bench/inference.bench.ts on the same machine).
 */

/**
 * Threads per context. STACK-FACTS §9b: llama.cpp's default picked 4 threads on
 * a 2-core machine (~4 tokens/s on the tiny model) while 1 thread gave ~2,300
 * tokens/s. bench/inference.bench.ts on the small preset (2 shared cores):
 * 1 thread 304 tok/s, 2 threads 53, 4 threads 0.34. Operators with idle cores
 * raise it (`threads` in the engine init).
 */
export const DEFAULT_THREADS = 1

/** Tokens of context per sequence when the model allows it (covers prompt + output of a typical task). */
export const DEFAULT_CONTEXT_SIZE_TOKENS = 2048

/** Batch size: llama.cpp's usual default; replay of prompt + output runs in batches of this many tokens. */
export const DEFAULT_BATCH_SIZE_TOKENS = 512

/** Parallel sequences in one context (concurrent generations sharing one loaded model). */
export const DEFAULT_SEQUENCES = 2

/** Generations allowed to wait for a free sequence before `QueueFullError`. */
export const DEFAULT_MAX_QUEUED = 8

/** Upper bound on max tokens of one generation when the caller gives none. */
export const DEFAULT_MAX_TOKENS = 256

/**
 * Flash attention stays off: STACK-FACTS §9b measured one-batch replay scores
 * differing from token-by-token generation by up to 3.9e-4 with it on (more
 * than the smallest honest top-1/top-2 gap, 2.7e-4) and 3.8e-6 with it off.
 */
export const FLASH_ATTENTION = false

/**
 * The replay verdict (protocols/replay `judgeReplay`) for greedy outputs, from
 * measured per-position logit gaps (the best logit minus the claimed token's
 * logit, at the validator). Generated presets, greedy, replayed on the CPU
 * engine with default settings; "pos" = positions, gaps > 0.02 counted per output:
 *
 * | outputs (generated on)                      | pos    | largest gap | gaps > 0.02 | rank of gaps > 0 |
 * |---------------------------------------------|--------|-------------|-------------|------------------|
 * | honest, CPU, same settings (small, medium)  | 8,154  | 0.0036      | 0           | 2 (all 12)       |
 * | honest, CPU flash attention on              | 8,130  | 0.0074      | 0           | 2 (all 19)       |
 * | honest, CPU KV cache F32, prompt batch 1    | (bench)| ≤ 0.0082    | 0           | 2                |
 * | honest, GPU (H200 Vulkan, notes/GPU.md)     | 16,800 | 0.039       | ≤ 1/output  | 2 (all failing)  |
 * | KV cache q8_0 + flash attention (lossy)     | 8,154  | 0.093       | ≤ 3/output  | 2 (85), 3 (4)    |
 * | q8_0 copy of the same weights               | 8,071  | 0.37        | ≤ 17/output | 2 (351), 3+ (33) |
 * | another seed / the smaller preset           | 16,037 | 28–30       | ~all        | mostly > 3       |
 *
 * (bench/replay.bench.ts prints these figures again with every run.) Honest
 * CPU drift between engine settings moves the claimed token's logit by up to
 * 0.0125 and the gaps by up to 0.0122; honest GPU gaps reach 0.039, all at
 * rank 2 (GPU.md: 0.023, 0.031, 0.031, 0.039 failing under a 0.02 band, largest
 * passing 0.0156), at most one per 200-token output (6 over 16,800 positions).
 * Another model's first token is already 0.5–30 logits off (position 0 in
 * every measured output); the q8_0 copy drifts 0.05–0.37 and at many positions.
 */

/** The strict band: a claimed greedy token at most this far below the best passes outright (above every honest CPU gap, 0.0122; below GPU's 0.039, which the near-tie band takes). */
export const DEFAULT_REPLAY_MAX_LOGIT_GAP = 0.02

/**
 * The near-tie band: positions between the strict band and this gap are near
 * ties, passing up to a budget; anything further below the best token is
 * outside and fails the output. 0.1 is 2.5× the largest honest GPU gap
 * (0.039) and 8× the largest honest CPU drift, and still below the first wrong
 * token of another model (≥ 0.5, in practice ~20).
 */
export const DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP = 0.1

/**
 * Near ties allowed in any output: honest GPU outputs showed at most 1 per
 * 200 tokens (a rate of 3.6e-4 per position), so 2 leaves a Poisson tail of
 * ~1e-5 per 200-token output; the lossy KV-cache class showed up to 3.
 */
export const DEFAULT_REPLAY_MAX_NEAR_TIES = 2

/** One more near tie allowed per this many output tokens (long outputs meet more near ties). */
export const DEFAULT_REPLAY_NEAR_TIE_TOKENS_PER_EXTRA = 128

/**
 * Sampled outputs (temperature > 0): a claimed token fails when its probability
 * relative to the best token, at the task's temperature, is below this. 1e-9
 * keeps the false-positive rate per token ≤ vocab × 1e-9 (< 1e-4 for a 100k
 * vocabulary).
 */
export const DEFAULT_REPLAY_MIN_RELATIVE_PROBABILITY = 1e-9

/** Positions outside the near-tie band before the verdict is `invalid` (0: any wrong token fails). */
export const DEFAULT_REPLAY_MAX_VIOLATIONS = 0

/** Top-k tasks: at most this many best logits fetched per replayed position (a larger top-k is checked against these). */
export const REPLAY_MAX_TOP_K_FETCHED = 256

/** Evidence entries kept in a verdict (the first offending positions). */
export const REPLAY_MAX_EVIDENCE = 16

/** Tokens generated by the hardware benchmark: ~0.2 s on the small preset here (bench), short enough for node start-up, long enough to average per-token jitter. */
export const HARDWARE_BENCH_TOKENS = 64

/** Prompt of the hardware benchmark (fixed so results compare across nodes). */
export const HARDWARE_BENCH_PROMPT = 'the quick brown fox jumps over the lazy dog and then'

/**
 * Hardware classes, from GPU type and VRAM. VRAM bounds follow common card
 * sizes: < 8 GiB fits 7B models only quantised to 4 bits, 8–24 GiB fits
 * 7B–13B, ≥ 24 GiB fits 30B+ quantised.
 */
export const HARDWARE_CLASSES = ['cpu-small', 'cpu', 'gpu-small', 'gpu', 'gpu-large'] as const
export const GPU_SMALL_MAX_VRAM_BYTES = 8 * 1024 ** 3
export const GPU_LARGE_MIN_VRAM_BYTES = 24 * 1024 ** 3
/** A CPU-only host with fewer math cores than this is `cpu-small` (this dev machine, 2 cores, is cpu-small). */
export const CPU_SMALL_MAX_CORES = 4

/**
 * Levels 0–5 from measured parameter throughput = tokens/s × model parameters
 * (in giga-parameter-tokens per second), which makes the figure comparable across
 * model sizes. Thresholds: this 2-core dev machine, 1 thread, measured ≈ 6.5 on
 * the small preset (304 tok/s × 21.5 M) and ≈ 8.5 on medium (100 tok/s × 85 M)
 * → level 2; each further level is 4× faster, roughly one step of the
 * many-core CPU → small GPU → large GPU ladder (a 7B model at 40 tok/s is 280 → level 5).
 * Level n is reached when throughput ≥ LEVEL_THRESHOLDS[n - 1].
 */
export const LEVEL_THRESHOLDS_GPARAM_TOKENS_PER_S = [1, 4, 16, 64, 256] as const
