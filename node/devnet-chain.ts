/**
 * The chain half of the devnet: anvil on a free loopback port, the hub
 * deployed, node keys funded, miners registered with stake, the first oracle
 * added and heartbeating as leader, and a funded session for the demo
 * client. Uses the same viem actions as `cortensor chain|session|node`.
 */
import { createWalletClient, formatEther, http, parseEther, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import {
  ANVIL_KEYS, ROLE_MINER, addOracle, assignTasks, createSession, deployHub, getNode, heartbeat, hubDomain,
  registerNode, settleBatch, signPrecommit, startAnvil, submitTask, VERDICT_HONEST
} from '../contracts/index.ts'
import type { Anvil, HubDomain, HubWalletClient } from '../contracts/index.ts'
import type { Address, Hex } from 'viem'

/** What a devnet node needs to act on chain: its key (the same key as its libp2p identity). */
export interface ChainActor { privateKey: Hex }

export interface DevnetChainInit {
  miners: ChainActor[]
  leader: ChainActor
  modelId: Hex
  say(line: string): void
}

/** Stake per devnet miner and deposit of the demo session (anvil's test accounts hold 10,000 ETH). */
const MINER_STAKE_WEI = parseEther('0.1')
const NODE_FUNDING_WEI = parseEther('10')
const SESSION_DEPOSIT_WEI = parseEther('1')
const PRICE_PER_TOKEN_WEI = 10n ** 12n

export interface DevnetChain {
  url: string
  hub: Address
  domain: HubDomain
  sessionId: bigint
  wallet(actor: ChainActor): HubWalletClient
  /** submit a task against the session: the id and the selection seed come from the chain */
  submit(promptDigest: Hex, paramsDigest: Hex, maxTokens: number): Promise<{ taskId: bigint, seed: bigint }>
  assign(taskId: bigint, miners: Address[]): Promise<void>
  /** a miner's EIP-712 precommit over (task, output digest, salt), signed with its node key */
  precommit(miner: ChainActor, taskId: bigint, outputDigest: Hex, salt: Hex): Promise<Hex>
  settle(taskId: bigint, entries: Array<{ miner: Address, tokens: number, outputDigest: Hex, salt: Hex, signature: Hex }>): Promise<{ hash: Hex, gasUsed: bigint, paidWei: bigint }>
  earnings(miner: Address): Promise<string>
  stop(): Promise<void>
}

export async function startDevnetChain (init: DevnetChainInit): Promise<DevnetChain> {
  const anvil: Anvil = await startAnvil()
  try {
    const wallet = (actor: ChainActor): HubWalletClient => createWalletClient({
      account: privateKeyToAccount(actor.privateKey), chain: foundry, transport: http(anvil.url), pollingInterval: 50
    }).extend(publicActions) as unknown as HubWalletClient
    const owner = wallet({ privateKey: ANVIL_KEYS[0] })
    const client = wallet({ privateKey: ANVIL_KEYS[1] })
    const deployment = await deployHub(owner, {})
    const hub = deployment.hub
    init.say(`anvil on ${anvil.url} (chain ${anvil.chainId}), hub ${hub}`)

    const ownerAny = owner as any
    for (const actor of [init.leader, ...init.miners]) {
      const hash = await ownerAny.sendTransaction({ to: privateKeyToAccount(actor.privateKey).address, value: NODE_FUNDING_WEI })
      await ownerAny.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    }
    const leader = wallet(init.leader)
    await addOracle(owner, { hub, oracle: leader.account.address })
    await heartbeat(leader, { hub })
    for (const m of init.miners) {
      await registerNode(wallet(m), { hub, roles: ROLE_MINER, hardwareClass: 0, models: [init.modelId], stakeWei: MINER_STAKE_WEI })
    }
    const { sessionId } = await createSession(client, {
      hub,
      modelId: init.modelId,
      redundancy: init.miners.length,
      minMiners: 1,
      maxMiners: Math.max(init.miners.length, 1),
      validationMode: 0,
      slaClass: 1,
      reservePeriodS: 86_400,
      maxTasks: 1000,
      pricePerTokenWei: PRICE_PER_TOKEN_WEI,
      depositWei: SESSION_DEPOSIT_WEI
    })
    init.say(`${init.miners.length} miners registered with ${formatEther(MINER_STAKE_WEI)} ETH stake each; session ${sessionId} funded with ${formatEther(SESSION_DEPOSIT_WEI)} ETH`)
    const domain = hubDomain(anvil.chainId, hub)

    return {
      url: anvil.url,
      hub,
      domain,
      sessionId,
      wallet,
      submit: async (promptDigest, paramsDigest, maxTokens) => {
        const res = await submitTask(client, { hub, sessionId, promptDigest, paramsDigest, maxTokens })
        return { taskId: res.taskId, seed: res.seed }
      },
      assign: async (taskId, miners) => {
        await heartbeat(leader, { hub })
        await assignTasks(leader, { hub, assignments: [{ taskId, miners }] })
      },
      precommit: async (miner, taskId, outputDigest, salt) => signPrecommit(privateKeyToAccount(miner.privateKey), domain, { taskId, outputDigest, salt }),
      settle: async (taskId, entries) => {
        const res = await settleBatch(leader, {
          hub,
          tasks: [{ taskId, miners: entries.map(e => ({ miner: e.miner, verdict: VERDICT_HONEST, tokens: e.tokens, onTime: true, outputDigest: e.outputDigest, salt: e.salt, precommitSignature: e.signature })) }]
        })
        return { hash: res.hash, gasUsed: res.gasUsed, paidWei: res.settled.reduce((s, t) => s + t.paidWei, 0n) }
      },
      earnings: async (miner) => formatEther((await getNode(client, { hub, node: miner })).earningsWei),
      stop: async () => { await anvil.stop() }
    }
  } catch (err) {
    await anvil.stop()
    throw err
  }
}
