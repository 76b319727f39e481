import { Command, CommanderError } from 'commander'
import { registerChainCommands } from './chain.ts'
import { registerDevnetCommands } from './devnet.ts'
import { isUsageError } from './errors.ts'
import { registerModelCommands } from './model.ts'
import { registerNodeCommands } from './node.ts'
import { registerOperatorCommands } from './operator.ts'
import { registerRouterCommands } from './router.ts'
import { registerSimCommands } from './sim.ts'
import { registerTaskCommands } from './task.ts'

export function createProgram (): Command {
  const program = new Command('cortensor')
    .description('Node and tools for the cortensor-mesh decentralized inference network')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')

  const nodeCommand = registerNodeCommands(program)
  const sessionCommand = registerChainCommands(program, nodeCommand)
  registerOperatorCommands(nodeCommand, sessionCommand)
  registerModelCommands(program)
  registerSimCommands(program)
  registerDevnetCommands(program)
  registerRouterCommands(program)
  registerTaskCommands(program)

  // commander's own errors (unknown option, missing argument) become exit code 2
  const configure = (cmd: Command): void => {
    cmd.exitOverride()
    cmd.commands.forEach(configure)
  }
  configure(program)
  return program
}

const VERSION = '0.1.0'

/**
 * Run the CLI. Resolves with the exit code; never prints a stack trace for
 * bad input (DEBUG=cortensor:* shows stacks for unexpected errors).
 */
export async function main (argv: string[]): Promise<number | undefined> {
  const program = createProgram()
  try {
    await program.parseAsync(argv)
    return undefined
  } catch (err: any) {
    if (err instanceof CommanderError) {
      // help and version end with exit code 0 and have already printed
      return err.exitCode === 0 ? 0 : 2
    }
    if (isUsageError(err)) {
      process.stderr.write(`cortensor: ${err.message}\n`)
      return 2
    }
    process.stderr.write(`cortensor: ${err?.message ?? String(err)}\n`)
    if (process.env.DEBUG?.includes('cortensor') === true && err?.stack != null) {
      process.stderr.write(`${err.stack}\n`)
    }
    return 1
  }
}
