/**
 * Turn a failed criu run into one error a user can act on: what went wrong, what to do, and the
 * exact criu line that says why. Rules are checked in order; the first match wins, which matters:
 * a dump to a missing page server also logs `Unable to detach from PID: No such process`
 * (spurious), so page-server-unreachable is tried before no-such-process.
 * Wording is CRIU 3.17.1's, as recorded in fixtures/criu/failures, rollback and lazy.
 */
import type { FerryErrorInfo } from '../../shared/errors.ts';
import { isHarmlessError, parseLog, type CriuLogLine } from './parse.ts';

export type CriuCommandName =
  | 'pre-dump'
  | 'dump'
  | 'restore'
  | 'page-server'
  | 'lazy-pages'
  | 'check'
  | 'cpuinfo dump'
  | 'cpuinfo check'
  | 'version';

export interface DiagnoseInput {
  command: CriuCommandName;
  /** criu's exit code; null when it was killed by a signal (then pass `signal`). */
  exitCode: number | null;
  signal?: string;
  stdout?: string;
  stderr?: string;
  /** The -v4 log (`-o LOG`); with -o, criu writes its errors only there. */
  log?: string;
  host?: string;
  pid?: number;
}

export type CriuFailureCode =
  | 'criu-missing'
  | 'criu-option-unsupported'
  | 'not-root'
  | 'pid-taken'
  | 'file-missing-on-target'
  | 'file-differs-on-target'
  | 'not-session-leader'
  | 'page-server-unreachable'
  | 'port-in-use'
  | 'missing-parent-images'
  | 'no-such-process'
  | 'address-unavailable'
  | 'criu-killed'
  | 'page-server-died'
  | 'criu-failed';

export interface CriuDiagnosis extends FerryErrorInfo {
  code: CriuFailureCode;
  command: CriuCommandName;
  message: string;
  hint: string;
}

interface Ctx {
  input: DiagnoseInput;
  lines: CriuLogLine[];
  killed: boolean;
  who: string;
}

interface Rule {
  code: CriuFailureCode;
  match(ctx: Ctx): { line: CriuLogLine; m: RegExpExecArray } | undefined;
  message(m: RegExpExecArray, ctx: Ctx): string;
  hint(m: RegExpExecArray, ctx: Ctx): string;
}

function find(re: RegExp, filter: (l: CriuLogLine) => boolean = () => true) {
  return (ctx: Ctx) => {
    for (const line of ctx.lines) {
      if (!filter(line)) continue;
      const m = re.exec(line.raw);
      if (m) return { line, m };
    }
    return undefined;
  };
}

const errorsOnly = (l: CriuLogLine) => l.level === 'error';

