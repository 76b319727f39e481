/**
 * Gas per settled task at redundancy 3 for batch sizes 1, 10, 50, 100, beside the per-step flow
 * Cortensor uses (one transaction per ack, precommit and commit per miner, then settle), measured
 * in the same run on a fresh anvil. Gas is deterministic; wall time is not reported.
 * Run: node_modules/.bin/node bench/chain.bench.ts
 */
import { createTestClient, createWalletClient, encodeAbiParameters, http, keccak256, publicActions, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { startAnvil, ANVIL_KEYS } from '../contracts/anvil.ts'
import {
  addOracle, assignTasks, createSession, deployHub, hubDomain, naiveSessionQueueAbi, naiveSessionQueueBytecode, registerNode,
  settleBatch, signPrecommit, submitTask, ROLE_MINER, VERDICT_HONEST
} from '../contracts/index.ts'
import { printFigures } from './report.ts'
import type { Hex, HttpTransport, PublicActions, WalletClient } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'

const REDUNDANCY = 3
const BATCHES = [1, 10, 50, 100]
const POOL = 30 // miners in the pool; tasks take them round robin, so a batch touches each miner several times
const NAIVE_TASKS = 5
const MODEL = `0x${'11'.repeat(32)}` as Hex

type BenchWallet = WalletClient<HttpTransport, typeof foundry, PrivateKeyAccount> & PublicActions<HttpTransport, typeof foundry, PrivateKeyAccount>

const anvil = await startAnvil({ args: ['--gas-limit', '100000000'] })
try {
  const wallet = (key: Hex): BenchWallet => createWalletClient({ account: privateKeyToAccount(key), chain: foundry, transport: http(anvil.url), pollingInterval: 20 }).extend(publicActions)
  const test = createTestClient({ mode: 'anvil', chain: foundry, transport: http(anvil.url) })
  const owner = wallet(ANVIL_KEYS[0])
  const oracle = wallet(ANVIL_KEYS[1])
  const user = wallet(ANVIL_KEYS[2])
  const minerKeys = Array.from({ length: POOL }, (_, i) => keccak256(toHex(`bench-miner-${i}`)))
  const miners = minerKeys.map(wallet)
  for (const m of miners) { await test.setBalance({ address: m.account.address, value: 10n ** 21n }) }

  const { hub } = await deployHub(owner, { config: { minStakeWei: 10n ** 15n } })
  await addOracle(owner, { hub, oracle: oracle.account.address })
  for (const m of miners) { await registerNode(m, { hub, roles: ROLE_MINER, hardwareClass: 0, models: [MODEL], stakeWei: 10n ** 15n }) }
  const domain = hubDomain(anvil.chainId, hub)
  const { sessionId } = await createSession(user, {
    hub,
    modelId: MODEL,
    redundancy: REDUNDANCY,
    minMiners: 1,
    maxMiners: 5,
    validationMode: 0,
    slaClass: 0,
    reservePeriodS: 86_400,
    maxTasks: 100_000,
    pricePerTokenWei: 10n ** 9n,
    depositWei: 10n ** 19n
  })

  let next = 0
  const pick = (): BenchWallet[] => Array.from({ length: REDUNDANCY }, () => miners[(next++) % POOL])
  const hubGas: Record<number, { submit: number, assign: number, settle: number }> = {}
  for (const batch of BATCHES) {
    const tasks = []
    let submitGas = 0n
    for (let i = 0; i < batch; i++) {
      const r = await submitTask(user, { hub, sessionId, promptDigest: keccak256(toHex(`p${batch}-${i}`)), maxTokens: 256, paramsDigest: keccak256(toHex('params')) })
      submitGas += r.gasUsed
      tasks.push({ taskId: r.taskId, ws: pick() })
    }
    const assign = await assignTasks(oracle, { hub, assignments: tasks.map(t => ({ taskId: t.taskId, miners: t.ws.map(w => w.account.address) })) })
    const verdicts = await Promise.all(tasks.map(async t => ({
      taskId: t.taskId,
      miners: await Promise.all(t.ws.map(async (w, j) => {
        const outputDigest = keccak256(toHex(`out-${t.taskId}`))
        const salt = keccak256(toHex(`salt-${t.taskId}-${j}`))
        return { miner: w.account.address, verdict: VERDICT_HONEST, tokens: 200, onTime: true, outputDigest, salt, precommitSignature: await signPrecommit(w.account, domain, { taskId: t.taskId, outputDigest, salt }) }
      }))
    })))
    const settle = await settleBatch(oracle, { hub, tasks: verdicts })
    if (settle.settled.length !== batch) { throw new Error(`settled ${settle.settled.length} of ${batch}`) }
    hubGas[batch] = { submit: Number(submitGas) / batch, assign: Number(assign.gasUsed) / batch, settle: Number(settle.gasUsed) / batch }
  }

  // the per-step baseline
  const deployHash = await owner.deployContract({ abi: naiveSessionQueueAbi, bytecode: naiveSessionQueueBytecode })
  const naive = (await owner.waitForTransactionReceipt({ hash: deployHash })).contractAddress!
  const send = async (w: typeof owner, functionName: any, args: any[], value?: bigint): Promise<bigint> => {
    const hash = await w.writeContract({ address: naive, abi: naiveSessionQueueAbi, functionName, args, ...(value != null ? { value } : {}) } as any)
    const r = await w.waitForTransactionReceipt({ hash, pollingInterval: 20 })
    if (r.status !== 'success') { throw new Error(`naive ${String(functionName)} reverted`) }
    return r.gasUsed
  }
  let naiveSteps = 0n
  let naiveSubmit = 0n
  let naiveAssign = 0n
  for (let i = 1; i <= NAIVE_TASKS; i++) {
    const ws = pick()
    naiveSubmit += await send(user, 'submit', [keccak256(toHex(`np${i}`))], 10n ** 15n)
    naiveAssign += await send(oracle, 'assign', [BigInt(i), ws.map(w => w.account.address)])
    const out = keccak256(toHex(`nout${i}`))
    for (const [j, w] of ws.entries()) {
      const salt = keccak256(toHex(`ns${i}-${j}`))
      naiveSteps += await send(w, 'ack', [BigInt(i)])
      naiveSteps += await send(w, 'precommit', [BigInt(i), keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'bytes32' }], [out, salt]))])
      naiveSteps += await send(w, 'commit', [BigInt(i), out, salt])
    }
    naiveSteps += await send(oracle, 'settle', [BigInt(i)])
  }
  const naivePerTask = Number(naiveSteps) / NAIVE_TASKS
  const naiveFull = Number(naiveSteps + naiveSubmit + naiveAssign) / NAIVE_TASKS
  const naiveTx = { name: `per-step flow (${REDUNDANCY * 3 + 1} tx per task)`, value: naivePerTask }

  printFigures('chain: gas per settled task, redundancy 3', [
    ...BATCHES.map(b => ({
      name: `batch settlement, ${b} task${b === 1 ? '' : 's'} per tx`,
      value: hubGas[b].settle,
      unit: 'gas/task',
      baseline: naiveTx,
      goal: b === 50 ? '≤ 30000 gas' : undefined
    })),
    {
      name: 'whole on-chain flow at batch 50 (submit + assign + settle)',
      value: hubGas[50].submit + hubGas[50].assign + hubGas[50].settle,
      unit: 'gas/task',
      baseline: { name: 'per-step flow incl. submit + assign', value: naiveFull }
    },
    {
      name: 'assignment at batch 50 (leader commits the miner set)',
      value: hubGas[50].assign,
      unit: 'gas/task',
      baseline: { name: 'per-step assign', value: Number(naiveAssign) / NAIVE_TASKS }
    }
  ])
} finally {
  await anvil.stop()
}
