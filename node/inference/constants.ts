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
 * logit, at the validator). CPU rows: `npm run bench -- replay` on the 2-core
 * dev machine (generated presets small + medium, 128 tokens, replayed on the
 * CPU engine's defaults); GPU row: notes/GPU.md (H200, Vulkan, 128–200 tokens).
 *
 * | outputs (generated on → replayed on)          | positions | largest gap | gaps > 0.02                 |
 * |-----------------------------------------------|-----------|-------------|-----------------------------|
 * | honest, CPU → CPU, same settings              | 8,400     | 0.0082      | 0                           |
 * | honest, CPU flash attention on → off          | 8,010     | 0.0140      | 0                           |
 * | honest, CPU KV cache F32 → F16                | 7,757     | 0.0052      | 0                           |
 * | honest, CPU flash attention on, medium, 200 t | 3,105     | 0.0181      | 0 (the committed fixture)   |
 * | honest, GPU → GPU and CPU → GPU               | ~27,000   | 0.039       | 8 outputs of 164, 1 where recorded |
 * | KV cache q8_0 + flash attention (lossy)       | 8,154     | 0.093       | ≤ 3 per output              |
 * | q8_0 copy of the same weights                 | 7,414     | 0.45        | 145 in (0.02, 0.1], 96 above |
 * | another seed / the smaller preset             | 8,626     | 26.8–28.6   | all but 4 positions > 0.1   |
 *
 * Every honest position with a gap > 0 whose rank was fetched was rank 2 (all
 * 22 on the CPU, every failing one on the GPU: 0.023, 0.031, 0.031, 0.039;
 * largest passing GPU gap 0.0156). Another model's first token is already far
 * off (position 0 of every measured output). The lossy KV cache row is not an
 * engine option (`kvCacheType` offers F16 and F32 only).
 */

/** The strict band: a claimed greedy token at most this far below the best passes outright (above every honest CPU gap measured, 0.0181; GPU's near ties up to 0.039 go to the near-tie band). */
export const DEFAULT_REPLAY_MAX_LOGIT_GAP = 0.02

/**
 * The near-tie band: positions between the strict band and this gap are near
 * ties, passing up to a budget; anything further below the best token is
 * outside and fails the output. 0.1 is 2.5× the largest honest GPU gap
 * (0.039), 5.5× the largest honest CPU gap, and far below the first wrong
 * token of another model (~27 logits; ≥ 0.5 at every measured position).
 */
export const DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP = 0.1

/**
 * Near ties allowed in any output. Honest GPU outputs had at most one (8 of
 * 164 outputs, ~3e-4 per position): for 200 tokens λ ≈ 0.06, so the budget of
 * 3 (2 + 200/128) is exceeded with probability ~5e-7, and 2 for short outputs
 * with ~1e-5. The q8_0 copy shows up to 6.
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

/**
 * Sampled outputs (temperature > 0): the largest z of an output's positions in
 * the sampler's own distribution (protocols/replay `maxSampleZ`). Honest
 * sampling gives z ≈ N(0, 1) whatever the model (the mid-distribution
 * transform has mean exactly 1/2): 30 honest 64-token samples of the `tiny`
 * preset at temperature 0.8 scored −1.4 … 2.2, and test/inference/replay.spec.ts
 * checks more. P(z > 6) ≈ 1e-9 for an honest output; an output sampled from
 * elsewhere (another prompt, a hotter temperature) drifts upward with length.
 */
export const DEFAULT_REPLAY_MAX_SAMPLE_Z = 6

/** Positions outside the near-tie band before the verdict is `invalid` (0: any wrong token fails). */
export const DEFAULT_REPLAY_MAX_VIOLATIONS = 0

/** Top-k tasks: at most this many best logits fetched per replayed position (a larger top-k is checked against these). */
export const REPLAY_MAX_TOP_K_FETCHED = 256

/** Evidence entries kept in a verdict (the first offending positions). */
export const REPLAY_MAX_EVIDENCE = 16

/** Tokens generated by the hardware benchmark: ~0.2 s on the small preset here (bench), short enough for node start-up, long enough to average per-token jitter. */
export const HARDWARE_BENCH_TOKENS = 64

/**
 * Tokens of a miner's capability benchmark at start (node/inference/capability.ts):
 * 32 tokens take ~25 ms on the tiny preset and ~0.1 s on the small one here
 * (1 thread), and still average out per-token jitter.
 */
export const CAPABILITY_BENCH_TOKENS = 32
/** The capability benchmark stops after this long whatever it has: a slow engine must not hold up start-up. */
export const CAPABILITY_BENCH_MAX_MS = 3000
/** The capability benchmark's prompt: the hardware benchmark's, so figures compare. */
export const CAPABILITY_BENCH_PROMPT = 'the quick brown fox jumps over the lazy dog and then'
/** Version of the cached capability files: a change of the benchmark invalidates the cache. */
export const CAPABILITY_FORMAT = 1

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

/**
 * Grammar tasks (a response format): best logits fetched per replayed
 * position, walked best first until one the grammar allows. A JSON grammar
 * allows a handful of tokens where structure is forced and most of the
 * vocabulary inside a string, so the best allowed token sits within the first
 * few dozen almost always; a position where none of these is allowed gets a
 * second pass over the whole vocabulary (replay.ts).
 */
export const REPLAY_GRAMMAR_TOP_TOKENS = 64
