/**
 * The post-copy cutover (CRIU lazy pages), in its own module: Migration calls it instead of
 * the pre-copy final dump. The shape, as recorded in the lab (fixtures/criu/lazy, LAB.md):
 *
 *   source: criu dump --lazy-pages --address SRC --port P   freezes the tree, writes metadata,
 *           then stays alive serving pages until the target pulled every one, and kills the tree
 *   copy:   metadata images + open files, source → target (the cutover's tar pipe)
 *   target: criu lazy-pages --page-server --address SRC --port P   (daemon, fetches pages)
 *   target: criu restore --lazy-pages -d                    the process runs at once; its pages
 *           arrive on demand (page faults) and in the background
 *
 * Where the process is, step by step (the one-place invariant):
 * - lazy dump running, before restore: frozen on the source (ptrace, state t). Stopping the
 *   dump (TERM or KILL) releases it and it runs on, memory intact (lab probe,
 *   electron/criu/testdata/postcopy-lab-probe.txt). Rollback is clean.
 * - restored, pages still on the source: the process runs on the target; the source copy is
 *   still held, frozen, by the dump. A rollback kills the target copy first (it loses what it
 *   did there since restore), then stops the daemon and the dump: the source runs on.
 * - the dump exited 0 after the last page: it killed the source tree; the process exists only
 *   on the target. This is the point of no return: Ferry refuses to roll back from here, since
 *   that would lose the only copy.
 * If the source dies or the link drops before the last page arrived, the target copy misses
 * memory and the source copy is gone: the process is lost. The user accepts that up front.
 */
import type { EngineEvent } from '../../../shared/api.ts';
import type { MigrationPlan, Phase } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { dump, LAZY_PAGE_SIZE, LAZY_READY, LazyProgressReader, lazyPages, restore, type CriuCommandName } from '../../criu/index.ts';
import type { ExecResult } from '../../ssh/index.ts';
import type { CommandRunner } from '../commands/runner.ts';
import { criuTreeFlags, type NetworkLock } from '../hosts/inventory-policy.ts';
import type { CriuTlsOptions } from '../../criu/argv.ts';

export const POSTCOPY_TIMEOUTS = {
  /** The lazy dump freezes and writes metadata before it serves: as long as a dump may take. */
  dumpServing: 10 * 60_000,
  daemonListening: 60_000,
  restore: 5 * 60_000,
  /** From restore to the last page: under TCG a busy workload can fault slowly. */
  transfer: 30 * 60_000,
  /** How often the target's lazy-pages log is read for progress. */
  pollMs: 500,
};

/** What the post-copy cutover needs from its Migration; plain callbacks, no access to its insides. */
export interface PostcopyContext {
  plan: MigrationPlan;
  migrationId: string;
  /** This cutover's image directory, the same path on both hosts. */
  dir: string;
  /** Where the lazy dump listens, as the target reaches the source (from preflight). */
  sourceAddress: string;
  /** The network lock preflight chose. */
  networkLock?: NetworkLock;
  /** TLS: this migration's key files, the same paths on both hosts; absent with tls: false. */
  tls?: CriuTlsOptions;
  run: CommandRunner;
  record(e: EngineEvent): void;
  setPhase(phase: Phase, note?: string): void;
  copyArgv(dir: string): string[];
  /** criu wrapped so a runaway log is cut (RLIMIT_FSIZE). */
  limitLog(argv: string[]): string[];
  fail(command: CriuCommandName, host: string, r: ExecResult, logPath: string): Promise<never>;
  /** The user asked to abort or roll back (consumes the request). */
  rollbackRequested(): boolean;
  onSourceFrozen(): void;
  onRestoreStarted(): void;
  onConsoleBytes(n: number): void;
  // --- post-copy guard
  /** The restore, run by the target guard (it knows the restore started, and what runs). */
  restoreVia?(argv: string[], timeoutMs: number): Promise<ExecResult>;
  /** The restore's --pidfile and the lazy-pages daemon's pidfile, both on the target (the guards read them). */
  restoredPidfile?: string;
  daemonPidfile?: string;
  // --- end post-copy guard
}

/**
 * Post-copy guard: the lazy dump and the lazy-pages daemon outlive the console. Their stdio goes
 * to a file, not to the SSH channel (a closed channel would SIGPIPE a criu that writes to it),
 * and SIGHUP is ignored; the console still stops them through their process group.
 * `pidfile`: the daemon's PID (exec keeps it), for the target guard.
 */
export function outlivesConsole(argv: string[], out: string, pidfile?: string): string[] {
  return ['sh', '-c', 'trap "" HUP; [ -z "$2" ] || echo "$$" > "$2"; f=$1; shift 2; exec "$@" </dev/null >>"$f" 2>&1', 'ferry-detach', out, pidfile ?? '', ...argv];
}

