/**
 * Honest outputs recorded on other engines (replay-fixtures/*.json: a GPU, or
 * the CPU with other settings) replayed on this CPU with the oracle's default
 * policy: every one must be valid. A fixture names its model (generated
 * preset and seed, byte-identical everywhere, checked by the model id).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'aegir/chai'
import { DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP } from '../../node/inference/constants.ts'
import { createInferenceEngine } from '../../node/inference/engine.ts'
import { disposeSharedLlamas, getSharedLlama } from '../../node/inference/llama.ts'
import { replayCheck } from '../../node/inference/replay.ts'
import { modelDir } from './fixtures.ts'
import { parseReplayFixture, REPLAY_FIXTURE_DIR } from './replay-fixture.ts'
import type { ModelDir } from './fixtures.ts'
import type { ReplayFixture } from './replay-fixture.ts'

const files = readdirSync(REPLAY_FIXTURE_DIR).filter(f => f.endsWith('.json')).sort()

describe('inference/replay: recorded honest outputs of other engines', function () {
  this.timeout(300_000)
  let models: ModelDir

  before(async () => {
    models = await modelDir()
  })

  after(async () => {
    await disposeSharedLlamas()
    await models?.cleanup()
  })

  async function modelPath (fixture: ReplayFixture): Promise<string> {
    return models.model(fixture.model.preset, fixture.model.seed, fixture.model.type)
  }

  it('has fixtures to replay', () => {
    expect(files).to.not.be.empty()
  })

  for (const file of files) {
    it(`judges every output of ${file} valid on the CPU`, async () => {
      const fixture = parseReplayFixture(JSON.parse(readFileSync(join(REPLAY_FIXTURE_DIR, file), 'utf8')), file)
      const engine = await createInferenceEngine({ modelPath: await modelPath(fixture), llama: await getSharedLlama(false), contextSize: 1024, sequences: 1 })
      try {
        expect(engine.modelId).to.equal(fixture.model.modelId)
        const invalid: string[] = []
        let maxGap = 0
        for (const [i, o] of fixture.outputs.entries()) {
          const v = await replayCheck(engine, { prompt: o.prompt, params: o.params, output: o.tokens, finishReason: o.finishReason })
          maxGap = Math.max(maxGap, v.maxGap)
          if (!v.valid) {
            invalid.push(`output ${i}: ${v.reason} ${JSON.stringify(v.evidence)}`)
          }
        }
        expect(invalid).to.deep.equal([])
        expect(maxGap).to.be.below(DEFAULT_REPLAY_NEAR_TIE_LOGIT_GAP)
      } finally {
        await engine.close()
      }
    })
  }
})
