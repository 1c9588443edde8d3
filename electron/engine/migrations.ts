import { existsSync } from 'node:fs';
import path from 'node:path';
import type { EngineEvent } from '../../shared/api.ts';
import type { JournalSummary, MigrationAction, MigrationPlan, PreflightReport, RollbackPreview } from '../../shared/domain.ts';
import { FerryError } from '../../shared/errors.ts';
import { createJournal, listJournals, openJournal, readJournal, replay, journalPath } from './journal/journal.ts';
import { renderReport, renderRunbook } from './journal/report.ts';
import { Migration, newMigrationId, type MigrationResult } from './migration/migration.ts';
import { learnCosts } from './journal/learn.ts';
import { journaledCutover } from './journal/recovered.ts';
import { journalPictures } from './journal/pictures.ts';
import type { JournalPictures } from '../../shared/api.ts';
import { withMigrationAddress } from './hosts/addresses.ts';
import { resolveHost } from '../ssh/config.ts';
import type { CutoverCosts } from '../../shared/estimate.ts';
import { runPreflight } from './hosts/preflight.ts';
import { measureDirtyRate } from './dirty/dirty-sampler.ts';
import type { DirtyRateProbe } from '../../shared/domain.ts';
import { CommandRunner, type Privilege } from './commands/runner.ts';
import type { HostSession } from '../ssh/index.ts';
import { Claims, localClaimContext } from './migration/claims.ts';
import { resolveSelector } from './hosts/candidates.ts';
import { portRangeOf } from '../../shared/domain.ts';

/**
 * Migrations as the console sees them: start one (journaled from its first event),
 * steer it, and read the journals of past and unfinished ones.
 */
export class MigrationService {
  private readonly active = new Map<string, { migration: Migration; done: Promise<MigrationResult> }>();
  /** Dirty-rate probes running now, as `host pid`: a migration of that PID waits for them. */
  private readonly probing = new Set<string>();