/**
 * A command that outlives the console writes its output to a file, not to the SSH channel, so
 * its result has none: read the file back as the failure's evidence (CRIU's own log says the
 * rest; the leftovers keep `*.out` with the logs).
 */
export async function withDetachedOutput(run: CommandRunner, host: string, r: ExecResult, outPath: string): Promise<ExecResult> {
  if (`${r.stdout}${r.stderr}`.trim()) return r;
  const out = await run.run(host, ['tail', '-c', '65536', '--', outPath], { quiet: true }).catch(() => undefined);
  return out?.code === 0 && out.stdout.trim() ? { ...r, stderr: out.stdout } : r;
}

interface Background {
  abort: AbortController;
  done: Promise<ExecResult>;
  result?: ExecResult;
}

export type PostcopyStage = 'idle' | 'dumping' | 'serving' | 'restored' | 'complete';

export class PostcopyCutover {
  stage: PostcopyStage = 'idle';
  freezeWindowMs?: number;
  /** ms from the start of the lazy dump until the last page arrived on the target. */
  lastPageMs?: number;
  lastPageAt?: string;
  pages?: { done: number; total: number };
  private lazyDump?: Background;
  private daemon?: Background;

  constructor(private readonly ctx: PostcopyContext) {}

  /** True once the source's copy is gone (the dump exited after the last page): no way back. */
  get pastPointOfNoReturn(): boolean {
    return this.stage === 'complete';
  }

  private now(): string {
    return new Date().toISOString();
  }

  private start(host: string, argv: string[], timeoutMs: number): Background {
    const abort = new AbortController();
    const bg: Background = { abort, done: this.ctx.run.run(host, argv, { signal: abort.signal, timeoutMs }) };
    bg.done = bg.done.then((r) => (bg.result = r));
    // A failure to even start surfaces where the command is awaited.
    bg.done.catch(() => undefined);
    return bg;
  }

  /**
   * Wait until `needle` appears in a log on `host`, bounded; gives up at once if `until`
   * (the command writing that log) ends first.
   */
  private async waitForLog(host: string, path: string, needle: string, timeoutMs: number, until: Background): Promise<'ready' | 'exited' | 'timeout'> {
    const abort = new AbortController();
    const tries = String(Math.ceil(timeoutMs / 200));
    const wait = this.ctx.run
      .run(host, ['sh', '-c', 'n=0; while [ "$n" -lt "$2" ]; do grep -qF -- "$3" "$1" 2>/dev/null && exit 0; sleep 0.2; n=$((n+1)); done; exit 1', 'ferry-wait-log', path, tries, needle], {
        signal: abort.signal,
        timeoutMs: timeoutMs + 30_000,
        quiet: true,
      })
      .then((r) => (r.code === 0 ? ('ready' as const) : ('timeout' as const)));
    const ended = until.done.then(
      () => 'exited' as const,
      () => 'exited' as const,
    );
    const first = await Promise.race([wait, ended]);
    abort.abort();
    await wait.catch(() => undefined);
    // The log line and the exit can come together; a ready line wins only if the command still runs.
    return first;
  }

