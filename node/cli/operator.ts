/**
 * An operator's money commands: `cortensor node withdraw`, `node stake add`,
 * `node status` and `session top-up`. Every one reads or writes the hub of
 * the deployment given with `--deployment` on the chain given with `--rpc`,
 * as `node register` does, and prints a human summary or, with `--json`, one
 * JSON object (amounts in wei as decimal strings).
 */
import { ADDRESS_RE, ROLE_BITS, chainOptions, deploymentFrom, hubFrom, json, parseAmount, readerFrom, walletFrom } from './chain.ts'
import { InvalidOptionError, NothingToWithdrawError } from './errors.ts'
import { print, say } from './output.ts'
import type { ChainOpts } from './chain.ts'
import type { Command } from 'commander'
import type { Address } from 'viem'

interface JsonOpt { json?: boolean }

const SLASH_REASONS: Record<number, string> = { 1: 'equivocation', 2: 'replay' }

async function formatEth (wei: bigint): Promise<string> {
  const { formatEther } = await import('viem')
  return `${formatEther(wei)} ETH`
}

/** An amount argument: more than zero, in the syntax of `--stake` (wei, or e.g. 0.5eth). */
async function positiveAmount (name: string, value: string): Promise<bigint> {
  const wei = await parseAmount(name, value)
  if (wei === 0n) {
    throw new InvalidOptionError(name, 'must be more than 0')
  }
  return wei
}

function slashLine (slashes: Array<{ taskId: bigint, amountWei: bigint, reason: string }> | null): string {
  if (slashes == null) {
    return 'unknown (the RPC refused the event query)'
  }
  if (slashes.length === 0) {
    return 'none'
  }
  return slashes.map(s => `task ${s.taskId} (${s.reason}, ${s.amountWei} wei)`).join(', ')
}

function roleNames (bits: number): string[] {
  return Object.entries(ROLE_BITS).filter(([, bit]) => (bits & bit) !== 0).map(([name]) => name)
}

/** The node whose status to show: `--address`, or the address of `--key`. */
async function addressFrom (opts: ChainOpts & { address?: string }): Promise<Address> {
  if (opts.address != null) {
    if (!ADDRESS_RE.test(opts.address)) {
      throw new InvalidOptionError('--address', `${opts.address} is not an address`)
    }
    if (opts.key != null) {
      throw new InvalidOptionError('--address', 'give either --address or --key, not both')
    }
    return opts.address as Address
  }
  if (opts.key == null) {
    throw new InvalidOptionError('--key', 'is required (or --address)')
  }
  const { readKeyFile } = await import('../identity.ts')
  const identity = await readKeyFile(opts.key).catch((err: Error) => { throw new InvalidOptionError('--key', err.message) })
  return identity.address as Address
}

