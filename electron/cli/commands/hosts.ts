import type { Command } from 'commander';

/** `ferry hosts`, `ferry exec`: filled in with the SSH layer. */
export function registerHostCommands(_program: Command): void {}
