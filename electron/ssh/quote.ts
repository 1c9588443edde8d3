import { FerryError } from '../../shared/errors.ts';

/**
 * Quote argv for the remote user's POSIX shell: every argument is wrapped in single
 * quotes, and an embedded ' becomes '\''. Inside single quotes sh interprets nothing
 * ($, `, \, globs, newlines), so the remote program receives exactly these strings.
 */
export function quoteArgv(argv: string[]): string {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new FerryError({
      code: 'exec-invalid-argv',
      message: 'No command given: the argument list is empty.',
      hint: 'Pass the program and its arguments, e.g. ["uname", "-a"].',
    });
  }
  return argv.map(quoteArg).join(' ');
}

export function quoteArg(arg: string): string {
  if (typeof arg !== 'string') {
    throw new FerryError({
      code: 'exec-invalid-argv',
      message: `Command arguments must be strings, got ${typeof arg}.`,
    });
  }
  // A C string cannot hold NUL, so the remote side could never receive it intact.
  if (arg.includes('\0')) {
    throw new FerryError({
      code: 'exec-invalid-argv',
      message: 'A command argument contains a NUL byte, which cannot be passed to a remote program.',
      hint: 'Remove the NUL byte, or send binary data on stdin instead of as an argument.',
    });
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
