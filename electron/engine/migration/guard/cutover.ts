/**
 * The cutover guards as the migration drives them: one object, one state, every transition in
 * this file. From just before the final dump until commit (or rollback), a guard runs on each
 * host (guard.py, uploaded and started through the CommandRunner, so journaled) and the console
 * renews both leases. The restore runs through the target guard; the commit point is the target
 * guard's `commit`. When the console loses a host, it stops renewing the other lease too and
 * lets the hosts settle (shared/guard.ts settle()); it never resumes the source itself while a
 * restored copy may run. See README.md beside this file.
 *
 *   off ──arm──▶ armed ──restore──▶ restored ──commit──▶ committed ──release──▶ released
 *                  │                   │
 *                  └──── rollback ─────┴──▶ rolled-back (target clear) ──release──▶ released
 *                  └──── target guard unreachable / refuses ──▶ handed-over (the guards settle)
 */
import type { EngineEvent } from '../../../../shared/api.ts';
import { FerryError } from '../../../../shared/errors.ts';
import type { CommandRunner } from '../../commands/runner.ts';
import type { ExecResult } from '../../../ssh/index.ts';
import { DEFAULT_LEASE_MS, EXIT_REFUSED, GuardClient, guardDecisionEvents, newGuardSecret, type GuardStatus, type Lease } from './guard.ts';

export type ConsoleGuardState = 'off' | 'armed' | 'restoring' | 'restored' | 'committed' | 'rolled-back' | 'handed-over' | 'released';

/** How the hosts ended, in words for `ferry journal list` ("settled: source resumed by guard"). */
export type Settled = 'source resumed by guard' | 'target kept by guard' | 'held by guards' | 'guards did not settle';

/** The guard's directory on both hosts: beside the migration's images, never inside them (the target guard may delete those). */
export const guardDir = (workDir: string, migrationId: string) => `${workDir}/${migrationId}.guard`;
/** The target guard listens on the migration link, one port above the page server. */
export const guardPort = (pageServerPort: number) => pageServerPort + 1;

export interface GuardedCutoverOptions {
  run: CommandRunner;
  record(e: EngineEvent): void;
  migrationId: string;
  source: string;
  target: string;
  workDir: string;
  /** The target's migration address (where the source's criu reaches the page server). */
  targetAddress: string;
  pageServerPort: number;
  leaseMs?: number;
  /** Where each host keeps its guard; default guardDir() on both. (Tests on one machine need two.) */
  dirs?: { source: string; target: string };
}

export interface ArmOptions {
  /** The tree's PIDs, root first. */
  pids: number[];
  /** What the target guard deletes when it aborts: the migration's image directory on the target. */
  images: string;
  /** The restore's --pidfile on the target. */
  restoredPidfile: string;
  /** The final dump's page server pidfile on the target: stopped when the target aborts. */
  pageServerPidfile?: string;
  /**
   * Post-copy: criu's lazy dump holds the source tree for the whole transfer (its log, and the
   * line it writes once it serves), and the target's lazy-pages daemon (its pidfile) is stopped
   * only after the source resumed. See README.md, "Post-copy".
   */
  lazy?: { dumpLog: string; ready: string; daemonPidfile: string };
}

export class GuardedCutover {
  state: ConsoleGuardState = 'off';
  /** Set when a lease ended without the console stopping it (a host's link dropped). */
  lost?: { host: string; why: string };
  readonly dir: string;
  readonly leaseMs: number;
  private readonly secret = newGuardSecret();
  private readonly src: GuardClient;
  private readonly tgt: GuardClient;
  private leases: Lease[] = [];

  constructor(private readonly o: GuardedCutoverOptions) {
    this.dir = guardDir(o.workDir, o.migrationId);
    this.leaseMs = o.leaseMs ?? DEFAULT_LEASE_MS;
    this.src = new GuardClient(o.run, o.source, o.dirs?.source ?? this.dir, this.secret);
    this.tgt = new GuardClient(o.run, o.target, o.dirs?.target ?? this.dir, this.secret);
  }

  /** The guards are up and the console still decides (restore, commit, rollback go through them). */
  get active(): boolean {
    return this.state === 'armed' || this.state === 'restoring' || this.state === 'restored';
  }

  private note(action: string, reason: string): void {
    this.o.record({ type: 'decision', migrationId: this.o.migrationId, by: 'policy', action, reason, at: new Date().toISOString() });
  }

