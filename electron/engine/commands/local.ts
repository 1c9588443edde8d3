/**
 * This machine as a host the CommandRunner can run commands on (local traffic hooks): the same
 * exec() contract as an SSH session, so a local command is recorded, streamed, timed out and
 * journaled exactly like a remote one, under the host name 'local'.
 */
import { execa } from 'execa';
import { LOCAL_HOST } from '../../../shared/api.ts';
import { FerryError } from '../../../shared/errors.ts';
import type { ExecOptions, ExecResult } from '../../ssh/index.ts';

/** What a local command gets from Ferry's environment without asking: enough to find programs and speak the locale. */
const BASE_ENV = /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$/;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export interface LocalHostOptions {
  /** Ferry's own environment, where the base variables come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Between TERM and KILL when a command is stopped. */
  killGraceMs?: number;
}

export class LocalHost {
  readonly alias = LOCAL_HOST;
  private readonly env: NodeJS.ProcessEnv;
  private readonly killGraceMs: number;

  constructor(opts: LocalHostOptions = {}) {
    this.env = opts.env ?? process.env;
    this.killGraceMs = opts.killGraceMs ?? 2000;
  }

  /**
   * Run argv (no shell) with a minimal environment: PATH, HOME, USER, LOGNAME, LANG, LC_*,
   * TZ, TMPDIR from Ferry's environment, plus opts.env. The command gets its own process
   * group, so a timeout stops everything it started (TERM, then KILL after a grace period).
   */
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = argv;
    if (!file) throw new FerryError({ code: 'invalid-argument', host: LOCAL_HOST, message: 'An empty command cannot run on this machine' });
    if (opts.sudo) {
      throw new FerryError({ code: 'invalid-argument', host: LOCAL_HOST, message: 'Ferry never runs commands on this machine through sudo', hint: 'Run a local hook as the user running Ferry.' });
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.env)) if (v !== undefined && BASE_ENV.test(k)) env[k] = v;
    Object.assign(env, opts.env);
    const stdinIsData = typeof opts.stdin === 'string' || Buffer.isBuffer(opts.stdin);
    const started = new Date();
    const child = execa(file, args, {
      env,
      extendEnv: false,
      detached: true,
      buffer: false,
      reject: false,
      stdout: 'pipe',
      stderr: 'pipe',
      // Data goes in as `input`; a stream is piped below; nothing means no stdin at all.
      ...(stdinIsData ? { input: opts.stdin as string | Buffer } : { stdin: opts.stdin === undefined ? ('ignore' as const) : ('pipe' as const) }),
    });
    if (opts.stdin !== undefined && !stdinIsData) (opts.stdin as NodeJS.ReadableStream).pipe(child.stdin!);

    const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    let truncated = false;
    const collect = (stream: NodeJS.ReadableStream | null, into: Buffer[], cb?: (b: Buffer) => void) => {
      let size = 0;
      stream?.on('data', (b: Buffer) => {
        cb?.(b);
        if (size >= max) {
          truncated = true;
          return;
        }
        into.push(b.subarray(0, max - size));
        size += b.length;
        if (size > max) truncated = true;
      });
    };
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    collect(child.stdout, out, opts.onStdout);
    collect(child.stderr, err, opts.onStderr);

    let stopped: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const group = (sig: NodeJS.Signals) => {
      try {
        // The negative pid is the command's process group (detached: it leads its own).
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const stop = (kind: 'timeout' | 'abort') => {
      if (stopped) return;
      stopped = kind;
      group('SIGTERM');
      killTimer = setTimeout(() => {
        group('SIGKILL');
        // Something that left the group may still hold the pipes: stop waiting for them.
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, 500).unref();
      }, this.killGraceMs);
    };
    const timer = opts.timeoutMs ? setTimeout(() => stop('timeout'), opts.timeoutMs) : undefined;
    const onAbort = () => stop('abort');
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    const r = await child.finally(() => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    });
    const ended = new Date();
    if (r.exitCode === undefined && !r.signal && !stopped) {
      // It never ran: no such program, not executable, ...
      const why = (r as { code?: string }).code === 'ENOENT' ? 'no such program on this machine (searched PATH)' : r.shortMessage;
      throw new FerryError({
        code: 'local-command-failed',
        host: LOCAL_HOST,
        message: `Could not start ${file} on this machine: ${why}`,
        hint: 'Check the program name, or give its absolute path; local commands get Ferry\'s PATH.',
      });
    }
    return {
      host: LOCAL_HOST,
      argv: [...argv],
      command: argv.join(' '),
      code: r.exitCode ?? null,
      signal: r.signal ? r.signal.replace(/^SIG/, '') : null,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      timedOut: stopped === 'timeout',
      cancelled: stopped === 'abort',
      truncated: truncated || undefined,
    };
  }
}