export function registerOperatorCommands (nodeCommand: Command, sessionCommand: Command): void {
  chainOptions(nodeCommand.command('withdraw'), true)
    .description('withdraw this node\'s earnings; and its stake too once an unstake request (`node unregister`) has passed its cooldown')
    .option('--json', 'print as JSON')
    .action(async (opts: ChainOpts & JsonOpt) => {
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { getBlock } = await import('viem/actions')
      const { getNode, withdrawEarnings, withdrawStake } = await import('../../contracts/actions/registry.ts')
      const address = client.account.address
      const [node, block] = await Promise.all([getNode(client, { hub, node: address }), getBlock(client)])
      // the hub's clock is the block time, not this machine's
      const stakeReady = node.registered && node.unstakeReadyAt !== 0 && BigInt(node.unstakeReadyAt) <= block.timestamp
      if (node.earningsWei === 0n && !stakeReady) {
        const pending = node.registered && node.unstakeReadyAt !== 0 ? `; the stake unlocks at ${new Date(node.unstakeReadyAt * 1000).toISOString()}` : ''
        throw new NothingToWithdrawError(address, `no earnings${pending}`)
      }
      const transactions: string[] = []
      let earningsWei = 0n
      let stakeWei = 0n
      if (node.earningsWei > 0n) {
        const res = await withdrawEarnings(client, { hub })
        earningsWei = res.amountWei
        transactions.push(res.hash)
      }
      if (stakeReady) {
        const res = await withdrawStake(client, { hub })
        stakeWei = res.amountWei
        transactions.push(res.hash)
      }
      const { getBalance } = await import('viem/actions')
      const balanceWei = await getBalance(client, { address })
      if (opts.json === true) {
        print(json({ node: address, earningsWei, stakeWei, unregistered: stakeReady, balanceWei, transactions }))
        return
      }
      print(`withdrew ${await formatEth(earningsWei)} of earnings${stakeReady ? ` and ${await formatEth(stakeWei)} of stake (the node is unregistered)` : ''} to ${address}`)
      if (!stakeReady && node.unstakeReadyAt !== 0) {
        say(`the stake unlocks at ${new Date(node.unstakeReadyAt * 1000).toISOString()}; run \`cortensor node withdraw\` again then`)
      }
      print(`balance: ${await formatEth(balanceWei)}`)
    })

  const stake = nodeCommand.command('stake').description('this node\'s stake')
  chainOptions(stake.command('add'), true)
    .description('add to this node\'s stake (the node must be registered and not leaving)')
    .argument('<amount>', 'amount (wei, or e.g. 0.01eth)')
    .option('--json', 'print as JSON')
    .action(async (amount: string, opts: ChainOpts & JsonOpt) => {
      const amountWei = await positiveAmount('<amount>', amount)
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { addStake } = await import('../../contracts/actions/registry.ts')
      const res = await addStake(client, { hub, amountWei })
      if (opts.json === true) {
        print(json({ node: client.account.address, addedWei: amountWei, stakeWei: res.stakeWei, transaction: res.hash }))
        return
      }
      print(`added ${await formatEth(amountWei)}; stake is now ${await formatEth(res.stakeWei)}`)
    })

  chainOptions(nodeCommand.command('status'), true)
    .description('a node\'s standing on chain: registration, roles, stake, earnings, level, settled tasks by verdict, slashes')
    .option('--address <address>', 'the node to show, instead of the address of --key')
    .option('--json', 'print as JSON')
    .action(async (opts: ChainOpts & JsonOpt & { address?: string }) => {
      const address = await addressFrom(opts)
      const deployment = await deploymentFrom(opts)
      const hub = deployment.hub
      const client = await readerFrom(opts)
      const { getBalance, getBlock } = await import('viem/actions')
      const { getMinStake, getNode, getNodeHistory } = await import('../../contracts/actions/registry.ts')
      const [node, minStakeWei, balanceWei, block] = await Promise.all([
        getNode(client, { hub, node: address }),
        getMinStake(client, { hub }),
        getBalance(client, { address }),
        getBlock(client)
      ])
      // events since the deployment; an RPC that refuses the range leaves the history out, said so
      const history = await getNodeHistory(client, { hub, node: address, fromBlock: BigInt(deployment.blockNumber ?? 0) }).catch((err: Error) => {
        say(`slash and withdrawal history unavailable: ${err.message.split('\n')[0]}`)
        return null
      })
      const leaving = node.unstakeReadyAt !== 0
      const status = {
        node: address,
        hub,
        registered: node.registered,
        roles: roleNames(node.roles),
        hardwareClass: node.hardwareClass,
        models: node.models,
        stakeWei: node.stakeWei,
        minStakeWei,
        unstakeReadyAt: leaving ? new Date(node.unstakeReadyAt * 1000).toISOString() : null,
        stakeWithdrawable: leaving && BigInt(node.unstakeReadyAt) <= block.timestamp,
        earningsWei: node.earningsWei,
        balanceWei,
        level: node.level,
        tasks: { honest: node.tasksDone, faulty: node.tasksFailed, missed: node.missed, onTime: node.onTime },
        earningsWithdrawnWei: history?.earningsWithdrawnWei ?? null,
        slashes: history?.slashes.map(s => ({ taskId: s.taskId, amountWei: s.amountWei, reason: SLASH_REASONS[s.reason] ?? String(s.reason), transaction: s.transactionHash })) ?? null
      }
      if (opts.json === true) {
        print(json(status))
        return
      }
      const lines = [
        `node:       ${address}`,
        `registered: ${node.registered ? `yes, as ${status.roles.join(', ')} (hardware class ${node.hardwareClass})` : 'no'}`,
        `stake:      ${await formatEth(node.stakeWei)} (minimum for miners ${await formatEth(minStakeWei)})${leaving ? `, leaving: withdrawable ${status.stakeWithdrawable ? 'now' : `from ${status.unstakeReadyAt}`}` : ''}`,
        `earnings:   ${await formatEth(node.earningsWei)} to withdraw${history != null ? `, ${await formatEth(history.earningsWithdrawnWei)} withdrawn before` : ''}`,
        `balance:    ${await formatEth(balanceWei)}`,
        `level:      ${node.level}`,
        `tasks:      ${node.tasksDone} honest, ${node.tasksFailed} faulty, ${node.missed} missed (${node.onTime} on time)`,
        `slashes:    ${slashLine(status.slashes)}`
      ]
      if (node.models.length > 0) {
        lines.push(`models:     ${node.models.join(', ')}`)
      }
      print(lines.join('\n'))
    })

  chainOptions(sessionCommand.command('top-up'), true)
    .description('add to a session\'s deposit (anyone may top up any open session)')
    .argument('<id>', 'session id')
    .argument('<amount>', 'amount (wei, or e.g. 0.1eth)')
    .option('--json', 'print as JSON')
    .action(async (id: string, amount: string, opts: ChainOpts & JsonOpt) => {
      if (!/^\d+$/.test(id)) { throw new InvalidOptionError('<id>', `${id} is not a session id`) }
      const amountWei = await positiveAmount('<amount>', amount)
      const hub = await hubFrom(opts)
      const client = await walletFrom(opts)
      const { topUpSession } = await import('../../contracts/actions/sessions.ts')
      const res = await topUpSession(client, { hub, sessionId: BigInt(id), amountWei })
      if (opts.json === true) {
        print(json({ sessionId: id, addedWei: amountWei, availableWei: res.availableWei, transaction: res.hash }))
        return
      }
      print(`session ${id}: added ${await formatEth(amountWei)}; ${await formatEth(res.availableWei)} available`)
    })
}
