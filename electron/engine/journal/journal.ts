/**
 * The migration journal: one append-only JSON-lines file per migration, the truth about what
 * happened. Every event is written and fsynced before append() returns, and the engine emits
 * it to the UI only after that, so the UI never shows what a crash could make the journal
 * forget. State after a crash is replay(readJournal(path).records).
 *
 *   $FERRY_HOME/data/journals/<id>.jsonl   (else $XDG_DATA_HOME/ferry/journals), dir 0700, files 0600
 *   {"seq":1,"at":"2026-11-23T05:15:29.493Z","event":{"type":"migration-started",...}}\n
 *
 * Secrets stay out (see redact()): values of environment assignments in argv, of secret-named
 * options and fields, and passwords in URLs are replaced by "<redacted>" before writing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandRecord, EngineEvent } from '../../../shared/api.ts';
import type { DowntimeEstimate, IterationStats, JournalSummary, MigrationPlan, Phase, Recommendation } from '../../../shared/domain.ts';
import { describeSelector } from '../../../shared/domain.ts';
import { FerryError, type FerryErrorInfo } from '../../../shared/errors.ts';
import { ferryFiles, ferryPaths } from '../../paths.ts';

export interface JournalRecord {
  seq: number;
  at: string;
  event: EngineEvent;
}

export interface JournalOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides the journals directory (tests). */
  dir?: string;
  /** Clock for record timestamps (tests). */
  now?: () => Date;
}

const ID_RE = /^[A-Za-z0-9-]{1,64}$/;

export function journalsDir(opts: JournalOptions = {}): string {
  return opts.dir ?? ferryFiles(ferryPaths(opts.env ?? process.env)).journals;
}

/** A migration id: the UTC start time, file-name safe, and 6 random hex digits. */
export function newJournalId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export function journalPath(id: string, opts: JournalOptions = {}): string {
  if (!ID_RE.test(id)) {
    throw new FerryError({ code: 'journal-bad-id', message: `Not a migration id: ${JSON.stringify(id).slice(0, 80)}`, hint: 'Ids look like 2026-11-23T05-15-29Z-a1b2c3 (see ferry journal list).' });
  }
  return path.join(journalsDir(opts), `${id}.jsonl`);
}

// ---------------------------------------------------------------------------------------------
// Redaction

export const REDACTED = '<redacted>';

/** Object fields and option names whose values are secrets. */
const SECRET_NAME = /(password|passphrase|passwd|token|secret|credentials?|api[-_]?key|private[-_]?key)$/i;
/** Environment variables whose values are kept (they are not secrets and a runbook needs them). */
const SAFE_ENV = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TERM|USER|LOGNAME|SHELL|PWD|TMPDIR|CRTOOLS_SCRIPT_ACTION)$/;
/** "password=..." / "token: ..." inside free text. */
const SECRET_IN_TEXT = /\b(password|passphrase|passwd|token|secret|api[-_]?key)(["']?\s*[:=]\s*["']?)([^\s"',;&]+)/gi;
/** scheme://user:PASSWORD@host */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)([^@\s/]*)@/gi;

export function redactText(s: string): string {
  return s.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(SECRET_IN_TEXT, `$1$2${REDACTED}`);
}

