/**
 * The console's side of the cutover guard (README.md beside this file): the argv for each
 * guard command, running them through a CommandRunner (so each is journaled and in the
 * runbook), the lease the console renews, and the parsers for what the guard leaves on its
 * host. The secret travels only on stdin, which the runner never records.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { EngineEvent } from '../../../../shared/api.ts';
import type { Answer, SourceState, SourceTree, TargetState } from '../../../../shared/guard.ts';
import { FerryError } from '../../../../shared/errors.ts';
import { lastLine, type CommandRunner, type RunOptions } from '../../commands/runner.ts';
import type { ExecResult } from '../../../ssh/index.ts';

/** The Electron bundle gets guard.py inlined at build time; tsx and vitest read it beside this file. */
declare const __FERRY_GUARD_PY__: string | undefined;
let program: string | undefined;
export function guardProgram(): string {
  program ??= typeof __FERRY_GUARD_PY__ === 'string' ? __FERRY_GUARD_PY__ : readFileSync(new URL('./guard.py', import.meta.url), 'utf8');
  return program;
}

/** The guard's exit codes for "refused" and "no guard runs there". */
export const EXIT_REFUSED = 75;
export const EXIT_NO_GUARD = 76;
export const DEFAULT_LEASE_MS = 10_000;
/** The guard's hard maximum: it exits then whatever its state (the log says so). */
export const DEFAULT_GUARD_MAX_MS = 30 * 60_000;

export type GuardRole = 'source' | 'target';

export interface GuardOptions {
  role: GuardRole;
  /** The guard's own directory on its host (state, log, lease); never inside `images`. */
  dir: string;
  /** The tree's PIDs, root first (the same on both hosts: CRIU restores them). */
  pids: number[];
  leaseMs?: number;
  maxMs?: number;
  /** Target: where it listens on the migration link, ADDR:PORT (port 0: any). */
  listen?: string;
  /** Source: the target guard's ADDR:PORT. */
  peer?: string;
  /** Target: what it deletes when it aborts (the images it received). */
  images?: string[];
  /** Target: the restore's --pidfile, so the guard knows the restored root. */
  restoredPidfile?: string;
  /** Target: pidfiles of helpers (the page server) it stops when it aborts. */
  stopPidfiles?: string[];
  // --- post-copy guard
  /**
   * Source, post-copy: the tree is held by criu's lazy dump (its log here) for the whole page
   * transfer. To resume, the guard stops that dump once it serves; to keep the target, it lets
   * the dump send the last page and end the source copy itself.
   */
  lazyDumpLog?: string;
  /** The lazy dump's "serving" line in that log (LAZY_READY.dumpServing). */
  lazyReady?: string;
  /**
   * Target, post-copy: pidfiles (the lazy-pages daemon) stopped only once the source guard says
   * it resumed: before that, the daemon's disconnect would count as the last page to the dump,
   * which would then end the source copy.
   */
  afterResumePidfiles?: string[];
  // --- end post-copy guard
  /** Where guard.py was uploaded on the host (GuardClient.install); without it, `python3 -c SOURCE`. */
  program?: string;
}

/** `python3 PATH` once uploaded (short journal lines), else the program inline. */
export function guardArgv(command: string, ...args: string[]): string[] {
  return ['python3', '-c', guardProgram(), command, ...args];
}
function argvWith(program: string | undefined, command: string, ...args: string[]): string[] {
  return program ? ['python3', program, command, ...args] : guardArgv(command, ...args);
}

export function startArgv(o: GuardOptions): string[] {
  const a = [o.dir, '--role', o.role, '--pids', o.pids.join(','), '--lease-ms', String(o.leaseMs ?? DEFAULT_LEASE_MS), '--max-ms', String(o.maxMs ?? DEFAULT_GUARD_MAX_MS)];
  if (o.listen) a.push('--listen', o.listen);
  if (o.peer) a.push('--peer', o.peer);
  for (const p of o.images ?? []) a.push('--images', p);
  if (o.restoredPidfile) a.push('--restored-pidfile', o.restoredPidfile);
  for (const p of o.stopPidfiles ?? []) a.push('--stop-pidfile', p);
  if (o.lazyDumpLog) a.push('--lazy-dump-log', o.lazyDumpLog, '--lazy-ready', o.lazyReady ?? ''); // post-copy guard
  for (const p of o.afterResumePidfiles ?? []) a.push('--after-resume-pidfile', p); // post-copy guard
  return argvWith(o.program, 'start', ...a);
}
export const renewArgv = (dir: string, program?: string) => argvWith(program, 'renew', dir);
export const restoreArgv = (dir: string, argv: string[], timeoutMs: number, program?: string) => argvWith(program, 'restore', dir, '--timeout-ms', String(timeoutMs), '--', ...argv);
export const commitArgv = (dir: string, program?: string) => argvWith(program, 'commit', dir);
export const releaseArgv = (dir: string, program?: string) => argvWith(program, 'release', dir);
export const rollbackArgv = (dir: string, program?: string, keepImages = false) => argvWith(program, 'rollback', dir, ...(keepImages ? ['--keep-images'] : []));
export const askArgv = (dir: string, sourceTree: SourceTree, program?: string) => argvWith(program, 'ask', dir, '--source-tree', sourceTree);
export const statusArgv = (dir: string, program?: string) => argvWith(program, 'status', dir);