  /**
   * Freeze, move the metadata, restore lazily on the target and wait until every page
   * arrived. Returns 'rollback' when the user asked for one before the restore ran.
   */
  async run(): Promise<'complete' | 'rollback'> {
    const { plan, dir, run } = this.ctx;
    const { source, target } = plan;
    const freezeStart = Date.now();
    this.stage = 'dumping';
    this.lazyDump = this.start(
      source,
      this.ctx.limitLog(
        outlivesConsole(dump({
          pid: plan.pid,
          imagesDir: dir,
          lazyPages: { address: this.ctx.sourceAddress, port: plan.pageServerPort },
          ...criuTreeFlags(plan, this.ctx.networkLock),
          // A listener bound to --address checks its client's certificate against that
          // address (criu/tls.c), so the lazy dump skips the name check and takes any certificate
          // from this migration's CA: it signed the target's and the source's only.
          tls: this.ctx.tls ? { ...this.ctx.tls, noCnVerify: true } : undefined,
          log: 'dump.log',
          verbosity: 4,
        }), `${dir}/dump.out`),
      ),
      POSTCOPY_TIMEOUTS.dumpServing + POSTCOPY_TIMEOUTS.transfer,
    );
    // The tree is frozen from here (or the dump failed and CRIU let it go): rollback stops the dump.
    this.ctx.onSourceFrozen();
    const served = await this.waitForLog(source, `${dir}/dump.log`, LAZY_READY.dumpServing, POSTCOPY_TIMEOUTS.dumpServing, this.lazyDump);
    if (served !== 'ready') {
      const r = served === 'exited' ? await this.lazyDump.done : await this.stopOne(this.lazyDump);
      await this.failDetached('dump', source, served === 'timeout' ? { ...r, timedOut: true } : r, `${dir}/dump.log`, `${dir}/dump.out`);
    }
    this.stage = 'serving';
    if (this.ctx.rollbackRequested()) return 'rollback';

    const copy = await run.pipe(source, this.ctx.copyArgv(dir), target, ['tar', '-C', '/', '-xpf', '-'], {
      timeoutMs: 10 * 60_000,
      what: 'copying the images and open files',
    });
    this.ctx.onConsoleBytes(copy.bytes);
    this.ctx.record({ type: 'transfer', migrationId: this.ctx.migrationId, label: `images and open files, ${source} → ${target}`, doneBytes: copy.bytes, totalBytes: copy.bytes });
    if (this.ctx.rollbackRequested()) return 'rollback';

    this.daemon = this.start(
      target,
      this.ctx.limitLog(outlivesConsole(lazyPages({ pageServer: { address: this.ctx.sourceAddress, port: plan.pageServerPort }, tls: this.ctx.tls, imagesDir: dir, log: 'lazy-pages.log', verbosity: 4 }), `${dir}/lazy-pages.out`, this.ctx.daemonPidfile)),
      POSTCOPY_TIMEOUTS.transfer + POSTCOPY_TIMEOUTS.daemonListening + POSTCOPY_TIMEOUTS.restore,
    );
    const listening = await this.waitForLog(target, `${dir}/lazy-pages.log`, LAZY_READY.daemonListening, POSTCOPY_TIMEOUTS.daemonListening, this.daemon);
    if (listening !== 'ready') {
      const r = listening === 'exited' ? await this.daemon.done : await this.stopOne(this.daemon);
      await this.failDetached('lazy-pages', target, r, `${dir}/lazy-pages.log`, `${dir}/lazy-pages.out`);
    }
    if (this.ctx.rollbackRequested()) return 'rollback';

    this.ctx.setPhase('restore');
    this.ctx.onRestoreStarted();
    const restoreArgv = this.ctx.limitLog(restore({ imagesDir: dir, lazyPages: true, detach: true, ...criuTreeFlags(plan, this.ctx.networkLock), log: 'restore.log', verbosity: 4, pidfile: this.ctx.restoredPidfile }));
    // Post-copy guard: through the target guard when there is one.
    const rr = this.ctx.restoreVia ? await this.ctx.restoreVia(restoreArgv, POSTCOPY_TIMEOUTS.restore) : await run.run(target, restoreArgv, { timeoutMs: POSTCOPY_TIMEOUTS.restore });
    this.freezeWindowMs = Date.now() - freezeStart;
    if (rr.code !== 0) await this.ctx.fail('restore', target, rr, `${dir}/restore.log`);
    this.stage = 'restored';
    this.ctx.record({
      type: 'decision',
      migrationId: this.ctx.migrationId,
      by: 'policy',
      action: 'post-copy: running on target, pages still on source',
      reason: `PID ${plan.pid} runs on ${target}; its memory still comes from ${source}. A rollback now discards what it does on ${target}; once the last page arrived, ${source} holds no copy and there is no way back.`,
      at: this.now(),
    });
    this.ctx.setPhase('postcopy', `pages still on ${source}`);
    const done = await this.follow(freezeStart);
    return done;
  }