/**
 * What is redacted in an argv:
 * - `NAME=value` where NAME is an environment-style name (upper case, digits, _), e.g. after
 *   `env` (how Ferry passes environment to remote commands), unless NAME is one of PATH, HOME,
 *   LANG, LC_*, TZ, TERM, USER, LOGNAME, SHELL, PWD, TMPDIR, CRTOOLS_SCRIPT_ACTION;
 * - `name=value` of any case when the name ends in password/passphrase/passwd/token/secret/
 *   credential(s)/api-key/private-key;
 * - `--secret-name=value`, and the argument after `--secret-name` (same name rule);
 * - passwords in URLs (`https://user:PASSWORD@host`) and `password=`/`token:` pairs in any text.
 * Short options (`-p secret`) cannot be told apart from harmless ones and are not redacted:
 * don't pass secrets that way.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let redactNext = false;
  for (const arg of argv) {
    if (redactNext) {
      out.push(REDACTED);
      redactNext = false;
      continue;
    }
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(arg);
    if (assign) {
      const name = assign[1] ?? '';
      if ((/^[A-Z_][A-Z0-9_]*$/.test(name) && !SAFE_ENV.test(name)) || SECRET_NAME.test(name)) {
        out.push(`${name}=${REDACTED}`);
        continue;
      }
    }
    const opt = /^(--?[A-Za-z0-9][A-Za-z0-9_-]*)(=.*)?$/s.exec(arg);
    if (opt && SECRET_NAME.test(opt[1] ?? '')) {
      if (opt[2] !== undefined) out.push(`${opt[1]}=${REDACTED}`);
      else {
        out.push(arg);
        redactNext = true;
      }
      continue;
    }
    out.push(redactText(arg));
  }
  return out;
}

/** A deep copy of `value` with secrets replaced (rules above; fields named like secrets too). */
export function redact<T>(value: T): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (key !== undefined && SECRET_NAME.test(key) && v !== undefined && v !== null && typeof v !== 'object') return REDACTED;
    if (typeof v === 'string') return redactText(v);
    if (Array.isArray(v)) {
      if (key === 'argv' && v.every((x) => typeof x === 'string')) return redactArgv(v as string[]);
      return v.map((x) => walk(x));
    }
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, k);
      return o;
    }
    return v;
  };
  return walk(value) as T;
}

