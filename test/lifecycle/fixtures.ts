/**
 * A whole network for the lifecycle tests: anvil + hub, a bootstrap, miners
 * and oracles with the generated `tiny` model, a client owning a session.
 * Short queue timeouts so faults resolve in seconds.
 */
import { parseEther } from 'viem'
import { getContractEvents } from 'viem/actions'
import { cortensorHubAbi, createSession } from '../../contracts/index.ts'
import { startNetwork } from '../../node/network.ts'
import { modelDir } from '../inference/fixtures.ts'
import type { LocalNetwork, NetworkInit } from '../../node/network.ts'
import type { ModelDir } from '../inference/fixtures.ts'
import type { Hex } from 'viem'

export const TEST_TIMEOUTS = { assignMs: 3000, ackMs: 2000, precommitMs: 15000, revealMs: 3000, validateMs: 6000, settleMs: 6000 }

/** the networks' latest lines, printed when a test fails (every line, as it comes, with CORTENSOR_TEST_VERBOSE) */
const RECENT_LINES = 400
const recent: string[] = []

/** Add a line to what a failing test prints (a child process's lines, say). */
export function sayLine (line: string): void {
  const stamped = `${(performance.now() / 1000).toFixed(3)} ${line}`
  if (process.env.CORTENSOR_TEST_VERBOSE != null) {
    process.stderr.write(`${stamped}\n`)
  }
  recent.push(stamped)
  if (recent.length > RECENT_LINES) {
    recent.splice(0, recent.length - RECENT_LINES)
  }
}

/** In an `afterEach`: when the test failed, print what its network said last, to tell why. */
export function reportIfFailed (ctx: Mocha.Context): void {
  if (ctx.currentTest?.state === 'failed' && process.env.CORTENSOR_TEST_VERBOSE == null) {
    process.stderr.write(`--- the network's last ${recent.length} lines before "${ctx.currentTest.title}" failed:\n${recent.join('\n')}\n---\n`)
  }
}

export interface LifecycleNet {
  net: LocalNetwork
  models: ModelDir
  stop(): Promise<void>
}

export async function startLifecycleNet (init: Partial<NetworkInit> & { tinySeed?: number } = {}): Promise<LifecycleNet> {
  const models = await modelDir()
  try {
    const modelPath = await models.model('tiny', init.tinySeed ?? 1)
    // 'OTHER' in minerModelPaths: the same preset with another seed (a different model under the same id)
    const other = init.minerModelPaths?.includes('OTHER') === true ? await models.model('tiny', 99) : undefined
    const minerModelPaths = init.minerModelPaths?.map(p => p === 'OTHER' ? other : p)
    const net = await startNetwork({
      miners: 3,
      oracles: 2,
      modelPath,
      timeouts: TEST_TIMEOUTS,
      heartbeatIntervalMs: 2000,
      ...init,
      minerModelPaths,
      say: sayLine
    })
    return { net, models, stop: async () => { await net.stop(); await models.cleanup() } }
  } catch (err) {
    await models.cleanup()
    throw err
  }
}

/** Every slash on the network's hub so far: the miner (lower case), the task and the reason (1 equivocation, 2 failed replay). */
export async function slashesOf (ln: LifecycleNet): Promise<Array<{ miner: string, taskId: bigint, reason: number }>> {
  const logs = await getContractEvents(ln.net.owner, { address: ln.net.hub, abi: cortensorHubAbi, eventName: 'NodeSlashed', fromBlock: 0n, strict: true })
  return logs.map(l => ({ miner: l.args.node.toLowerCase(), taskId: l.args.taskId, reason: l.args.reason }))
}

/** A session of the network's client with an SLA class: up to `redundancy` miners, reserved for an hour, 0.01 ETH deposit. */
export async function openSlaSession (ln: LifecycleNet, slaClass: number, redundancy: number): Promise<bigint> {
  const chain = ln.net.client.init.chain
  const { sessionId } = await chain.serial(async () => createSession(chain.wallet, {
    hub: ln.net.hub,
    modelId: ln.net.modelId as Hex,
    redundancy,
    minMiners: 1,
    maxMiners: redundancy,
    validationMode: 0,
    slaClass,
    reservePeriodS: 3600,
    maxTasks: 1000,
    pricePerTokenWei: 10n ** 9n,
    depositWei: parseEther('0.01')
  }))
  return sessionId
}
