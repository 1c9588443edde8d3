/**
 * Test support for journal.test.ts and report.test.ts (not a test itself): the events a
 * migration of the recorded converging lab run would have journaled, built from CRIU's real
 * stats-dump images (decoded with Ferry's decoder) and run.log's host timestamps. Argv comes
 * from Ferry's own builders; the decisions are the user's (manual mode), as in the real run:
 * one more, one more, cut over.
 */
import { readFileSync } from 'node:fs';
import type { EngineEvent } from '../../../shared/api.ts';
import { newPlan } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { buildIteration, estimateDowntime, type TimedIterationStats } from '../../../shared/estimate.ts';
import { recommend } from '../../../shared/policy.ts';
import { dump, pageServer, preDump, restore } from '../../criu/argv.ts';
import { decodeStats } from '../../criu/stats.ts';

export const FIXTURES = new URL('../../../../shared/fixtures/criu/', import.meta.url);

export interface Step {
  title: string;
  startMs: number;
  endMs: number;
  rc: number;
}

export function runLogSteps(name: string): Step[] {
  const text = readFileSync(new URL(`${name}/run.log`, FIXTURES), 'utf8');
  const out: Step[] = [];
  for (const block of text.split(/^### /m).slice(1)) {
    const start = /host-start: (\S+)/.exec(block)?.[1];
    const end = /rc=(\d+)\s+host-end: (\S+)/.exec(block);
    if (!start || !end) continue;
    out.push({ title: block.split('\n', 1)[0] ?? '', startMs: Date.parse(start), endMs: Date.parse(end[2] ?? ''), rc: Number(end[1]) });
  }
  return out;
}

export const MIGRATION_ID = '2026-11-23T05-15-29Z-c0ffee';

export const convergingPlan: MigrationPlan = newPlan({
  source: 'lab-source',
  target: 'lab-target',
  pid: 50000,
  targetAddress: '10.0.0.2',
  fileSync: ['/root/converging.out', '/root/converging.status'],
  retention: 'keep',
});

export interface TimedEvent {
  at: Date;
  event: EngineEvent;
}

/** The converging run as Ferry's events, each with the host time it happened. */
export function convergingEvents(opts: { stopAfter?: 'precopy' | 'final-dump' | 'restore-started' } = {}): TimedEvent[] {
  const id = MIGRATION_ID;
  const plan = convergingPlan;
  const steps = runLogSteps('converging');
  const step = (re: RegExp) => {
    const s = steps.find((x) => re.test(x.title));
    if (!s) throw new Error(`no step ${re}`);
    return s;
  };
  const dir = (n: number) => `${plan.workDir}/${id}/${n}`;
  const out: TimedEvent[] = [];
  const iso = (ms: number) => new Date(ms).toISOString();
  const add = (ms: number, event: EngineEvent) => out.push({ at: new Date(ms), event });
  let cmdN = 0;
  const command = (host: string, argv: string[], s: Step, extra: { pipeTo?: { host: string; argv: string[]; sudo: boolean }; code?: number; unfinished?: boolean } = {}) => {
    const commandId = `c${++cmdN}`;
    add(s.startMs, { type: 'command-started', commandId, migrationId: id, host, argv, sudo: false, startedAt: iso(s.startMs), pipeTo: extra.pipeTo });
    if (extra.unfinished) return;
    add(s.endMs, {
      type: 'command-finished',
      commandId,
      migrationId: id,
      code: extra.code ?? s.rc,
      signal: null,
      durationMs: s.endMs - s.startMs,
      timedOut: false,
      endedAt: iso(s.endMs),
    });
  };
  const phase = (ms: number, p: 'preflight' | 'precopy' | 'cutover' | 'restore' | 'verify' | 'committed', note?: string) =>
    add(ms, { type: 'phase', migrationId: id, phase: p, at: iso(ms), note });

  const t0 = step(/^workload status before migration/).startMs;
  add(t0, { type: 'migration-started', migrationId: id, plan, at: iso(t0) });
  phase(t0 + 1, 'preflight');
  phase(t0 + 300, 'precopy');

  const iterations: TimedIterationStats[] = [];
  let lastEstimate: number | undefined;
  for (let n = 1; n <= 4; n++) {
    const ps = step(new RegExp(`^iter ${n}: page-server`));
    const final = n === 4;
    if (final) {
      if (opts.stopAfter === 'precopy') return out;
      add(ps.startMs - 2, { type: 'decision', migrationId: id, by: 'user', action: 'cutover-now', reason: 'requested during precopy', at: iso(ps.startMs - 2) });
      phase(ps.startMs - 1, 'cutover');
    }
    command(plan.target, pageServer({ imagesDir: dir(n), prevImagesDir: n > 1 ? `../${n - 1}` : undefined, port: plan.pageServerPort, daemon: true, log: 'ps.log' }), ps);
    const s = step(final ? /^iter 4: dump/ : new RegExp(`^iter ${n}: pre-dump`));
    const common = { pid: plan.pid, imagesDir: dir(n), trackMem: true, prevImagesDir: n > 1 ? `../${n - 1}` : undefined, pageServer: { address: plan.targetAddress, port: plan.pageServerPort } };
    command(plan.source, final ? dump({ ...common, leaveStopped: true, log: 'dump.log' }) : preDump({ ...common, log: 'pre-dump.log' }), s);
    const stats = decodeStats(readFileSync(new URL(`converging/source/${n}/stats-dump`, FIXTURES)));
    if (stats.kind !== 'dump') throw new Error('expected dump stats');
    const it = buildIteration({ index: n, kind: final ? 'dump' : 'pre-dump', stats, startedAtMs: s.startMs, endedAtMs: s.endMs }, iterations[iterations.length - 1]);
    iterations.push(it);
    add(s.endMs + 1, { type: 'iteration', migrationId: id, stats: it });
    if (!final) {
      const estimate = estimateDowntime({ iterations, budgetMs: plan.policy.downtimeBudgetMs, nowMs: s.endMs + 2 });
      lastEstimate = estimate.predictedMs;
      add(s.endMs + 2, { type: 'estimate', migrationId: id, estimate, recommendation: recommend({ iterations, estimate, policy: plan.policy }) });
      if (n < 3) add(s.endMs + 3, { type: 'decision', migrationId: id, by: 'user', action: 'one-more', reason: 'requested during precopy', at: iso(s.endMs + 3) });
    }
  }
  if (opts.stopAfter === 'final-dump') return out;

  const copy = step(/^copy metadata/);
  command(
    plan.source,
    ['tar', '-C', dir(4), '-cf', '-', '--exclude=pages-*.img', '--exclude=*.log', '.'],
    copy,
    { pipeTo: { host: plan.target, argv: ['tar', '-C', dir(4), '-xf', '-'], sudo: false } },
  );
  const rs = step(/^restore \(target\)/);
  phase(rs.startMs - 1, 'restore');
  command(plan.target, restore({ imagesDir: dir(4), detach: true, log: 'restore.log' }), rs, { unfinished: opts.stopAfter === 'restore-started' });
  if (opts.stopAfter === 'restore-started') return out;
  const restored = decodeStats(readFileSync(new URL('converging/target/4/stats-restore', FIXTURES)));
  if (restored.kind === 'restore') {
    const { kind: _kind, ...stats } = restored;
    add(rs.endMs, { type: 'restore-stats', migrationId: id, stats });
  }
  phase(rs.endMs + 1, 'verify');
  phase(rs.endMs + 2, 'committed');
  const dumpStart = step(/^iter 4: dump/).startMs;
  add(rs.endMs + 3, {
    type: 'outcome',
    migrationId: id,
    outcome: 'committed',
    at: iso(rs.endMs + 3),
    freezeWindowMs: rs.endMs - dumpStart,
    predictedMs: lastEstimate,
    summary: `PID ${plan.pid} now runs on ${plan.target}.`,
  });
  return out;
}
