/** Shared chain fixture: one anvil per test file, the hub deployed, named accounts, snapshots. */
import { createTestClient, createWalletClient, http, publicActions } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { foundry } from 'viem/chains'
import { startAnvil, ANVIL_KEYS } from '../../contracts/anvil.ts'
import { addOracle, deployHub, hubDomain, ROLE_MINER, registerNode, createSession } from '../../contracts/index.ts'
import type { Anvil } from '../../contracts/anvil.ts'
import type { HubConfig, HubDomain } from '../../contracts/index.ts'
import type { Address, Chain, Hex, PublicActions, TestClient, Transport, WalletClient } from 'viem'
import type { PrivateKeyAccount } from 'viem/accounts'

export const MODEL = `0x${'11'.repeat(32)}` as Hex
export const PROMPT = `0x${'22'.repeat(32)}` as Hex
export const PARAMS = `0x${'33'.repeat(32)}` as Hex

export type Wallet = WalletClient<Transport, Chain, PrivateKeyAccount> & PublicActions<Transport, Chain>

export function walletFor (url: string, key: Hex): Wallet {
  return createWalletClient({ account: privateKeyToAccount(key), chain: foundry, transport: http(url), pollingInterval: 50 }).extend(publicActions) as unknown as Wallet
}

export interface Fixture {
  anvil: Anvil
  hub: Address
  domain: HubDomain
  owner: Wallet
  oracle: Wallet
  oracle2: Wallet
  user: Wallet
  miners: Wallet[]
  outsider: Wallet
  test: TestClient<'anvil', Transport, Chain>
  config: HubConfig
  snapshot(): Promise<Hex>
  revert(id: Hex): Promise<void>
  increaseTime(seconds: number): Promise<void>
  stop(): Promise<void>
}

export async function startFixture (config: Partial<HubConfig> = {}): Promise<Fixture> {
  const anvil = await startAnvil()
  const w = (i: number): Wallet => walletFor(anvil.url, ANVIL_KEYS[i])
  const owner = w(0)
  const deployment = await deployHub(owner, { config: { minStakeWei: 10n ** 15n, ...config } })
  const hub = deployment.hub
  await addOracle(owner, { hub, oracle: w(1).account.address })
  const test: TestClient<'anvil', Transport, Chain> = createTestClient({ mode: 'anvil', chain: foundry, transport: http(anvil.url) })
  return {
    anvil,
    hub,
    domain: hubDomain(anvil.chainId, hub),
    owner,
    oracle: w(1),
    oracle2: w(2),
    user: w(3),
    miners: [w(4), w(5), w(6), w(7)],
    outsider: w(8),
    test,
    config: deployment.config,
    snapshot: async () => test.snapshot(),
    revert: async (id) => { await test.revert({ id }) },
    increaseTime: async (seconds) => {
      await test.increaseTime({ seconds })
      await test.mine({ blocks: 1 })
    },
    stop: async () => { await anvil.stop() }
  }
}

export const SESSION = {
  modelId: MODEL,
  redundancy: 3,
  minMiners: 1,
  maxMiners: 5,
  validationMode: 0,
  slaClass: 1,
  reservePeriodS: 86_400,
  maxTasks: 1000,
  pricePerTokenWei: 10n ** 9n
}

/** Register the first `n` fixture miners for MODEL, each with `stake`. */
export async function registerMiners (f: Fixture, n = 3, stake = 10n ** 16n): Promise<void> {
  for (const m of f.miners.slice(0, n)) {
    await registerNode(m, { hub: f.hub, roles: ROLE_MINER, hardwareClass: 1, models: [MODEL], stakeWei: stake })
  }
}

export async function openSession (f: Fixture, depositWei = 10n ** 17n, overrides: Partial<typeof SESSION> = {}): Promise<bigint> {
  const { sessionId } = await createSession(f.user, { hub: f.hub, ...SESSION, ...overrides, depositWei })
  return sessionId
}

/** Await a promise that must fail with a ContractRuleError for `rule`. */
export async function expectRule (p: Promise<unknown>, rule: string): Promise<Error & { rule?: string }> {
  try {
    await p
  } catch (err: any) {
    if (err?.name !== 'ContractRuleError' || err.rule !== rule) {
      throw new Error(`expected ContractRuleError ${rule}, got ${err?.name} ${err?.rule ?? ''}: ${err?.message}`)
    }
    return err
  }
  throw new Error(`expected ContractRuleError ${rule}, but the call succeeded`)
}
