/**
 * Size limits of the wire messages. Every repeated field has a decode limit
 * (enforced by protons while decoding), every string/bytes field a size
 * limit (enforced by `checks.ts`).
 */

/** EVM address length (20 bytes, by definition). */
export const ADDRESS_BYTES = 20
/** secp256k1 r‖s‖v signature as produced by viem's signTypedData (65 bytes). */
export const SIGNATURE_BYTES = 65
/** keccak256 digest, salts and selection seeds (32 bytes). */
export const HASH_BYTES = 32
/** A binary CIDv1 with a sha2-256 multihash is 36 bytes; 128 leaves room for other hashes. */
export const MAX_CID_BYTES = 128
/** Model ids are short names or GGUF file digests ("tiny-llama-q8", "sha256:<64 hex>"). */
export const MAX_MODEL_ID_BYTES = 128
/** The OpenAI API allows 4 stop sequences; we allow twice that. */
export const MAX_STOP_SEQUENCES = 8
/** Per stop sequence, in UTF-8 bytes (stop sequences are short markers). */
export const MAX_STOP_SEQUENCE_BYTES = 64
/** Redundancy in Cortensor's configs is 1–7; 32 leaves room for larger experiments. */
export const MAX_MINERS_PER_TASK = 32
/** Models one miner may advertise in one heartbeat (a node rarely holds more than a few). */
export const MAX_MODELS_PER_HEARTBEAT = 16
/** GPU devices one heartbeat may name (a node with more lists the first ones). */
export const MAX_GPU_DEVICES_PER_HEARTBEAT = 16
/** A GPU device name as llama.cpp reports it ("NVIDIA H100 80GB HBM3", …). */
export const MAX_GPU_DEVICE_NAME_BYTES = 128
/** "cpu", "cuda", "vulkan", "metal" */
export const MAX_BACKEND_BYTES = 16
/** "cpu", "gpu-cuda", "gpu-metal", … */
export const MAX_HARDWARE_CLASS_BYTES = 32
/** Tokens carried by one stream frame (a frame is sent per token or per small batch). */
export const MAX_TOKEN_IDS_PER_FRAME = 256
/** Text of one stream frame, in UTF-8 bytes (256 tokens × 4 bytes). */
export const MAX_TOKEN_TEXT_BYTES = 1024
/** Human-readable error text of a StreamEnd frame. */
export const MAX_STREAM_MESSAGE_BYTES = 512
/**
 * A prompt's dag-json block rides in its task announcement up to this size
 * (a few pages of text), sparing miners and oracles a fetch from the
 * submitter on the way to the first token; larger prompts are fetched by CID.
 */
export const MAX_INLINE_PROMPT_BYTES = 8 * 1024
/** Largest encoded gossip message: a Verdict for MAX_MINERS_PER_TASK miners is under 2 KiB; 16 KiB leaves room, plus an inline prompt. */
export const MAX_GOSSIP_MESSAGE_BYTES = 16 * 1024 + MAX_INLINE_PROMPT_BYTES
/** Largest encoded stream frame (MAX_TOKEN_TEXT_BYTES + token ids + framing, rounded up). */
export const MAX_STREAM_FRAME_BYTES = 4 * 1024
/** Upper bound on max_tokens of a task (the contexts we run are at most 32k tokens). */
export const MAX_TASK_TOKENS = 32_768
/**
 * Longest heartbeat period a miner may advertise (ms). Observers keep a
 * miner live for a few periods after its last heartbeat, so this bounds how
 * long a departed miner can stay in their pools (a drawn miner that does not
 * ack is replaced after the ack timeout either way). An hour: what the
 * network-load simulation needs at 10^5 miners (`cortensor sim network`).
 */
export const MAX_HEARTBEAT_INTERVAL_MS = 60 * 60_000
/**
 * Longest first-token time a report or verdict may carry (ms): ten minutes,
 * the longest a task waits for its precommit anywhere in this network
 * (queue deadlines are minutes); a longer figure can only be a lie or a stall.
 */
export const MAX_FIRST_TOKEN_MS = 10 * 60_000
/** Highest node level (Cortensor levels are small integers). */
export const MAX_NODE_LEVEL = 255