/** One secret per migration: handed to both guards on stdin, kept in the console's memory only. */
export function newGuardSecret(): string {
  return randomBytes(32).toString('hex');
}

/** What the guard's state file says (guard.state). */
export interface GuardStateDoc {
  role: GuardRole;
  state: TargetState | SourceState;
  pid: number;
  at: string;
  listen: string;
  peer?: string | null;
  pids: number[];
  taken: number[];
  leaseMs: number;
  maxMs: number;
  leaseLost: boolean;
  answer?: Answer | null;
  restore?: { argv: string[]; startedAt: string; code?: number; ms?: number; endedAt?: string } | null;
}

/** One line of the guard's log: every decision and every command it ran, with times. */
export interface GuardLogEntry {
  at: string;
  /** The guard host's CLOCK_MONOTONIC in ms: compare only with the same host's. */
  mono: number;
  role: GuardRole;
  event: string;
  [field: string]: unknown;
}

export interface GuardStatus {
  found: boolean;
  /** The guard process still runs. */
  alive: boolean;
  state?: GuardStateDoc;
  log: GuardLogEntry[];
}

/** Parse `guard.py status`: one state line, then the log lines. A torn last line is skipped. */
export function parseGuardStatus(stdout: string): GuardStatus {
  const out: GuardStatus = { found: false, alive: false, log: [] };
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const { kind, ...rest } = o;
    if (kind === 'state') {
      const { found, alive, ...doc } = rest;
      out.found = found === true;
      out.alive = alive === true;
      if (out.found) out.state = doc as unknown as GuardStateDoc;
    } else if (kind === 'log' && typeof rest.event === 'string') {
      out.log.push(rest as GuardLogEntry);
    }
  }
  return out;
}

/**
 * The log entries the console journals as the guard's decisions: its state changes, the
 * commands it ran, refusals, rejected messages, the lease lost, its hard maximum. Repeated
 * 'no-answer' lines while holding are left out: the change to `hold` says it once.
 */
export function guardDecisions(log: GuardLogEntry[]): GuardLogEntry[] {
  const decisions = new Set(['state', 'command', 'restore-started', 'restore-finished', 'restore-refused', 'answered', 'rejected', 'lease-lost', 'commit-refused', 'rollback-refused', 'rollback-failed', 'hard-maximum', 'crashed']);
  return log.filter((e) => decisions.has(e.event));
}

/** The guard's decisions as journal events, in the guard's own words and at its host's wall time. */
export function guardDecisionEvents(migrationId: string, host: string, log: GuardLogEntry[]): EngineEvent[] {
  return guardDecisions(log).map((e) => {
    const what =
      e.event === 'state'
        ? `${String(e.from)} → ${String(e.to)}`
        : e.event === 'command'
          ? `ran ${(e.argv as string[]).join(' ')} (exit ${e.code === null ? 'none' : String(e.code)}, ${String(e.ms)} ms)`
          : e.event === 'answered'
            ? `answered ${String(e.answer)} to the ${String(e.to)} (source copy ${String(e.sourceTree)})`
            : e.event;
    const reason = typeof e.why === 'string' ? e.why : e.event === 'rejected' ? `a message from ${String(e.peer)} without a valid HMAC` : e.event === 'restore-finished' ? `exit ${String(e.code)} after ${String(e.ms)} ms` : '';
    return { type: 'decision', migrationId, by: 'policy', action: `guard on ${host}: ${what}`, reason, at: e.at };
  });
}