export function isRedacted(argv: readonly string[]): boolean {
  return argv.some((a) => a.includes(REDACTED));
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface Journal {
  readonly id: string;
  readonly path: string;
  /** seq of the last record written (0 when empty). */
  readonly seq: number;
  /** True once an 'outcome' event is written: nothing more may be appended. */
  readonly finished: boolean;
  /** Redact, write one line, fsync; returns the record as written. Throws if it could not. */
  append(event: EngineEvent): JournalRecord;
  close(): void;
}

function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

class FileJournal implements Journal {
  private fd: number | undefined;
  private _seq: number;
  private _finished: boolean;
  private started: boolean;

  constructor(
    readonly id: string,
    readonly path: string,
    fd: number,
    state: { seq: number; finished: boolean; started: boolean },
    private readonly now: () => Date,
  ) {
    this.fd = fd;
    this._seq = state.seq;
    this._finished = state.finished;
    this.started = state.started;
  }

  get seq(): number {
    return this._seq;
  }
  get finished(): boolean {
    return this._finished;
  }

  append(event: EngineEvent): JournalRecord {
    if (this.fd === undefined) {
      throw new FerryError({ code: 'journal-closed', message: `Journal ${this.id} is closed; event ${event.type} was not recorded.` });
    }
    if (this._finished) {
      throw new FerryError({
        code: 'journal-finished',
        message: `Migration ${this.id} already has its outcome; refusing to append ${event.type} after it.`,
        hint: 'An outcome is the last word of a journal. A new attempt is a new migration.',
      });
    }
    const mid = 'migrationId' in event ? event.migrationId : undefined;
    if (mid !== undefined && mid !== this.id) {
      throw new FerryError({ code: 'journal-wrong-migration', message: `Event ${event.type} of migration ${mid} does not belong in journal ${this.id}.` });
    }
    if (event.type === 'migration-started') {
      if (this.started) throw new FerryError({ code: 'journal-duplicate-start', message: `Journal ${this.id} already has its migration-started record.` });
    }
    const record: JournalRecord = { seq: this._seq + 1, at: this.now().toISOString(), event: redact(event) };
    try {
      writeAll(this.fd, Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
      fs.fsyncSync(this.fd);
    } catch (e) {
      // A partial line may be on disk now: never write after it (readJournal reports it as torn).
      this.close();
      throw new FerryError(
        { code: 'journal-write-failed', message: `Could not write ${event.type} to journal ${this.path}: ${(e as Error).message}`, hint: 'Free disk space on this machine; the event was not recorded and must not be acted on.' },
        { cause: e },
      );
    }
    this._seq = record.seq;
    if (event.type === 'migration-started') this.started = true;
    if (event.type === 'outcome') this._finished = true;
    return record;
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Create a new journal (the file must not exist). Given a plan, a new id is made and the
 * 'migration-started' record is written at once; given an id, the caller's first append
 * should be that record (a second one is refused).
 */
export function createJournal(idOrPlan: string | MigrationPlan, opts: JournalOptions = {}): Journal {
  const now = opts.now ?? (() => new Date());
  const id = typeof idOrPlan === 'string' ? idOrPlan : newJournalId(now());
  const file = journalPath(id, opts);
  ensureDir(path.dirname(file));
  const fd = fs.openSync(file, 'wx', 0o600); // O_EXCL: never reuse another migration's file
  fs.fchmodSync(fd, 0o600);
  fsyncDir(path.dirname(file));
  const j = new FileJournal(id, file, fd, { seq: 0, finished: false, started: false }, now);
  if (typeof idOrPlan !== 'string') j.append({ type: 'migration-started', migrationId: id, plan: idOrPlan, at: now().toISOString() });
  return j;
}

/**
 * Reopen an existing journal to append (e.g. a rollback after a crash). A torn last line is
 * kept as evidence and terminated with a newline so the next record starts on its own line.
 */
export function openJournal(id: string, opts: JournalOptions = {}): Journal {
  const file = journalPath(id, opts);
  const read = readJournal(file);
  const fd = fs.openSync(file, 'a', 0o600);
  fs.fchmodSync(fd, 0o600);
  if (read.torn) {
    writeAll(fd, Buffer.from('\n'));
    fs.fsyncSync(fd);
  }
  const last = read.records[read.records.length - 1];
  return new FileJournal(
    id,
    file,
    fd,
    {
      seq: last?.seq ?? 0,
      finished: read.records.some((r) => r.event.type === 'outcome'),
      started: read.records.some((r) => r.event.type === 'migration-started'),
    },
    opts.now ?? (() => new Date()),
  );
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadResult {
  path: string;
  /** The file name without .jsonl. */
  id: string;
  records: JournalRecord[];
  /** The last line was cut by a crash mid-write (unparsable, no newline): that event was never emitted. */
  torn?: { line: number; text: string };
  /** Other unreadable lines (not expected: the file is append-only); reading continues past them. */
  damaged: { line: number; text: string; reason: string }[];
}

function parseRecord(line: string): JournalRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (!v || typeof v !== 'object') return 'not an object';
  const r = v as Partial<JournalRecord>;
  if (typeof r.seq !== 'number' || typeof r.at !== 'string' || !r.event || typeof r.event !== 'object' || typeof r.event.type !== 'string') {
    return 'missing seq, at or event';
  }
  return r as JournalRecord;
}

export function readJournal(file: string): ReadResult {
  const text = fs.readFileSync(file, 'utf8');
  const id = path.basename(file).replace(/\.jsonl$/, '');
  const out: ReadResult = { path: file, id, records: [], damaged: [] };
  const lines = text.split('\n');
  const endsClean = text.endsWith('\n') || text.length === 0;
  // split leaves '' after a final newline
  if (endsClean) lines.pop();
  let lastSeq = 0;
  lines.forEach((line, i) => {
    const isLast = i === lines.length - 1;
    if (line.trim() === '') return;
    const r = parseRecord(line);
    if (typeof r === 'string') {
      if (isLast && !endsClean) out.torn = { line: i + 1, text: line.slice(0, 200) };
      else out.damaged.push({ line: i + 1, text: line.slice(0, 200), reason: r });
      return;
    }
    if (r.seq !== lastSeq + 1) out.damaged.push({ line: i + 1, text: line.slice(0, 200), reason: `seq ${r.seq} after ${lastSeq}` });
    lastSeq = r.seq;
    out.records.push(r);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Replay

type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

export interface ReplayedCommand {
  seq: number;
  commandId: string;
  host: string;
  argv: string[];
  sudo: boolean;
  pipeTo?: CommandRecord['pipeTo'];
  /** Set for a user's traffic hook. */
  hook?: CommandRecord['hook'];
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  /** Exit code; null when killed by a signal; undefined when the journal has no end for it. */
  code?: number | null;
  signal?: string | null;
  timedOut?: boolean;
  finished: boolean;
  /** The phase in effect when it started. */
  phase: Phase;
  /** Last lines of its output, as journaled. */
  stdoutTail?: string;
  stderrTail?: string;
}

export interface ReplayedEstimate {
  seq: number;
  at: string;
  /** The pre-dump it followed (index of the last iteration before it). */
  afterIteration?: number;
  estimate: DowntimeEstimate;
  recommendation: Recommendation;
}

export interface Replay {
  id: string;
  plan?: MigrationPlan;
  summary: JournalSummary;
  phase: Phase;
  phases: { phase: Phase; at: string; note?: string }[];
  iterations: IterationStats[];
  commands: ReplayedCommand[];
  estimates: ReplayedEstimate[];
  decisions: Ev<'decision'>[];
  rollbackPlans: Ev<'rollback-plan'>[];
  errors: { at: string; error: FerryErrorInfo }[];
  transfers: Ev<'transfer'>[];
  /** Every traffic hook run, in order, with its outcome. */
  hooks: Ev<'hook'>[];
  outcome?: Ev<'outcome'>;
  /** CRIU's stats-restore from the target, when the restore got that far. */
  restoreStats?: Ev<'restore-stats'>['stats'];
  /** Service probe: what clients saw (the last final result journaled). */
  serviceProbe?: Ev<'service-probe'>['result'];
  startedAt?: string;
  /** Time of the last record. */
  lastAt?: string;
  /** The final `criu dump` finished with exit 0 (or its stats were journaled). */
  finalDumpDone: boolean;
  /** A `criu restore` was started on the target. */
  restoreStarted: boolean;
  restoreDone: boolean;
  /** The migration's image directory on both hosts (from the criu commands' -D), when known. */
  imagesRoot?: string;
  warnings: string[];
}

const TAIL = 2000;

/** The criu subcommand an argv runs (`dump`, `restore`, ...), wherever criu sits in it (sh, systemd-run, the guard wrap it). */
export function criuSubcommand(argv: readonly string[]): string | undefined {
  const i = argv.findIndex((a) => a === 'criu' || a.endsWith('/criu'));
  return i >= 0 ? argv[i + 1] : undefined;
}

function flagValue(argv: readonly string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function replay(records: readonly JournalRecord[], meta: { id?: string; torn?: ReadResult['torn']; damaged?: ReadResult['damaged'] } = {}): Replay {
  let phase: Phase = 'planned';
  let plan: MigrationPlan | undefined;
  let id = meta.id;
  let startedAt: string | undefined;
  const phases: Replay['phases'] = [];
  const iterations: IterationStats[] = [];
  const commands: ReplayedCommand[] = [];
  const byId = new Map<string, ReplayedCommand>();
  const estimates: ReplayedEstimate[] = [];
  const decisions: Ev<'decision'>[] = [];
  const rollbackPlans: Ev<'rollback-plan'>[] = [];
  const errors: Replay['errors'] = [];
  const transfers = new Map<string, Ev<'transfer'>>();
  const hooks: Ev<'hook'>[] = [];
  let outcome: Ev<'outcome'> | undefined;
  let restoreStats: Ev<'restore-stats'>['stats'] | undefined;
  let serviceProbe: Ev<'service-probe'>['result'] | undefined;
  let finalDumpDone = false;
  let imagesRoot: string | undefined;
  const warnings: string[] = [];
  if (meta.torn) warnings.push(`The journal's last line (line ${meta.torn.line}) was cut by a crash while it was written; that event never reached the UI and is ignored.`);
  for (const d of meta.damaged ?? []) warnings.push(`Line ${d.line} is unreadable (${d.reason}).`);

  for (const rec of records) {
    const e = rec.event;
    switch (e.type) {
      case 'migration-started':
        plan = e.plan;
        id ??= e.migrationId;
        startedAt = e.at;
        break;
      case 'plan-resolved':
        // Many migrations at once: the PID a selector named and the port reserved at preflight.
        if (plan) plan = { ...plan, pid: e.pid, pageServerPort: e.pageServerPort };
        break;
      case 'phase':
        phase = e.phase;
        phases.push({ phase: e.phase, at: e.at, note: e.note });
        break;
      case 'iteration':
        iterations.push(e.stats);
        if (e.stats.kind === 'dump') finalDumpDone = true;
        break;
      case 'estimate':
        estimates.push({ seq: rec.seq, at: rec.at, afterIteration: iterations[iterations.length - 1]?.index, estimate: e.estimate, recommendation: e.recommendation });
        break;
      case 'decision':
        decisions.push(e);
        break;
      case 'rollback-plan':
        rollbackPlans.push(e);
        break;
      case 'error':
        errors.push({ at: rec.at, error: e.error });
        break;
      case 'transfer':
        transfers.set(e.label, e);
        break;
      case 'outcome':
        outcome = e;
        break;
      case 'hook':
        hooks.push(e);
        break;
      case 'restore-stats':
        restoreStats = e.stats;
        break;
      case 'service-probe':
        if (!e.live) serviceProbe = e.result;
        break;
      case 'command-started': {
        const c: ReplayedCommand = {
          seq: rec.seq,
          commandId: e.commandId,
          host: e.host,
          argv: e.argv,
          sudo: e.sudo,
          pipeTo: e.pipeTo,
          ...(e.hook ? { hook: e.hook } : {}),
          startedAt: e.startedAt,
          finished: false,
          phase,
        };
        commands.push(c);
        byId.set(e.commandId, c);
        const d = criuSubcommand(e.argv);
        const dir = d ? flagValue(e.argv, '-D') : undefined;
        if (dir && (d === 'pre-dump' || d === 'dump' || d === 'page-server' || d === 'restore')) imagesRoot ??= path.posix.dirname(dir);
        break;
      }
      case 'command-output': {
        const c = byId.get(e.commandId);
        if (!c) break;
        const k = e.stream === 'stdout' ? 'stdoutTail' : 'stderrTail';
        c[k] = ((c[k] ?? '') + e.text).slice(-TAIL);
        break;
      }
      case 'command-finished': {
        const c = byId.get(e.commandId);
        if (!c) {
          warnings.push(`command-finished for unknown command ${e.commandId}`);
          break;
        }
        Object.assign(c, { finished: true, code: e.code, signal: e.signal, durationMs: e.durationMs, timedOut: e.timedOut, endedAt: e.endedAt });
        if (criuSubcommand(c.argv) === 'dump' && e.code === 0) finalDumpDone = true;
        break;
      }
      default:
        break;
    }
  }

  const restores = commands.filter((c) => criuSubcommand(c.argv) === 'restore');
  const lastAt = records[records.length - 1]?.at;
  const partial: Omit<Replay, 'summary'> = {
    id: id ?? '',
    plan,
    phase,
    phases,
    iterations,
    commands,
    estimates,
    decisions,
    rollbackPlans,
    errors,
    transfers: [...transfers.values()],
    hooks,
    outcome,
    restoreStats,
    ...(serviceProbe ? { serviceProbe } : {}),
    startedAt,
    lastAt,
    finalDumpDone,
    restoreStarted: restores.length > 0,
    restoreDone: restores.some((c) => c.code === 0),
    imagesRoot,
    warnings,
  };
  const summary: JournalSummary = {
    id: id ?? '',
    source: plan?.source ?? '',
    target: plan?.target ?? '',
    pid: plan?.pid ?? 0,
    process: !plan ? '' : plan.pid > 0 ? `PID ${plan.pid}` : describeSelector(plan),
    startedAt: startedAt ?? records[0]?.at ?? '',
    lastPhase: phase,
    finished: outcome !== undefined,
    outcome: outcome?.outcome,
    nextStep: outcome ? undefined : nextStep(partial),
    // Cutover guards: journaled when the console next reached the hosts.
    ...(settledBy(decisions) ? { settled: settledBy(decisions) } : {}),
  };
  return { ...partial, summary };
}

/** Cutover guards: the last 'hosts settled' decision, in its own words. */
function settledBy(decisions: readonly Ev<'decision'>[]): string | undefined {
  return [...decisions].reverse().find((d) => d.action === 'hosts settled')?.reason;
}

// ---------------------------------------------------------------------------------------------
// What to do after a crash

/**
 * For an unfinished migration, what is safe to do next, from what the journal proves. Written
 * for the on-call engineer who opens Ferry after a crash: exact hosts, PID, port, directory.
 */
export function nextStep(r: Omit<Replay, 'summary'>): string {
  const p = r.plan;
  if (!p) return 'The journal has no migration-started record, so it names no hosts or process: check both hosts by hand (ps, and any criu page-server still listening).';
  const S = p.source;
  const T = p.target;
  const P = p.pid;
  const port = p.pageServerPort;
  const dir = r.imagesRoot ?? `${p.workDir}/${r.id}`;
  const cont = `\`kill -CONT ${P}\` on ${S} (and every descendant it had; if ${P} leads its session, \`pkill -CONT -s ${P}\` resumes them all)`;
  const pageServer = `stop the page server on ${T} (criu page-server on port ${port}; \`ss -ltnp 'sport = :${port}'\` on ${T} shows its PID) and delete its images (${dir} on ${T})`;
  const running = r.commands.filter((c) => !c.finished);
  const runningNote = running.length
    ? ` When the journal stops, ${running.map((c) => `\`${c.argv.slice(0, 2).join(' ')}\` on ${c.host}`).join(', ')} had not finished: check that no criu is still running there (\`pgrep -a criu\`).`
    : '';

  const sourceFrozen = (): string => {
    if (!r.restoreStarted) {
      return (
        `The source tree is frozen on ${S} (final dump with --leave-stopped done) and nothing was restored on ${T} (no criu restore in the journal). ` +
        `Roll back: resume the source with ${cont}, then ${pageServer}.`
      );
    }
    return (
      `The source tree is frozen on ${S} (--leave-stopped). Check whether the process runs on ${T}: \`ps -o pid,stat,comm -p ${P}\` on ${T}. ` +
      `If it does not, resume the source with ${cont}, and delete ${dir} on ${T}. ` +
      `If it does, verify it${p.healthCheck.kind !== 'none' ? ` (the plan's ${p.healthCheck.kind} health check)` : ''} and then kill the frozen source: \`kill -KILL ${P}\` on ${S}. ` +
      `If it runs on ${T} but is broken, kill it there first (\`kill -KILL ${P}\` on ${T}), then resume the source. Never resume the source while the copy on ${T} runs: that makes two live copies.`
    );
  };
  const beforeFreeze = (): string =>
    `Roll back: ${pageServer}; delete ${dir} on ${S}. The source was never stopped: pre-dumps freeze process ${P} on ${S} only for a moment and let it run. ` +
    `Confirm with \`ps -o pid,stat -p ${P}\` on ${S}: state T would mean a pre-dump was cut off while the tree was frozen; then ${cont}.`;
  const finalDumpStarted = r.commands.some((c) => criuSubcommand(c.argv) === 'dump');
  const byState = (ph: Phase): string => {
    switch (ph) {
      case 'planned':
      case 'preflight':
        return `Nothing to undo: pre-copy had not started and process ${P} on ${S} was never stopped. Preflight only reads (and may leave scratch files under ${p.workDir}). Start again when ready.`;
      case 'precopy':
        return beforeFreeze();
      case 'cutover':
        if (r.finalDumpDone) return sourceFrozen();
        if (finalDumpStarted) {
          return (
            `The final dump on ${S} did not complete in the journal. On ${S}, \`ps -o pid,stat -p ${P}\`: state T means the tree is frozen (--leave-stopped): resume it with ${cont}; ` +
            `a running process means CRIU resumed it itself (a failed dump does). Nothing was restored on ${T}: ${pageServer}.`
          );
        }
        return beforeFreeze();
      case 'restore':
      case 'verify':
        return r.finalDumpDone ? sourceFrozen() : byState('cutover');
      case 'postcopy':
        return (
          `Post-copy past its point of no return: process ${P} was restored on ${T} while its memory pages were still being served from ${S} ` +
          `(criu dump --lazy-pages on ${S}, criu lazy-pages on ${T}). Do not kill either criu while both run: \`pgrep -a criu\` on both hosts. ` +
          `When both have exited, the process runs only on ${T}: check it (\`ps -o pid,stat -p ${P}\` on ${T}) and delete ${dir} on both hosts. ` +
          `If the dump on ${S} is gone while the daemon on ${T} still waits, pages are lost: the copy on ${T} cannot be trusted; ` +
          `to go back while process ${P} still exists on ${S} (state t, held by the dump): pause the copy on ${T} (\`kill -STOP ${P}\`), kill the dump on ${S} (CRIU lets the source run on), then kill the copy and criu lazy-pages on ${T}. Never stop the daemon on ${T} first: the dump takes its disconnect as success and kills the source.`
        );
      case 'committed':
        return `The migration reached 'committed' but has no outcome record: process ${P} runs on ${T}. Make sure the frozen source is gone: \`ps -o pid,stat -p ${P}\` on ${S} (state T: \`kill -KILL ${P}\` on ${S}). Images are in ${dir} on both hosts (retention: ${p.retention}).`;
      case 'rolled-back':
        return `The rollback finished (phase rolled-back) but has no outcome record: check that process ${P} runs on ${S} (\`ps -o pid,stat -p ${P}\`, not state T) and nothing of it on ${T}; delete ${dir} on ${T}.`;
      case 'rolling-back':
      case 'failed': {
        const before = [...r.phases].reverse().find((x) => x.phase !== 'rolling-back' && x.phase !== 'failed')?.phase ?? 'planned';
        return byState(before);
      }
    }
  };

  let text = byState(r.phase);
  // Cutover guards: from the final dump on, the hosts settle without the console.
  const guarded = r.commands.some((c) => c.argv[0] === 'python3' && c.argv[1]?.endsWith('/guard.py') && c.argv[2] === 'start');
  if (guarded && ['cutover', 'restore', 'postcopy', 'verify', 'rolling-back', 'failed'].includes(r.phase)) {
    text = `Cutover guards ran on ${S} and ${T}: once the console's lease ran out they settled on their own (source resumed, or the restored copy kept); \`ferry journal recover ${r.id}\` reads what they decided and finishes from there. If they could not decide: ${text}`;
  }
  // Traffic hooks ran (a drain, a switch): a rollback must also undo them.
  const hooksRan = r.hooks.length > 0 || r.commands.some((c) => c.hook);
  const undo = p.hooks?.onRollback ?? [];
  if (hooksRan && undo.length && r.phase !== 'committed' && !r.hooks.some((h) => h.phase === 'on-rollback')) {
    text += ` Traffic hooks ran: after the process runs on ${S} again, undo them with the plan's on-rollback hooks (${undo.map((h) => `"${h.name}" on ${h.on === 'local' ? 'this machine' : h.on === 'source' ? S : T}`).join(', ')}); \`ferry journal recover\` runs them.`;
  }
  if (r.phase === 'rolling-back' || r.phase === 'failed') {
    const steps = r.rollbackPlans[r.rollbackPlans.length - 1]?.steps;
    const lead = r.phase === 'rolling-back' ? 'A rollback was under way when the journal stops' : 'The migration failed without an outcome record';
    text = `${lead}${steps?.length ? ` (its plan: ${steps.map((s, i) => `${i + 1}. ${s}`).join(' ')})` : ''}. Where it stood: ${text}`;
  }
  return text + runningNote;
}

/** Summaries of every journal, newest first. Unreadable files are listed with what went wrong. */
export function listJournals(opts: JournalOptions = {}): JournalSummary[] {
  const dir = journalsDir(opts);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: JournalSummary[] = [];
  for (const n of names) {
    const id = n.replace(/\.jsonl$/, '');
    try {
      const rd = readJournal(path.join(dir, n));
      out.push(replay(rd.records, { id, torn: rd.torn, damaged: rd.damaged }).summary);
    } catch (e) {
      out.push({ id, source: '', target: '', pid: 0, process: '', startedAt: '', lastPhase: 'planned', finished: false, nextStep: `Could not read this journal: ${(e as Error).message}` });
    }
  }
  return out.sort((a, b) => (b.startedAt || b.id).localeCompare(a.startedAt || a.id) || b.id.localeCompare(a.id));
}
