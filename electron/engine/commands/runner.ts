import { randomUUID } from 'node:crypto';
import { LOCAL_HOST, type CommandRecord, type EngineEvent } from '../../../shared/api.ts';
import { FerryError } from '../../../shared/errors.ts';
import { pipeBetween, type ExecOptions, type ExecResult, type HostSession } from '../../ssh/index.ts';
import { LocalHost } from './local.ts';

/** How Ferry gets root on a host: logged in as root, or through `sudo -n`. */
export type Privilege = 'root' | 'sudo';

export interface RunOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: ExecOptions['stdin'];
  /** Commands whose output is not worth streaming to the UI (e.g. base64 of an image). */
  quiet?: boolean;
  /** A non-zero exit is a failure the caller wants as an exception. */
  check?: boolean;
  /** Words for the error when `check` fails. */
  what?: string;
  /** pipe only: the running byte count, as data passes through the console. */
  onBytes?: (bytes: number) => void;
  /** Each chunk of stdout as it arrives (a long-running follower the engine reads live). */
  onStdout?: (chunk: Buffer) => void;
  /** Environment values for the command (never recorded: only the hook's variable names are). */
  env?: Record<string, string>;
  /** Marks a user's traffic hook in the record, so the log, report and runbook tell it apart. */
  hook?: CommandRecord['hook'];
  /** Told the command's id once it is recorded as started. */
  onStart?(commandId: string): void;
}

/** Streamed output is cut per command so one chatty command cannot flood the journal. */
const MAX_STREAMED_BYTES = 256 * 1024;

/**
 * Runs commands for one migration on its hosts. Each command is recorded before it
 * starts and after it ends (journal first, then the UI), so the command log and the
 * runbook hold exactly what ran. The host named 'local' (LOCAL_HOST) is this machine:
 * its commands run without ssh but are recorded the same way.
 */
export class CommandRunner {
  private readonly local: LocalHost;

  constructor(
    private readonly record: (e: EngineEvent) => void,
    private readonly sessions: (alias: string) => HostSession,
    private readonly privilege: (alias: string) => Privilege,
    private readonly migrationId?: string,
    local?: LocalHost,
  ) {
    this.local = local ?? new LocalHost();
  }

  private host(alias: string): Pick<HostSession, 'exec'> {
    return alias === LOCAL_HOST ? this.local : this.sessions(alias);
  }

  async run(host: string, argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
    const commandId = randomUUID();
    const sudo = host !== LOCAL_HOST && this.privilege(host) === 'sudo';
    this.record({
      type: 'command-started',
      commandId,
      migrationId: this.migrationId,
      host,
      argv,
      sudo,
      startedAt: new Date().toISOString(),
      ...(opts.hook ? { hook: opts.hook } : {}),
    });
    opts.onStart?.(commandId);
    let streamed = 0;
    const stream = (kind: 'stdout' | 'stderr') => (chunk: Buffer) => {
      if (kind === 'stdout') opts.onStdout?.(chunk);
      if (opts.quiet || streamed >= MAX_STREAMED_BYTES) return;
      const text = chunk.subarray(0, MAX_STREAMED_BYTES - streamed).toString('utf8');
      streamed += chunk.length;
      this.record({ type: 'command-output', commandId, migrationId: this.migrationId, stream: kind, text });
    };
    let result: ExecResult;
    try {
      result = await this.host(host).exec(argv, {
        sudo,
        env: opts.env,
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        stdin: opts.stdin,
        onStdout: stream('stdout'),
        onStderr: stream('stderr'),
      });
    } catch (e) {
      this.record({
        type: 'command-finished',
        commandId,
        migrationId: this.migrationId,
        code: null,
        signal: null,
        durationMs: 0,
        timedOut: false,
        endedAt: new Date().toISOString(),
      });
      throw e;
    }
    this.record({
      type: 'command-finished',
      commandId,
      migrationId: this.migrationId,
      code: result.code,
      signal: result.signal,
      durationMs: result.durationMs,
      timedOut: result.timedOut,
      endedAt: result.endedAt,
    });
    if (opts.check && result.code !== 0) {
      throw new FerryError({
        code: result.timedOut ? 'command-timeout' : 'command-failed',
        host,
        message: result.timedOut
          ? `${opts.what ?? argv[0]} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s and was stopped`
          : `${opts.what ?? argv[0]} failed (exit ${result.code ?? `signal ${result.signal}`})`,
        evidence: lastLine(result.stderr) || lastLine(result.stdout),
      });
    }
    return result;
  }