  /** Upload and start both guards, leases first (a slow python start never eats a lease). */
  async arm(a: ArmOptions): Promise<void> {
    const { source, target } = this.o;
    await Promise.all([this.src.install(this.o.run), this.tgt.install(this.o.run)]);
    const every = Math.max(200, Math.floor(this.leaseMs / 3));
    for (const [host, client] of [[source, this.src], [target, this.tgt]] as const) {
      const lease = client.lease(every);
      this.leases.push(lease);
      void lease.done.then((end) => {
        if (end.stopped || this.lost) return;
        // One host lost: stop renewing the other too, so both guards settle instead of one waiting for the console.
        this.lost = { host, why: end.why };
        this.note('lease lost', `the console's lease on ${host} ended (${end.why}): the guards settle the cutover between themselves`);
        for (const l of this.leases) void l.stop();
      });
    }
    try {
      await this.startGuards(a);
    } catch (e) {
      // Nothing is frozen yet: leave no guard, lease or directory behind, then fail the migration.
      await Promise.all([this.src.release().catch(() => undefined), this.tgt.release().catch(() => undefined)]);
      await Promise.all(this.leases.map((l) => l.stop()));
      for (const c of [this.src, this.tgt]) await this.o.run.run(c.host, ['rm', '-rf', '--', c.dir]).catch(() => undefined);
      throw e;
    }
  }

  private async startGuards(a: ArmOptions): Promise<void> {
    const { source, target } = this.o;
    const listen = `${this.o.targetAddress}:${guardPort(this.o.pageServerPort)}`;
    const common = { pids: a.pids, leaseMs: this.leaseMs };
    // Both at once: the source guard only asks its peer once its lease is lost.
    const [t] = await Promise.all([
      this.tgt.start({ ...common, role: 'target', listen, images: [a.images], restoredPidfile: a.restoredPidfile, stopPidfiles: a.pageServerPidfile ? [a.pageServerPidfile] : [], afterResumePidfiles: a.lazy ? [a.lazy.daemonPidfile] : undefined }),
      this.src.start({ ...common, role: 'source', peer: listen, ...(a.lazy ? { lazyDumpLog: a.lazy.dumpLog, lazyReady: a.lazy.ready } : {}) }),
    ]);
    this.state = 'armed';
    this.note('guards armed', `a guard runs on ${source} and on ${target} (listening on ${t.listen}) until commit; lease ${this.leaseMs} ms: if the console is lost, the hosts settle without it`);
  }

  /** Before a step that needs the console in charge: a lost lease means the guards decide now. */
  checkLease(): void {
    if (!this.lost) return;
    throw new FerryError({
      code: 'guard-lease-lost',
      host: this.lost.host,
      message: `The console lost its lease on ${this.lost.host} (${this.lost.why}): the hosts settle the cutover without it`,
      hint: 'Ferry waits for the guards and journals what they decided; `ferry journal list` shows how the hosts settled.',
    });
  }

  /** The restore, run by the target guard: it knows the restore started, ended, and the restored PID. */
  async restore(argv: string[], timeoutMs: number): Promise<ExecResult> {
    this.checkLease();
    this.state = 'restoring';
    const { result, reply } = await this.tgt.restore(argv, timeoutMs);
    if (result.code === EXIT_REFUSED && reply && 'refused' in reply) {
      this.state = 'armed';
      throw new FerryError({ code: 'guard-refused-restore', host: this.o.target, message: `The target guard refused the restore: ${String(reply.refused)}`, hint: 'Its lease ran out before the restore: it dropped the images; the source resumes.' });
    }
    this.state = result.code === 0 ? 'restored' : 'armed';
    return result;
  }

  /** The commit point: the target guard keeps its copy from now on. Throws if it refuses (nothing is killed then). */
  async commit(): Promise<void> {
    this.checkLease();
    const rep = await this.tgt.commit();
    if (rep.ok !== true) {
      throw new FerryError({ code: 'guard-commit-refused', host: this.o.target, message: `The target guard refused the commit: ${String(rep.error ?? rep.refused ?? 'no answer')}`, hint: 'The frozen source was left as it is; the guards settle it.' });
    }
    this.state = 'committed';
  }

  /**
   * The console rolls back. The target guard kills what the restore started and drops the
   * images; only then may the console resume the source. If the target guard cannot be reached
   * or refuses (it kept its copy, a restore still runs), the console hands over to the guards.
   */
  async rollback(): Promise<'target-clear' | 'handed-over'> {
    if (!this.active) return 'target-clear';
    const rep = this.lost ? undefined : await this.tgt.rollback({ keepImages: true }).catch(() => undefined);
    if (rep?.ok === true) {
      this.state = 'rolled-back';
      return 'target-clear';
    }
    this.state = 'handed-over';
    this.note('handed over to the guards', `the target guard did not roll back (${rep ? String(rep.error ?? rep.refused) : `${this.o.target} unreachable`}): the console stops renewing both leases and lets the hosts settle`);
    await Promise.all(this.leases.map((l) => l.stop()));
    return 'handed-over';
  }