  constructor(
    private readonly session: (alias: string) => HostSession,
    private readonly emit: (e: EngineEvent) => void,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Preflight alone, outside a migration: its commands go to the UI but not to a journal. */
  async preflight(plan: MigrationPlan): Promise<PreflightReport> {
    plan = await withMigrationAddress(plan, this.addressOf);
    const privilege: Record<string, Privilege> = {};
    const run = new CommandRunner(this.emit, this.session, (h) => privilege[h] ?? 'root');
    // Many migrations at once: the selector's process, and the port pair a start would reserve now (nothing is taken).
    const claims = new Claims({ run, migrationId: 'preflight', ctx: this.claimContext, note: () => undefined });
    const listener = plan.mode === 'postcopy' ? plan.source : plan.target;
    plan = { ...plan, pid: await resolveSelector(run, plan), pageServerPort: await claims.reservePorts(listener, portRangeOf(plan), { dryRun: true }) };
    const facts = await runPreflight(plan, run, {
      scratchDir: `${plan.workDir}/preflight-${newMigrationId()}`,
      setPrivilege: (h, p) => (privilege[h] = p),
      costs: this.learnedCosts(plan),
    });
    return facts.report;
  }

  /** Many migrations at once: this engine, and its journals, judge the holders of claims on hosts. */
  private readonly claimContext = localClaimContext((id) => {
    try {
      return this.replayOf(id).summary;
    } catch {
      return undefined;
    }
  });

  /** Migration addresses: a host's FerryMigrationAddress from the ssh config files. */
  private readonly addressOf = (alias: string) => resolveHost(alias, this.env).then((h) => h.migrationAddress);

  /** Start a migration; resolves once it is journaled and running, not when it ends. */
  start(plan: MigrationPlan, opts: { overrideBlockers?: boolean } = {}): { migrationId: string; done: Promise<MigrationResult> } {
    if (this.probing.has(`${plan.source} ${plan.pid}`)) {
      throw new FerryError({
        code: 'dirty-probe-running',
        host: plan.source,
        message: `The dirty rate of PID ${plan.pid} on ${plan.source} is being measured`,
        hint: 'Start the migration once the measurement has ended (at most a minute).',
      });
    }
    for (const { migration } of this.active.values()) {
      // A plan naming its process by selector (pid 0) is checked by its claim on the source.
      if (plan.pid > 0 && migration.plan.pid === plan.pid && migration.plan.source === plan.source) {
        throw new FerryError({
          code: 'migration-running',
          host: plan.source,
          message: `PID ${plan.pid} on ${plan.source} is already being migrated (${migration.id})`,
          hint: 'Wait for it to finish or roll it back.',
        });
      }
    }
    const id = newMigrationId();
    const learned = this.learnedCosts(plan);
    const journal = createJournal(id, { env: this.env });
    const migration = new Migration(
      plan,
      {
        session: this.session,
        // The journal is the truth: an event reaches the UI only after it is on disk.
        record: (e) => {
          journal.append(e);
          this.emit(e);
        },
        env: this.env,
        emit: this.emit,
        addressOf: this.addressOf,
        claims: this.claimContext,
      },
      { id, overrideBlockers: opts.overrideBlockers, learned },
    );
    const done = migration.execute().finally(() => {
      journal.close();
      this.active.delete(id);
    });
    this.active.set(id, { migration, done });
    return { migrationId: id, done };
  }

  private get(id: string): Migration {
    const m = this.active.get(id)?.migration;
    if (!m) {
      throw new FerryError({ code: 'no-such-migration', message: `No running migration ${id}`, hint: 'It may have finished; see the history (ferry journal list).' });
    }
    return m;
  }

  control(id: string, action: MigrationAction): { accepted: boolean; note: string } {
    return this.get(id).control(action);
  }

  rollbackPreview(id: string): RollbackPreview {
    return this.get(id).rollbackPreview();
  }

  /**
   * The 'measure dirty rate' probe: clear the soft-dirty bits of PID's tree on `host`, wait,
   * count. Refused while a migration of that PID on that host runs: once its first pre-dump
   * has started, clearing would erase CRIU's tracking and corrupt the restored memory (and
   * before, the clear could land just after that pre-dump). Its commands reach the UI but no
   * journal, like a preflight of its own.
   */
  async measureDirtyRate(host: string, pid: number, seconds: number): Promise<DirtyRateProbe> {
    for (const { migration } of this.active.values()) {
      if (migration.plan.source !== host || !migration.covers(pid)) continue;
      const past = migration.preDumpStarted;
      throw new FerryError({
        code: 'dirty-probe-refused',
        host,
        message: past
          ? `Refusing to measure the dirty rate of PID ${pid} on ${host}: migration ${migration.id} is past its first pre-dump, and clearing the soft-dirty bits now would erase CRIU's tracking and corrupt the restored memory`
          : `Refusing to measure the dirty rate of PID ${pid} on ${host}: migration ${migration.id} of it is starting, and its first pre-dump must not meet the probe's reset`,
        hint: past
          ? 'The dashboard already shows the live dirty set of a running migration (read-only); measure before the next migration instead.'
          : 'Abort that migration first, or measure once it has ended.',
      });
    }
    // Another engine (a CLI run, a crashed console) may be migrating it: its journal says so.
    const unfinished = this.list().find((j) => !j.finished && j.source === host && j.pid === pid);
    if (unfinished) {
      throw new FerryError({
        code: 'dirty-probe-refused',
        host,
        message: `Refusing to measure the dirty rate of PID ${pid} on ${host}: migration ${unfinished.id} of it is unfinished (last phase ${unfinished.lastPhase}), and clearing the soft-dirty bits could erase CRIU's tracking and corrupt the restored memory`,
        hint: unfinished.nextStep ?? 'Let that migration finish, or recover it, before measuring.',
      });
    }
    const key = `${host} ${pid}`;
    if (this.probing.has(key)) {
      throw new FerryError({ code: 'dirty-probe-running', host, message: `The dirty rate of PID ${pid} on ${host} is already being measured`, hint: 'Wait for that measurement to end.' });
    }
    this.probing.add(key);
    try {
      let privilege: Privilege = 'root';
      const run = new CommandRunner(this.emit, this.session, () => privilege);
      const id = await run.run(host, ['id', '-u'], { quiet: true, check: true, what: 'checking the user' });
      if (id.stdout.trim() !== '0') privilege = 'sudo';
      return await measureDirtyRate(run, host, pid, seconds);
    } finally {
      this.probing.delete(key);
    }
  }

  /** Migrations running in this engine now. */
  activeIds(): string[] {
    return [...this.active.keys()];
  }

  /** Roll back every running migration and wait until each has ended (a face is closing). */
  async rollbackAll(): Promise<void> {
    for (const { migration } of this.active.values()) migration.control('rollback');
    await this.settle();
  }

  /** Wait for every running migration (used when a face closes). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.active.values()].map((a) => a.done));
  }

  /** Carry out the safe next step of an unfinished migration, recorded in its own journal. */
  async recover(id: string, choice: 'auto' | 'rollback' | 'commit' = 'auto'): Promise<MigrationResult> {
    if (this.active.has(id)) {
      throw new FerryError({ code: 'migration-running', message: `Migration ${id} is still running in this engine`, hint: 'Control it directly (abort or roll back).' });
    }
    const r = this.replayOf(id);
    if (r.outcome || !r.plan) {
      throw new FerryError({ code: 'nothing-to-recover', message: r.outcome ? `Migration ${id} already ended (${r.outcome.outcome})` : `Journal ${id} names no plan`, hint: r.summary.nextStep });
    }
    const journal = openJournal(id, { env: this.env });
    const migration = new Migration(r.plan, {
      session: this.session,
      record: (e) => {
        journal.append(e);
        this.emit(e);
      },
      env: this.env,
    }, { id });
    try {
      const finalDumpStarted = r.commands.some((c) => c.argv.includes('dump') && c.argv.some((a) => a === 'criu' || a.endsWith('/criu')));
      // Cutover guards: started (python3 .../guard.py start) means their logs are to be read on both hosts.
      const guarded = r.commands.some((c) => c.argv[0] === 'python3' && c.argv[1]?.endsWith('/guard.py') && c.argv[2] === 'start');
      return await migration.recover({ finalDumpStarted, restoreStarted: r.restoreStarted, hooksStarted: r.commands.some((c) => c.hook) || r.hooks.length > 0, cutover: journaledCutover(r), guarded }, choice);
    } finally {
      journal.close();
    }
  }

  /** What the last committed migrations between these two hosts measured (at most ten). */
  private learnedCosts(plan: MigrationPlan): CutoverCosts | undefined {
    const past = this.list()
      .filter((j) => j.outcome === 'committed' && j.source === plan.source && j.target === plan.target)
      .slice(0, 10)
      .map((j) => this.replayOf(j.id));
    return learnCosts(past, plan.source, plan.target);
  }

  list(): JournalSummary[] {
    return listJournals({ env: this.env });
  }

  /** One journal, replayed; an unknown id is a clear error, not a file-system message. */
  private replayOf(id: string) {
    const file = journalPath(id, { env: this.env });
    if (!existsSync(file)) {
      throw new FerryError({ code: 'no-such-journal', message: `No migration ${id} in ${path.dirname(file)}`, hint: 'See `ferry journal list` for the ids.' });
    }
    return replay(readJournal(file).records, { id });
  }

  report(id: string): string {
    return renderReport(this.replayOf(id));
  }

  runbook(id: string): string {
    return renderRunbook(this.replayOf(id));
  }

  /** History with pictures: what the History view draws for a past migration. */
  pictures(id: string): JournalPictures {
    const r = this.replayOf(id);
    return journalPictures(readJournal(journalPath(id, { env: this.env })).records, r);
  }
}
