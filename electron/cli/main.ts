import { Command, CommanderError } from 'commander';
import { formatError, isFerryError } from '../../shared/errors.ts';
import { registerDirtyCommand } from './commands/dirty.ts';
import { registerHostCommands } from './commands/hosts.ts';
import { registerLabCommands } from './commands/lab.ts';
import { registerMigrateCommands } from './commands/migrate.ts';
import { registerRehearseCommand } from './commands/rehearse.ts';
import { registerUiCommand } from './commands/ui.ts';

/** Build the `ferry` command tree. Each area registers its own subcommands. */
export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Live migration of Linux processes between hosts with CRIU, over SSH.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerHostCommands(program);
  registerLabCommands(program);
  registerMigrateCommands(program);
  registerDirtyCommand(program);
  registerRehearseCommand(program);
  registerUiCommand(program);
  return program;
}

/** Run the CLI; resolves to the process exit code. Errors become one clear block, not a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // Commands report their outcome through process.exitCode (e.g. 3 for rolled back).
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (isFerryError(e)) {
      process.stderr.write(`ferry: ${formatError(e)}\n`);
      return 1;
    }
    process.stderr.write(`ferry: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.FERRY_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