/** The reply a client command prints as its last stdout line. */
export function parseGuardReply(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(lastLine(stdout)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export type Runner = Pick<CommandRunner, 'run'>;

/** A running lease: heartbeat lines on one long-running command's stdin. */
export interface Lease {
  /** Stop renewing (the command ends on EOF); resolves when it has. */
  stop(): Promise<LeaseEnd>;
  /** Resolves (never rejects) when renewing ended, for whatever reason: a dropped link too. */
  readonly done: Promise<LeaseEnd>;
}
export interface LeaseEnd {
  /** Ended because the console stopped it. */
  stopped: boolean;
  why: string;
}

/**
 * One guard on one host, as the console drives it. Each call is one recorded command; the
 * secret goes on stdin only.
 */
export class GuardClient {
  /** Set by install(): every later command runs `python3 DIR/guard.py`, not the whole program inline. */
  private program?: string;

  constructor(
    private readonly run: Runner,
    readonly host: string,
    readonly dir: string,
    private readonly secret: string,
  ) {}

  private stdin(): string {
    return `${this.secret}\n`;
  }

  /** Make the guard's directory (root only) and upload guard.py into it: two recorded commands. */
  async install(runner: Pick<CommandRunner, 'run' | 'writeFile'>): Promise<void> {
    await runner.run(this.host, ['mkdir', '-p', '-m', '700', '--', this.dir], { check: true, what: 'creating the guard directory' });
    const program = `${this.dir}/guard.py`;
    await runner.writeFile(this.host, program, guardProgram(), { mode: '0600', what: 'uploading the cutover guard' });
    this.program = program;
  }

  /** A guard installed earlier (a console that comes back): use the guard.py already in its directory. */
  attach(): this {
    this.program = `${this.dir}/guard.py`;
    return this;
  }

  async start(o: Omit<GuardOptions, 'dir' | 'program'>): Promise<{ pid: number; listen: string; taken: number[] }> {
    const r = await this.run.run(this.host, startArgv({ ...o, dir: this.dir, program: this.program }), { stdin: this.stdin(), timeoutMs: 30_000 });
    const rep = parseGuardReply(r.stdout);
    if (r.code !== 0 || typeof rep?.started !== 'number') {
      throw new FerryError({
        code: 'guard-start-failed',
        host: this.host,
        message: `The cutover guard did not start on ${this.host} (exit ${r.code ?? r.signal})`,
        evidence: lastLine(r.stderr) || lastLine(r.stdout),
        hint: r.code === 127 ? `Install python3 on ${this.host}.` : `Read ${this.dir}/guard.log on ${this.host}.`,
      });
    }
    return { pid: rep.started, listen: String(rep.listen), taken: (rep.taken as number[]) ?? [] };
  }

  /** Start renewing this host's lease every `everyMs` (a third of the lease is a good pace). */
  lease(everyMs: number, opts: Pick<RunOptions, 'signal'> = {}): Lease {
    const beats = new PassThrough();
    const beat = () => beats.write('.\n');
    beat();
    const timer = setInterval(beat, everyMs);
    let stopped = false;
    const done = this.run
      .run(this.host, renewArgv(this.dir, this.program), { stdin: beats, quiet: true, signal: opts.signal })
      .then(
        (r): LeaseEnd => ({ stopped, why: `the renew command ended (exit ${r.code ?? `signal ${r.signal}`})` }),
        (e: unknown): LeaseEnd => ({ stopped, why: e instanceof Error ? e.message : String(e) }),
      )
      .finally(() => clearInterval(timer));
    return {
      done,
      stop: () => {
        stopped = true;
        clearInterval(timer);
        beats.end();
        return done;
      },
    };
  }

  /** Ask the target guard to run the restore. A refusal is code EXIT_REFUSED with `refused` in the reply. */
  async restore(argv: string[], timeoutMs: number): Promise<{ result: ExecResult; reply?: Record<string, unknown> }> {
    const result = await this.run.run(this.host, restoreArgv(this.dir, argv, timeoutMs, this.program), { stdin: this.stdin(), timeoutMs: timeoutMs + 30_000 });
    return { result, reply: parseGuardReply(result.stdout) };
  }

  private async simple(argv: string[]): Promise<Record<string, unknown>> {
    const r = await this.run.run(this.host, argv, { stdin: this.stdin(), timeoutMs: 60_000 });
    return parseGuardReply(r.stdout) ?? { error: lastLine(r.stderr) || `exit ${r.code ?? r.signal}` };
  }

  /** The commit point: the target guard keeps its copy from now on. */
  commit(): Promise<Record<string, unknown>> {
    return this.simple(commitArgv(this.dir, this.program));
  }
  /** Settle as the console (a rollback goes through the target guard too). */
  ask(sourceTree: SourceTree): Promise<Record<string, unknown>> {
    return this.simple(askArgv(this.dir, sourceTree, this.program));
  }
  /** The console rolls back before the commit point: the target guard kills the restored copy and aborts. */
  rollback(o: { keepImages?: boolean } = {}): Promise<Record<string, unknown>> {
    return this.simple(rollbackArgv(this.dir, this.program, o.keepImages));
  }
  /** The console finished the migration itself: the guard exits. */
  release(): Promise<Record<string, unknown>> {
    return this.simple(releaseArgv(this.dir, this.program));
  }
  /** The guard's state and log, read from its files (the guard need not run). */
  async status(): Promise<GuardStatus> {
    const r = await this.run.run(this.host, statusArgv(this.dir, this.program), { quiet: true, timeoutMs: 30_000 });
    return parseGuardStatus(r.stdout);
  }
}
