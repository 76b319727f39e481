import type { Command } from 'commander'

/** `cortensor model …` commands (generate, info). */
export function registerModelCommands (_program: Command): void {}
