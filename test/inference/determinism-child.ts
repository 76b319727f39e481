/**
 * Child process of the determinism test: load the model, generate greedily
 * and with a seed, print the tokens as JSON on stdout.
 */
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas } from '../../node/inference/llama.ts'

const [modelPath, prompt] = process.argv.slice(2)
const engine = await createInferenceEngine({ modelPath, gpu: false, contextSize: 256, sequences: 1 })
const greedy = await engine.complete(prompt, { maxTokens: 48, deterministic: true })
const seeded = await engine.complete(prompt, { maxTokens: 48, temperature: 0.8, topK: 40, seed: 1234, deterministic: true })
process.stdout.write(JSON.stringify({ modelId: engine.modelId, greedy: greedy.tokens, seeded: seeded.tokens }) + '\n')
await engine.close()
await disposeSharedLlamas()