  /** Report the pages arriving, until the daemon and the dump both exited. */
  private async follow(freezeStart: number): Promise<'complete' | 'rollback'> {
    const { plan, dir, run } = this.ctx;
    const { source, target } = plan;
    const reader = new LazyProgressReader();
    const log = `${dir}/lazy-pages.log`;
    const deadline = Date.now() + POSTCOPY_TIMEOUTS.transfer;
    let reported = '';
    // One follower of the target's log for the whole transfer, recorded like every command:
    // its lines feed the progress, and it is stopped once both CRIU ends have exited.
    const following = new AbortController();
    const follower = run
      .run(target, ['sh', '-c', 'tail -c +1 -F -- "$1" 2>/dev/null | grep --line-buffered -F "uffd: "', 'ferry-follow-log', log], {
        quiet: true,
        signal: following.signal,
        onStdout: (chunk) => reader.feed(chunk.toString('utf8')),
      })
      .catch(() => undefined);
    const poll = () => {
      const p = reader.progress;
      const key = `${p.donePages}/${p.totalPages}`;
      if (p.totalPages > 0 && key !== reported) {
        reported = key;
        this.pages = { done: p.donePages, total: p.totalPages };
        this.ctx.record({
          type: 'transfer',
          migrationId: this.ctx.migrationId,
          label: `post-copy: pages still on ${source} → ${target}`,
          doneBytes: p.donePages * LAZY_PAGE_SIZE,
          totalBytes: p.totalPages * LAZY_PAGE_SIZE,
        });
      }
    };
    try {
      for (;;) {
        poll();
        if (reader.complete && this.lastPageMs === undefined) {
          this.lastPageMs = Date.now() - freezeStart;
          this.lastPageAt = this.now();
        }
        const d = this.daemon!.result;
        const s = this.lazyDump!.result;
        if (d && d.code !== 0) await this.failDetached('lazy-pages', target, d, log, `${dir}/lazy-pages.out`);
        if (s && s.code !== 0) await this.failDetached('dump', source, s, `${dir}/dump.log`, `${dir}/dump.out`);
        if (d && s) break;
        if (this.ctx.rollbackRequested()) return 'rollback';
        if (Date.now() > deadline) {
          throw new FerryError({
            code: 'postcopy-timeout',
            host: target,
            message: `Post-copy did not finish within ${Math.round(POSTCOPY_TIMEOUTS.transfer / 60_000)} min: ${reader.progress.donePages} of ${reader.progress.totalPages} pages arrived on ${target}`,
            hint: `A process that touches every page all the time starves CRIU 3.17's background transfer; pausing it on ${target} (kill -STOP, then -CONT) lets the rest arrive.`,
          });
        }
        await new Promise((r) => setTimeout(r, POSTCOPY_TIMEOUTS.pollMs));
      }
      // CRIU's final count is among the last lines the daemon wrote: give the follower a moment.
      for (let i = 0; i < 20 && !reader.complete; i++) await new Promise((r) => setTimeout(r, 100));
      poll();
    } finally {
      following.abort();
      await follower;
    }
    this.lastPageMs ??= Date.now() - freezeStart;
    this.lastPageAt ??= this.now();
    this.stage = 'complete';
    const p = reader.progress;
    this.ctx.record({
      type: 'decision',
      migrationId: this.ctx.migrationId,
      by: 'policy',
      action: 'post-copy complete',
      reason: `all ${p.totalPages} pages arrived on ${target} ${this.lastPageMs} ms after the freeze began (last page at ${this.lastPageAt}); ${source} holds no copy any more`,
      at: this.now(),
    });
    return 'complete';
  }

  private async failDetached(command: CriuCommandName, host: string, r: ExecResult, logPath: string, outPath: string): Promise<never> {
    return this.ctx.fail(command, host, await withDetachedOutput(this.ctx.run, host, r, outPath), logPath);
  }

  private async stopOne(bg: Background): Promise<ExecResult> {
    bg.abort.abort();
    return bg.done;
  }

  /**
   * Kill the source's lazy dump: CRIU lets the frozen tree go and it runs on (lab probe).
   * Returns how the dump ended; exit 0 means it had finished: every page was sent and CRIU
   * killed the source tree itself.
   */
  async stopDump(): Promise<ExecResult | undefined> {
    const bg = this.lazyDump;
    if (!bg) return undefined;
    if (bg.result) return bg.result;
    return this.stopOne(bg).catch(() => undefined);
  }

  /** Stop whatever still runs (the daemon, and the dump if stopDump was not called first). */
  async stop(): Promise<void> {
    for (const bg of [this.lazyDump, this.daemon]) {
      if (bg && !bg.result) await this.stopOne(bg).catch(() => undefined);
    }
  }

  /** A rollback's steps for post-copy, in order (the common ones follow). */
  rollbackSteps(restoreStarted: boolean, pids: number[]): string[] {
    const { source, target } = this.ctx.plan;
    const steps: string[] = [];
    if (restoreStarted) steps.push(`pause the copy on ${target} (kill -STOP ${pids.join(' ')}) so it cannot finish the transfer`);
    if (this.lazyDump && !this.lazyDump.result) steps.push(`stop the lazy dump on ${source} (CRIU lets the frozen tree go; it runs on with its memory as it was at the freeze)`);
    if (restoreStarted) steps.push(`kill the copy on ${target} (PIDs ${pids.join(', ')}); what it did there since the restore is lost`);
    if (this.daemon && !this.daemon.result) steps.push(`stop criu lazy-pages on ${target}`);
    return steps;
  }

  /** Why a rollback is no longer clean, once the restore ran; undefined before. */
  pointOfNoReturn(): string | undefined {
    const { source, target, pid } = this.ctx.plan;
    if (this.stage === 'complete') return `Passed: every page arrived and ${source} holds no copy of PID ${pid} any more. It exists only on ${target}; Ferry will not roll back (that would lose it).`;
    if (this.stage === 'restored') return `PID ${pid} runs on ${target} while its pages still come from ${source}. Rolling back now kills it on ${target} (losing what it did there) and lets the frozen copy on ${source} run on. Once the last page arrived there is no way back.`;
    return undefined;
  }
}
