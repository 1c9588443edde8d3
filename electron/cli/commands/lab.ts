import type { Command } from 'commander';

/** `ferry lab ...`: filled in with the lab. */
export function registerLabCommands(_program: Command): void {}
