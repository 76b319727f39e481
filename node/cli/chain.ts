import type { Command } from 'commander'

/** `cortensor chain …`, `cortensor session …`, `cortensor node register|unregister`. */
export function registerChainCommands (_program: Command, _nodeCommand: Command): void {}
