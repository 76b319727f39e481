import type { Command } from 'commander'

/** `cortensor sim …` commands. */
export function registerSimCommands (_program: Command): void {}
