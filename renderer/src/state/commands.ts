import type { CommandRecord } from '../../../shared/api.ts';
import type { CommandEntry } from './engine.ts';

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell would need it typed: the log is copy-pastable. */
export function shellQuote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function argvLine(argv: readonly string[], sudo = false): string {
  return `${sudo ? 'sudo ' : ''}${argv.map(shellQuote).join(' ')}`;
}

/** The command as it ran; a piped copy reads `a | b`. */
export function commandLine(r: Pick<CommandRecord, 'argv' | 'sudo' | 'pipeTo'>): string {
  const first = argvLine(r.argv, r.sudo);
  return r.pipeTo ? `${first} | ${argvLine(r.pipeTo.argv, r.pipeTo.sudo)}` : first;
}

/** Where it ran: `source` or `source → target` for a pipe. */
export function commandHosts(r: Pick<CommandRecord, 'host' | 'pipeTo'>): string {
  return r.pipeTo ? `${r.host} → ${r.pipeTo.host}` : r.host;
}

export type CommandStatus = 'running' | 'ok' | 'failed' | 'timed-out';

export function commandStatus(c: CommandEntry): CommandStatus {
  if (!c.finished) return 'running';
  if (c.finished.timedOut) return 'timed-out';
  return c.finished.code === 0 ? 'ok' : 'failed';
}

/** The exit as a user reads it: `exit 0`, `exit 1`, `signal KILL`, `timed out`. */
export function exitLabel(c: CommandEntry): string {
  const f = c.finished;
  if (!f) return 'running';
  if (f.timedOut) return `timed out${f.signal ? ` (signal ${f.signal})` : ''}`;
  if (f.code !== null) return `exit ${f.code}`;
  if (f.signal) return `signal ${f.signal}`;
  return 'did not start';
}

/** "hook before cutover: drain": how the command log labels a user's traffic hook. */
export function hookLabel(h: NonNullable<CommandRecord['hook']>): string {
  return `hook ${h.phase.replace('-', ' ')}: ${h.name}`;
}