  /** The console could not finish its own rollback (a host unreachable): stop renewing, the guards finish it. */
  async handOver(why: string): Promise<void> {
    if (this.state === 'off' || this.state === 'released' || this.state === 'handed-over') return;
    this.state = 'handed-over';
    this.note('handed over to the guards', why);
    await Promise.all(this.leases.map((l) => l.stop()));
  }

  /**
   * After a hand-over: wait until the source guard settled (or holds), reading its state
   * on the source; bounded by the lease plus `extraMs`. Undefined when the source cannot be read.
   */
  async waitSettled(extraMs = 120_000): Promise<Settled | undefined> {
    const end = Date.now() + this.leaseMs + extraMs;
    let last: Settled | undefined;
    for (;;) {
      const st = await this.src.status().catch(() => undefined);
      if (st) {
        last = settledFrom(st);
        if (last === 'source resumed by guard' || last === 'target kept by guard' || (last === 'held by guards' && Date.now() > end - extraMs / 2)) return last;
      }
      if (Date.now() > end) return last;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** The console finished (commit or rollback): both guards exit; their logs are journaled and their directories removed. */
  async release(): Promise<Settled | undefined> {
    if (this.state === 'off' || this.state === 'released') return undefined;
    await Promise.all([this.src.release().catch(() => undefined), this.tgt.release().catch(() => undefined)]);
    await Promise.all(this.leases.map((l) => l.stop()));
    const settled = await journalGuards(this.o.run, this.o.record, this.o.migrationId, { source: this.o.source, target: this.o.target }, { source: this.src.dir, target: this.tgt.dir }, this.secret);
    this.state = 'released';
    return settled;
  }
}

/** How one source guard's state reads as a settlement; undefined while it still waits for the console. */
export function settledFrom(source: GuardStatus): Settled | undefined {
  const s = source.state?.state;
  if (s === 'resumed') return 'source resumed by guard';
  if (s === 'killed') return 'target kept by guard';
  if (s === 'hold' || s === 'settling') return 'held by guards';
  if (source.state?.leaseLost && s !== 'released') return 'guards did not settle';
  return undefined;
}

/**
 * Read both guards' logs (on a release, or when a console comes back), journal each decision,
 * journal how the hosts settled when the guards decided anything, and remove the guards'
 * directories once their logs are journaled. A guard still running is released first: the
 * console takes over from here. Hosts it cannot reach keep their guard directory.
 */
export async function journalGuards(
  run: CommandRunner,
  record: (e: EngineEvent) => void,
  migrationId: string,
  hosts: { source: string; target: string },
  dirs: string | { source: string; target: string },
  secret?: string,
): Promise<Settled | undefined> {
  const where = (['source', 'target'] as const).map((role) => ({ host: hosts[role], dir: typeof dirs === 'string' ? dirs : dirs[role] }));
  const read = async ({ host, dir }: { host: string; dir: string }) => {
    const c = new GuardClient(run, host, dir, secret ?? '').attach();
    let st = await c.status().catch(() => undefined);
    // A released guard exits within a second: let it write its last line first.
    for (let i = 0; i < 6 && st?.alive && secret; i++) {
      await new Promise((r) => setTimeout(r, 500));
      st = await c.status().catch(() => st);
    }
    if (st?.alive && !secret) {
      // A returning console has no secret: stop the guard by its PID (the console takes over from here).
      await run.run(host, ['kill', '-TERM', '--', String(st.state!.pid)]).catch(() => undefined);
      st = await c.status().catch(() => st);
    }
    return st;
  };
  const statuses = [await read(where[0]!), await read(where[1]!)];
  where.forEach(({ host }, i) => {
    const st = statuses[i];
    if (st?.found) for (const e of guardDecisionEvents(migrationId, host, st.log)) record(e);
  });
  const settled = statuses[0] ? settledFrom(statuses[0]) : undefined;
  if (settled) record({ type: 'decision', migrationId, by: 'policy', action: 'hosts settled', reason: settled, at: new Date().toISOString() });
  for (const [i, { host, dir }] of where.entries()) {
    if (statuses[i]) await run.run(host, ['rm', '-rf', '--', dir]).catch(() => undefined);
  }
  return settled;
}