  /**
   * Stream one host's command output into another host's command, through the console
   * without storing it (image files at cutover). Recorded as one piped command.
   */
  async pipe(from: string, fromArgv: string[], to: string, toArgv: string[], opts: RunOptions = {}): Promise<{ bytes: number; durationMs: number }> {
    const commandId = randomUUID();
    const sudoFrom = this.privilege(from) === 'sudo';
    const sudoTo = this.privilege(to) === 'sudo';
    const startedAt = new Date();
    this.record({
      type: 'command-started',
      commandId,
      migrationId: this.migrationId,
      host: from,
      argv: fromArgv,
      sudo: sudoFrom,
      startedAt: startedAt.toISOString(),
      pipeTo: { host: to, argv: toArgv, sudo: sudoTo },
    });
    const finish = (code: number | null, signal: string | null, timedOut: boolean) =>
      this.record({
        type: 'command-finished',
        commandId,
        migrationId: this.migrationId,
        code,
        signal,
        durationMs: Date.now() - startedAt.getTime(),
        timedOut,
        endedAt: new Date().toISOString(),
      });
    let r: Awaited<ReturnType<typeof pipeBetween>>;
    try {
      r = await pipeBetween(this.sessions(from), fromArgv, this.sessions(to), toArgv, {
        timeoutMs: opts.timeoutMs,
        signal: opts.signal,
        sudoFrom,
        sudoTo,
        onBytes: opts.onBytes,
      });
    } catch (e) {
      finish(null, null, false);
      throw e;
    }
    const failed = r.from.code !== 0 ? r.from : r.to.code !== 0 ? r.to : undefined;
    finish(failed ? failed.code : 0, failed?.signal ?? null, r.from.timedOut || r.to.timedOut);
    if (failed && opts.check !== false) {
      throw new FerryError({
        code: failed.timedOut ? 'command-timeout' : 'command-failed',
        host: failed.host,
        message: `${opts.what ?? 'copy'} failed on ${failed.host} (exit ${failed.code ?? `signal ${failed.signal}`})`,
        evidence: lastLine(failed.stderr),
      });
    }
    return { bytes: r.bytes, durationMs: Date.now() - startedAt.getTime() };
  }

  /**
   * Write a small file as root from data sent on stdin (TLS keys). The record holds
   * the path and mode only: stdin is never journaled, and the command prints nothing. Created
   * under umask 077, then given `mode` (octal, e.g. '0600').
   */
  async writeFile(host: string, path: string, data: string | Buffer, opts: { mode: string; what?: string }): Promise<void> {
    if (!/^0?[0-7]{3}$/.test(opts.mode)) throw new FerryError({ code: 'invalid-argument', host, message: `Not a file mode: ${opts.mode}` });
    await this.run(host, ['sh', '-c', 'umask 077 && cat > "$1" && chmod "$2" "$1"', 'ferry-write-file', path, opts.mode], {
      stdin: data,
      quiet: true,
      check: true,
      what: opts.what ?? `writing ${path}`,
    });
  }

  /** Read a (small, possibly binary) file as root: base64 through the exec channel works with sudo too. */
  async readFile(host: string, path: string, opts: RunOptions = {}): Promise<Buffer> {
    const r = await this.run(host, ['base64', '-w0', '--', path], { ...opts, quiet: true, check: true, what: `reading ${path}` });
    return Buffer.from(r.stdout.trim(), 'base64');
  }
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}
