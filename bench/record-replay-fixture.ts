/**
 * Record honest greedy outputs of a generated model as a replay fixture
 * (test/inference/replay-fixture.ts), for the CPU to replay on every test run:
 * `node bench/record-replay-fixture.ts <out.json> [--preset medium] [--seed 1]
 * [--outputs 24] [--tokens 200] [--cpu] [--flash-attention] [--kv-cache F32]`.
 *
 * On a GPU machine, through the GPU kit (the entry bundled with
 * node-llama-cpp's Vulkan prebuilt): here
 * `../shared/tools/gpu-kit/build.sh bench/record-replay-fixture.ts .gpukit/record`,
 * there `bash .gpukit/record/run.sh $OUT/gpu-vulkan-medium.json`,
 * then drop the file into test/inference/replay-fixtures/. The engine takes the
 * GPU when one is present (`gpu: 'auto'`) unless `--cpu` is given; the
 * fixture names the backend and device it ran on.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createInferenceEngine } from '../node/inference/engine.ts'
import { generateModel, isPresetName } from '../node/inference/gguf/index.ts'
import { disposeSharedLlamas } from '../node/inference/llama.ts'
import { prompts } from '../test/inference/fixtures.ts'
import { replayFixture } from '../test/inference/replay-fixture.ts'
import type { KvCacheType } from '../node/inference/engine.ts'
import type { ReplayFixtureOutput } from '../test/inference/replay-fixture.ts'

/** Prompt seed of recorded fixtures (other than the tests' and the benchmark's, so fixtures add new prompts). */
const FIXTURE_PROMPT_SEED = 101

function usage (message: string): never {
  process.stderr.write(`${message}\nusage: record-replay-fixture.ts <out.json> [--preset medium] [--seed 1] [--outputs 24] [--tokens 200] [--cpu] [--flash-attention] [--kv-cache F16|F32]\n`)
  process.exit(2)
}

function integer (flag: string, value: string, min: number): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    usage(`--${flag} must be an integer ≥ ${min}, got "${value}"`)
  }
  return n
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      preset: { type: 'string', default: 'medium' },
      seed: { type: 'string', default: '1' },
      outputs: { type: 'string', default: '24' },
      tokens: { type: 'string', default: '200' },
      cpu: { type: 'boolean', default: false },
      'flash-attention': { type: 'boolean', default: false },
      'kv-cache': { type: 'string' }
    }
  })
  const out = positionals[0] ?? usage('the output file is missing')
  const preset = values.preset
  if (!isPresetName(preset)) {
    usage(`--preset must be tiny, small or medium, got "${preset}"`)
  }
  const seed = integer('seed', values.seed, 0)
  const count = integer('outputs', values.outputs, 1)
  const maxTokens = integer('tokens', values.tokens, 1)
  const kv = values['kv-cache']
  if (kv != null && kv !== 'F16' && kv !== 'F32') {
    usage(`--kv-cache must be F16 or F32, got "${kv}"`)
  }

  const dir = await mkdtemp(join(tmpdir(), 'cortensor-fixture-'))
  try {
    const modelPath = join(dir, `${preset}-s${seed}.gguf`)
    await generateModel(modelPath, { preset, seed })
    const engine = await createInferenceEngine({
      modelPath,
      gpu: values.cpu ? false : 'auto',
      contextSize: 1024,
      sequences: 1,
      flashAttention: values['flash-attention'],
      kvCacheType: kv as KvCacheType | undefined
    })
    try {
      const outputs: ReplayFixtureOutput[] = []
      const t0 = performance.now()
      for (const prompt of prompts(count, FIXTURE_PROMPT_SEED)) {
        const r = await engine.complete(prompt, { maxTokens })
        outputs.push({ prompt, params: { maxTokens }, tokens: r.tokens, finishReason: r.finishReason })
      }
      const fixture = await replayFixture(engine, { preset, seed }, outputs)
      await writeFile(out, JSON.stringify(fixture) + '\n')
      const tokens = outputs.reduce((n, o) => n + o.tokens.length, 0)
      process.stdout.write(`${outputs.length} outputs (${tokens} tokens) of ${preset} seed ${seed} (${engine.modelId}) generated on ` +
        `${fixture.generatedOn.backend} (${fixture.generatedOn.device}) in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${out}\n`)
    } finally {
      await engine.close()
    }
  } finally {
    await disposeSharedLlamas()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
