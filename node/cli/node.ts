import type { Command } from 'commander'

/** `cortensor node …` and `cortensor id`; returns the `node` command so other areas can add subcommands. */
export function registerNodeCommands (program: Command): Command {
  return program.command('node').description('run and manage a node')
}
