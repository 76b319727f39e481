/**
 * `cortensor chain deploy`, `cortensor session create|show|close`, `cortensor node register|unregister`.
 * viem and the contract artifacts load only when a command runs, so `--help` and bad flags answer fast.
 */
import { InvalidOptionError } from './errors.ts'
import { print, say } from './output.ts'
import type { HubWalletClient } from '../../contracts/actions/send.ts'
import type { Deployment } from '../../contracts/deploy.ts'
import type { Command } from 'commander'
import type { Address, Hex, PublicClient } from 'viem'

const HEX32_RE = /^0x[0-9a-fA-F]{64}$/
export const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/
export const ROLE_BITS: Record<string, number> = { miner: 1, oracle: 2, router: 4, bootstrap: 8 }

export interface ChainOpts { rpc?: string, key?: string, deployment?: string }

function parseUrl (flag: string, value: string | undefined): string {
  if (value == null) {
    throw new InvalidOptionError(flag, 'is required')
  }
  const u = URL.parse(value)
  if (u == null || !['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) {
    throw new InvalidOptionError(flag, `${value} is not an http(s) or ws(s) URL`)
  }
  return value
}

/** wei as an integer, or ether with an `eth` suffix (`0.5eth`). */
export async function parseAmount (flag: string, value: string): Promise<bigint> {
  const { parseEther } = await import('viem')
  const v = value.trim().toLowerCase()
  try {
    if (v.endsWith('eth') && !v.startsWith('-')) {
      return parseEther(v.slice(0, -3).trim())
    }
    if (/^\d+$/.test(v)) {
      return BigInt(v)
    }
  } catch {}
  throw new InvalidOptionError(flag, `${value} is not an amount (wei as an integer, or e.g. 0.5eth)`)
}

function parseIntIn (flag: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InvalidOptionError(flag, `${value} must be an integer from ${min} to ${max}`)
  }
  return Number(value)
}

/** A model id is the sha256 of the GGUF file: given as 0x-hex, or as the path of the file to hash. */
async function parseModel (flag: string, value: string): Promise<Hex> {
  if (HEX32_RE.test(value)) {
    return value.toLowerCase() as Hex
  }
  const { createHash } = await import('node:crypto')
  const { createReadStream } = await import('node:fs')
  try {
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(value)) {
      hash.update(chunk as Buffer)
    }
    return `0x${hash.digest('hex')}`
  } catch {
    throw new InvalidOptionError(flag, `${value} is neither a 0x-prefixed sha256 nor a readable GGUF file`)
  }
}

function parseRoles (value: string): number {
  let bits = 0
  for (const r of value.split(',').map(s => s.trim()).filter(Boolean)) {
    const bit = ROLE_BITS[r]
    if (bit == null) {
      throw new InvalidOptionError('--roles', `unknown role ${r} (miner, oracle, router, bootstrap)`)
    }
    bits |= bit
  }
  if (bits === 0) {
    throw new InvalidOptionError('--roles', 'name at least one role')
  }
  return bits
}

export async function walletFrom (opts: ChainOpts): Promise<HubWalletClient> {
  const rpc = parseUrl('--rpc', opts.rpc)
  if (opts.key == null) {
    throw new InvalidOptionError('--key', 'is required')
  }
  const { readKeyFile } = await import('../identity.ts')
  const identity = await readKeyFile(opts.key).catch((err: Error) => { throw new InvalidOptionError('--key', err.message) })
  const { createPublicClient, createWalletClient, defineChain, http, webSocket } = await import('viem')
  const { privateKeyToAccount } = await import('viem/accounts')
  const transport = rpc.startsWith('ws') ? webSocket(rpc) : http(rpc)
  const chainId = await createPublicClient({ transport }).getChainId()
  const chain = defineChain({ id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [rpc] } } })
  return createWalletClient({ account: privateKeyToAccount(identity.privateKey), chain, transport, pollingInterval: 250 })
}

export async function readerFrom (opts: ChainOpts): Promise<PublicClient> {
  const rpc = parseUrl('--rpc', opts.rpc)
  const { createPublicClient, http, webSocket } = await import('viem')
  return createPublicClient({ transport: rpc.startsWith('ws') ? webSocket(rpc) : http(rpc) })
}