const RULES: Rule[] = [
  {
    code: 'criu-missing',
    match: find(/(?:^|\s|\/)criu: (?:command )?not found|criu: No such file or directory/),
    message: () => 'criu is not installed here, or not on the PATH of this login',
    hint: () => 'Install criu (Debian/Ubuntu: apt install criu) or set the criu path to /usr/sbin/criu; it is not on an ordinary user’s PATH.',
  },
  {
    code: 'criu-option-unsupported',
    match: find(/unrecognized option '([^']+)'|invalid option -- '?([^'\s]+)'?/),
    message: (m, c) => `This criu does not know the option ${m[1] ?? m[2]} (${c.who} failed)`,
    hint: () => 'Upgrade criu on this host or turn the option off (e.g. --unprivileged exists only from CRIU 3.18).',
  },
  {
    code: 'not-root',
    match: (ctx) =>
      find(/You need to be root|needs to be run as root/i)(ctx) ??
      (find(/Could not initialize kernel features detection/)(ctx)
        ? find(/Operation not permitted/, errorsOnly)(ctx) ?? find(/Could not initialize kernel features detection/)(ctx)
        : undefined),
    message: (_m, c) => `criu ${c.input.command} must run as root and did not`,
    hint: () => 'Connect as root or allow sudo for criu on this host (CRIU 3.17 has no unprivileged mode).',
  },
  {
    code: 'pid-taken',
    match: find(/Can't fork for (\d+): File exists/),
    message: (m, c) => `PID ${m[1]} is already taken on ${c.input.host ?? 'the target'}, so criu cannot restore the process with its PID`,
    hint: (m) => `Free PID ${m[1]} on the target (stop what runs there) or run the workload in its own PID namespace so its PIDs never collide.`,
  },
  {
    code: 'file-missing-on-target',
    match: find(/Can't open file (.+?) on restore: No such file or directory/),
    message: (m, c) => `The process has ${absPath(m[1])} open, and that file does not exist on ${c.input.host ?? 'the target'}`,
    hint: (m) => `Copy ${absPath(m[1])} to the same path on the target (or add it to the file-sync list), then restore again.`,
  },
  {
    code: 'file-differs-on-target',
    match: find(/File (.+?) has bad (size|mode|build-ID)/),
    message: (m, c) => `${absPath(m[1])} on ${c.input.host ?? 'the target'} differs from the source's (bad ${m[2]})`,
    hint: (m) => `Make ${absPath(m[1])} identical on both hosts (same content and mode), e.g. add it to the file-sync list.`,
  },
  {
    code: 'not-session-leader',
    match: find(/The root process (\d+) is not a session leader|is not a session leader/),
    message: (m, c) => `Process ${m[1] ?? c.input.pid ?? '(the root of the tree)'} is not a session leader (it was started from a shell without setsid)`,
    hint: () => 'Restart the process with setsid, or migrate it with --shell-job (its terminal is then not restored).',
  },
  {
    code: 'page-server-unreachable',
    match: find(/Can't connect to (?:page )?server (\S+?):?(\d+)?\s*$|Can't connect to server|Connection refused/),
    message: (m) => `No page server answered at ${m[1] ? `${m[1]}${m[2] ? `:${m[2]}` : ''}` : 'the given address'}`,
    hint: () => 'Start `criu page-server` on the target for this iteration first, and check the address, port and firewall between the hosts.',
  },
  {
    code: 'port-in-use',
    match: (ctx) =>
      find(/Can't bind page server: Address already in use/)(ctx) ??
      (ctx.input.command === 'page-server' || ctx.input.command === 'lazy-pages' ? find(/Address already in use/)(ctx) : undefined),
    message: (_m, c) => `The page-server port is already in use on ${c.input.host ?? 'this host'}`,
    hint: () => 'A page server from an earlier iteration may still be running: kill it by its --pidfile pid, or use another port.',
  },
  {
    code: 'missing-parent-images',
    match: (ctx) =>
      find(/Can't open parent path|No parent images? found|Can't open parent images? dir/)(ctx) ??
      // 3.17.1 with the `parent` link removed does not fail: the restorer loops reading empty
      // pages until killed. Seen as a killed restore whose log ends in `Preadv` / `- returned 0`.
      (ctx.killed && looping(ctx.lines) ? find(/No parent images directory provided/)(ctx) : undefined),
    message: (_m, c) => `criu ${c.input.command} cannot find the parent images of this incremental dump`,
    hint: () => 'Keep the whole pre-dump chain (every ../N dir the `parent` links point to) next to the final dir, with its `parent` symlink, on the target.',
  },
  {
    code: 'no-such-process',
    match: find(/Unable to interrupt task: (\d+) \(No such process\)|Can't (?:seize|attach to) (?:task )?(\d+).*No such process|No process with pid (\d+)/),
    message: (m, c) => `There is no process ${m[1] ?? m[2] ?? m[3] ?? c.input.pid ?? ''} to ${c.input.command}`.trim(),
    hint: () => 'The process has exited or the PID is wrong: refresh the process list and pick it again.',
  },
  {
    code: 'address-unavailable',
    match: find(/Cannot assign requested address/),
    message: () => "A TCP connection's local address does not exist on the target",
    hint: () => 'Established TCP connections survive only if their IP address moves with the process; migrate without --tcp-established or move the address first.',
  },
];

function absPath(p: string | undefined): string {
  if (!p) return 'a file';
  // criu prints paths relative to the root: `root/fb.out` is /root/fb.out.
  return p.startsWith('/') ? p : `/${p}`;
}

function looping(lines: CriuLogLine[]): boolean {
  const tail = lines.slice(-12);
  return tail.filter((l) => /Preadv /.test(l.raw)).length >= 3 && tail.some((l) => /returned 0\s*$/.test(l.raw));
}

const KILLED_CODES = new Set([124, 128 + 9, 128 + 15]); // timeout(1), SIGKILL, SIGTERM

/**
 * Diagnose a criu run. Returns undefined for a run that succeeded (exit 0), even if its log has
 * harmless error lines (e.g. kdat probing's `exited, status=1`).
 */
export function diagnose(input: DiagnoseInput): CriuDiagnosis | undefined {
  if (input.exitCode === 0) return undefined;
  const lines = [input.log, input.stderr, input.stdout].flatMap((t) => (t ? parseLog(t) : []));
  const killed = input.exitCode === null || KILLED_CODES.has(input.exitCode) || input.signal !== undefined;
  const ctx: Ctx = { input, lines, killed, who: `criu ${input.command}` };
  const base = { command: input.command, ...(input.host !== undefined ? { host: input.host } : {}) };

  for (const rule of RULES) {
    const hit = rule.match(ctx);
    if (hit) {
      return { ...base, code: rule.code, message: rule.message(hit.m, ctx), hint: rule.hint(hit.m, ctx), evidence: hit.line.raw };
    }
  }

  if (killed) {
    const last = lines.at(-1);
    return {
      ...base,
      code: 'criu-killed',
      message: `criu ${input.command} was stopped before it finished (${input.signal ?? `exit ${input.exitCode}`})`,
      hint: 'It ran past its time limit or was killed; read the end of its log to see where it stalled.',
      ...(last ? { evidence: last.raw } : {}),
    };
  }

  // Generic: the first real error, skipping the harmless probing lines and the "FAILED." summary.
  const errors = lines.filter((l) => l.level === 'error' && !isHarmlessError(l));
  const first = errors.find((l) => !/(?:Dumping|Pre-dumping|Restoring) FAILED\.?\s*$/.test(l.text)) ?? errors[0];
  const last = lines.at(-1);
  const evidence = first ?? last;
  return {
    ...base,
    code: 'criu-failed',
    message: `criu ${input.command} failed${first ? `: ${first.text}` : ` with exit code ${input.exitCode}`}`,
    hint: 'Read the criu log around this line; run the command again with -v4 -o LOG if there is no log.',
    ...(evidence ? { evidence: evidence.raw } : {}),
  };
}

// ---- The page server died on the target ---------------------------------------------------
// The source only sees its end of the socket close ("page-xfer: Can't write pages to socket:
// Broken pipe"); what happened is in the page server's own log, on the target.

/** The source's dump or pre-dump lost its page server (the target's end of the socket closed). */
export function pageServerLost(text: string): boolean {
  return /Can't write pages to socket|Broken pipe|Connection reset by peer/i.test(text);
}

/**
 * Why a page server died, from its own log on the target: no space left, another error it
 * logged, or nothing logged at all (killed: by a signal, the OOM killer or a user).
 */
export function diagnosePageServerDeath(input: { log: string; target: string; command: 'pre-dump' | 'dump'; logPath: string; workDir: string; freeKiB?: number }): CriuDiagnosis {
  const { target, logPath, workDir } = input;
  const lines = parseLog(input.log);
  // A full disk may also have swallowed the log's last lines: what df says counts too.
  const full = input.freeKiB !== undefined && input.freeKiB < 1024;
  const nospace = lines.find((l) => /No space left on device|ENOSPC|Disk quota exceeded/.test(l.raw)) ?? (full ? { raw: `df: ${input.freeKiB} KiB free in ${workDir} on ${target}` } : undefined);
  const error = lines.find((l) => l.level === 'error' && !isHarmlessError(l) && !/FAILED\.?\s*$/.test(l.text));
  const over = lines.some((l) => /Session over/.test(l.raw));
  const base = { host: target, code: 'page-server-died' as const, command: 'page-server' as const };
  const during = `during the ${input.command}`;
  if (nospace) {
    return {
      ...base,
      message: `The page server on ${target} died ${during}: no space left on ${target} in ${workDir} (the source saw only a broken pipe)`,
      evidence: nospace.raw,
      hint: `Free space on ${target} in ${workDir} (the images need about the process's resident memory), or choose a work directory with more room. The page server's log: ${logPath} on ${target}.`,
    };
  }
  if (error) {
    return {
      ...base,
      message: `The page server on ${target} died ${during}: ${error.text} (the source saw only a broken pipe)`,
      evidence: error.raw,
      hint: `Read the page server's log ${logPath} on ${target}.`,
    };
  }
  const last = lines.at(-1);
  return {
    ...base,
    message: `The page server on ${target} ${over ? 'ended its session' : 'was killed'} ${during}, with no error in its log (the source saw only a broken pipe)`,
    ...(last ? { evidence: last.raw } : {}),
    hint: over
      ? `Check the link between the hosts. The page server's log: ${logPath} on ${target}.`
      : `Something killed it on ${target}: a user, a time limit or the OOM killer (journalctl -k on ${target}). The page server's log: ${logPath} on ${target}.`,
  };
}