export async function deploymentFrom (opts: ChainOpts): Promise<Deployment> {
  const { readDeployment } = await import('../../contracts/deploy.ts')
  const path = opts.deployment ?? 'deployment.json'
  return readDeployment(path).catch((err: Error) => { throw new InvalidOptionError('--deployment', err.message) })
}

export async function hubFrom (opts: ChainOpts): Promise<Address> {
  return (await deploymentFrom(opts)).hub
}

export function json (value: unknown): string {
  return JSON.stringify(value, (_k, v) => typeof v === 'bigint' ? v.toString() : v, 2)
}

export function chainOptions (cmd: Command, needsKey: boolean): Command {
  cmd.option('--rpc <url>', 'JSON-RPC URL of the chain (http(s) or ws(s))')
    .option('--deployment <file>', 'deployment JSON written by `chain deploy`', 'deployment.json')
  if (needsKey) {
    cmd.option('--key <file>', 'key file: 0x-prefixed hex secp256k1 private key (the node identity key)')
  }
  return cmd
}

/** `chain …`, `session …` and `node register|unregister`; returns the `session` command so other areas can add subcommands. */
export function registerChainCommands (program: Command, nodeCommand: Command): Command {
  const chain = program.command('chain').description('contracts on an EVM chain')
  chain.command('deploy')
    .description('deploy the CortensorHub contract and write a deployment JSON (addresses, chain id)')
    .option('--rpc <url>', 'JSON-RPC URL of the chain')
    .option('--key <file>', 'deployer key file (0x-prefixed hex private key)')
    .option('--out <file>', 'where to write the deployment JSON', 'deployment.json')
    .option('--min-stake <amount>', 'minimum miner stake (wei, or e.g. 0.01eth)')
    .option('--oracle <address...>', 'oracle addresses to add after deploying')
    .action(async (opts: ChainOpts & { out: string, minStake?: string, oracle?: string[] }) => {
      const oracles = opts.oracle ?? []
      for (const o of oracles) {
        if (!ADDRESS_RE.test(o)) { throw new InvalidOptionError('--oracle', `${o} is not an address`) }
      }
      const minStakeWei = opts.minStake != null ? await parseAmount('--min-stake', opts.minStake) : undefined
      const client = await walletFrom(opts)
      const { deployHub, writeDeployment } = await import('../../contracts/deploy.ts')
      const { addOracle } = await import('../../contracts/actions/oracles.ts')
      say(`deploying CortensorHub from ${client.account.address}`)
      const d = await deployHub(client, { config: minStakeWei != null ? { minStakeWei } : {} })
      for (const oracle of oracles) {
        await addOracle(client, { hub: d.hub, oracle: oracle as Address })
        say(`oracle ${oracle} added`)
      }
      await writeDeployment(opts.out, d)
      say(`deployment written to ${opts.out}`)
      print(json({ chainId: d.chainId, hub: d.hub, blockNumber: d.blockNumber }))
    })

  chainOptions(chain.command('add-oracle'), true)
    .description('add an oracle to the hub\'s oracle set (the hub owner\'s key)')
    .argument('<address>', 'the oracle node\'s address (cortensor id prints it)')
    .action(async (address: string, opts: ChainOpts) => {
      if (!ADDRESS_RE.test(address)) { throw new InvalidOptionError('<address>', `${address} is not an address`) }
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { addOracle } = await import('../../contracts/actions/oracles.ts')
      await addOracle(client, { hub, oracle: address as Address })
      print(json({ hub, oracle: address }))
    })

  const session = program.command('session').description('sessions: a deposit that pays for tasks')
  chainOptions(session.command('create'), true)
    .description('create a session with a deposit; prints its id')
    .requiredOption('--model <sha256|file>', 'model id (0x sha256 of the GGUF) or the GGUF file to hash')
    .requiredOption('--deposit <amount>', 'deposit (wei, or e.g. 0.1eth)')
    .option('--price <amount>', 'price per token (wei)', '1000000000')
    .option('--redundancy <n>', 'miners per task', '3')
    .option('--min-miners <n>', 'minimum miners', '1')
    .option('--max-miners <n>', 'maximum miners', '5')
    .option('--validation <mode>', '0 structural, 1 embedding distance, 2 replay check', '0')
    .option('--sla <class>', 'SLA class 0–3', '1')
    .option('--reserve-period <seconds>', 'how long the session takes tasks', '3600')
    .option('--max-tasks <n>', 'task budget', '100')
    .action(async (opts: ChainOpts & Record<string, string>) => {
      const params = {
        modelId: await parseModel('--model', opts.model),
        depositWei: await parseAmount('--deposit', opts.deposit),
        pricePerTokenWei: await parseAmount('--price', opts.price),
        redundancy: parseIntIn('--redundancy', opts.redundancy, 1, 16),
        minMiners: parseIntIn('--min-miners', opts.minMiners, 1, 16),
        maxMiners: parseIntIn('--max-miners', opts.maxMiners, 1, 16),
        validationMode: parseIntIn('--validation', opts.validation, 0, 2),
        slaClass: parseIntIn('--sla', opts.sla, 0, 3),
        reservePeriodS: parseIntIn('--reserve-period', opts.reservePeriod, 1, 2 ** 32 - 1),
        maxTasks: parseIntIn('--max-tasks', opts.maxTasks, 1, 2 ** 32 - 1)
      }
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { createSession } = await import('../../contracts/actions/sessions.ts')
      const { sessionId } = await createSession(client, { hub, ...params })
      say(`session ${sessionId} created`)
      print(String(sessionId))
    })
  chainOptions(session.command('show'), false)
    .description('print a session as JSON')
    .argument('<id>', 'session id')
    .action(async (id: string, opts: ChainOpts) => {
      if (!/^\d+$/.test(id)) { throw new InvalidOptionError('<id>', `${id} is not a session id`) }
      const hub = await hubFrom(opts)
      const client = await readerFrom(opts)
      const { getSession } = await import('../../contracts/actions/sessions.ts')
      print(json(await getSession(client, { hub, sessionId: BigInt(id) })))
    })
  chainOptions(session.command('close'), true)
    .description('close a session and refund the unspent deposit')
    .argument('<id>', 'session id')
    .action(async (id: string, opts: ChainOpts) => {
      if (!/^\d+$/.test(id)) { throw new InvalidOptionError('<id>', `${id} is not a session id`) }
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { closeSession } = await import('../../contracts/actions/sessions.ts')
      const { refundWei } = await closeSession(client, { hub, sessionId: BigInt(id) })
      print(json({ sessionId: id, refundWei }))
    })

  chainOptions(nodeCommand.command('register'), true)
    .description('register this node on chain with a stake')
    .requiredOption('--stake <amount>', 'stake (wei, or e.g. 0.01eth)')
    .option('--roles <list>', 'comma-separated: miner, oracle, router, bootstrap', 'miner')
    .option('--model <sha256|file...>', 'served models (0x sha256 of the GGUF, or the file to hash)')
    .option('--hardware-class <n>', 'hardware class (0 CPU … 255)', '0')
    .action(async (opts: ChainOpts & { stake: string, roles: string, model?: string[], hardwareClass: string }) => {
      const roles = parseRoles(opts.roles)
      const models: Hex[] = []
      for (const m of opts.model ?? []) { models.push(await parseModel('--model', m)) }
      if ((roles & 1) !== 0 && models.length === 0) { throw new InvalidOptionError('--model', 'a miner must name at least one model') }
      const stakeWei = await parseAmount('--stake', opts.stake)
      const hardwareClass = parseIntIn('--hardware-class', opts.hardwareClass, 0, 255)
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { registerNode } = await import('../../contracts/actions/registry.ts')
      await registerNode(client, { hub, roles, hardwareClass, models, stakeWei })
      print(json({ node: client.account.address, roles, hardwareClass, models, stakeWei }))
    })
  chainOptions(nodeCommand.command('unregister'), true)
    .description('leave the pool: request unstake, or withdraw the stake once the cooldown is over')
    .action(async (opts: ChainOpts) => {
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { getNode, requestUnstake, withdrawStake } = await import('../../contracts/actions/registry.ts')
      const node = await getNode(client, { hub, node: client.account.address })
      if (node.registered && node.unstakeReadyAt !== 0) {
        const { amountWei } = await withdrawStake(client, { hub })
        print(json({ node: client.account.address, withdrawnWei: amountWei }))
        return
      }
      const { readyAt } = await requestUnstake(client, { hub })
      say(`unstake requested; run \`cortensor node unregister\` again after ${new Date(Number(readyAt) * 1000).toISOString()} to withdraw`)
      print(json({ node: client.account.address, unstakeReadyAt: readyAt }))
    })
  return session
}
