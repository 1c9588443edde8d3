/**
 * The recorded converging migration (shared/fixtures/criu/converging/FACTS.md: CRIU 3.17.1,
 * 3 pre-dumps + final dump of PID 50000, 2026-11-23) replayed as the EngineEvents Ferry's
 * engine emits for it. Per-iteration stats are CRIU's stats-dump numbers; the derived rates
 * and the estimates come from the same shared/ functions the engine calls. Host times are the
 * recorded ones. Used by the store's unit tests and by the browser tests to feed a dashboard.
 */
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import { buildIteration, estimateDowntime, type TimedIterationStats } from '../../../shared/estimate.ts';
import { recommend } from '../../../shared/policy.ts';

export const CONVERGING_ID = '2026-11-23T05-15-40Z-c0ffee';
const DIR = `/root/converging/${CONVERGING_ID}`;

export const convergingPlan: MigrationPlan = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000, targetAddress: '10.0.0.2', workDir: '/root/converging', retention: 'keep' });

/** stats-dump per iteration, µs (FACTS.md table), with the host clock around each CRIU command. */
export const RECORDED_ITERATIONS = [
  { index: 1, kind: 'pre-dump', start: '05:15:41.878', end: '05:15:47.770', freezing: 5413, frozen: 125036, memdump: 60081, memwrite: 3786016, skipped: 0, written: 33861 },
  { index: 2, kind: 'pre-dump', start: '05:15:49.348', end: '05:15:50.646', freezing: 5176, frozen: 86058, memdump: 31175, memwrite: 662520, skipped: 28062, written: 5799 },
  { index: 3, kind: 'pre-dump', start: '05:15:52.074', end: '05:15:52.939', freezing: 5359, frozen: 80253, memdump: 23672, memwrite: 249177, skipped: 31137, written: 2724 },
  { index: 4, kind: 'dump', start: '05:15:54.266', end: '05:15:55.186', freezing: 5040, frozen: 637775, memdump: 329940, memwrite: 297163, skipped: 31142, written: 2719 },
] as const;

export const at = (hms: string) => `2026-11-23T${hms}Z`;
const ms = (hms: string) => Date.parse(at(hms));

interface Cmd {
  host: string;
  argv: string[];
  start: string;
  end: string;
  code?: number | null;
  out?: string;
  err?: string;
  pipeTo?: { host: string; argv: string[] };
}

let seq = 0;
function command(c: Cmd, migrationId = CONVERGING_ID): EngineEvent[] {
  const commandId = `cmd-${String(++seq).padStart(3, '0')}`;
  const events: EngineEvent[] = [
    {
      type: 'command-started',
      commandId,
      migrationId,
      host: c.host,
      argv: c.argv,
      sudo: false,
      startedAt: at(c.start),
      ...(c.pipeTo ? { pipeTo: { ...c.pipeTo, sudo: false } } : {}),
    },
  ];
  if (c.out) events.push({ type: 'command-output', commandId, migrationId, stream: 'stdout', text: c.out });
  if (c.err) events.push({ type: 'command-output', commandId, migrationId, stream: 'stderr', text: c.err });
  events.push({
    type: 'command-finished',
    commandId,
    migrationId,
    code: c.code === undefined ? 0 : c.code,
    signal: null,
    durationMs: ms(c.end) - ms(c.start),
    timedOut: false,
    endedAt: at(c.end),
  });
  return events;
}

const phase = (p: Extract<EngineEvent, { type: 'phase' }>['phase'], hms: string, note?: string): EngineEvent => ({
  type: 'phase',
  migrationId: CONVERGING_ID,
  phase: p,
  at: at(hms),
  note,
});

function pageServer(i: number, start: string, end: string): EngineEvent[] {
  return command({
    host: 'lab-target',
    argv: ['criu', 'page-server', '-D', `${DIR}/${i}`, ...(i > 1 ? ['--prev-images-dir', `../${i - 1}`] : []), '--port', '27000', '-d', '--pidfile', `${DIR}/${i}/page-server.pid`, '-v4', '-o', 'page-server.log'],
    start,
    end,
  });
}

function dumpArgv(i: number, kind: 'pre-dump' | 'dump'): string[] {
  return [
    'criu',
    kind,
    '-t',
    '50000',
    ...(kind === 'dump' ? ['--leave-stopped'] : []),
    '--track-mem',
    '-D',
    `${DIR}/${i}`,
    ...(i > 1 ? ['--prev-images-dir', `../${i - 1}`] : []),
    '--page-server',
    '--address',
    '10.0.0.2',
    '--port',
    '27000',
    '-v4',
    '-o',
    `${kind}.log`,
  ];
}

/** The whole converging run as events, in the order the engine emits them. */
export function convergingEvents(): EngineEvent[] {
  seq = 0;
  const ev: EngineEvent[] = [];
  ev.push({ type: 'migration-started', migrationId: CONVERGING_ID, plan: convergingPlan, at: at('05:15:40.010') });
  ev.push(phase('preflight', '05:15:40.024'));
  ev.push(...command({ host: 'lab-source', argv: ['ps', '-o', 'pid,ppid,sid,rss,stat,comm', '-p', '50000'], start: '05:15:40.024', end: '05:15:40.402', out: '    PID    PPID     SID   RSS STAT COMMAND\n  50000       1   50000 141252 Ss  wl.py\n' }));
  ev.push(phase('precopy', '05:15:40.405'));
  const iterations: TimedIterationStats[] = [];
  const serverTimes = [
    ['05:15:40.413', '05:15:41.870'],
    ['05:15:49.104', '05:15:49.340'],
    ['05:15:51.827', '05:15:52.065'],
    ['05:15:54.005', '05:15:54.257'],
  ] as const;
  for (const r of RECORDED_ITERATIONS) {
    if (r.kind === 'dump') ev.push(phase('cutover', '05:15:54.000'));
    ev.push(...pageServer(r.index, serverTimes[r.index - 1]![0], serverTimes[r.index - 1]![1]));
    ev.push(...command({ host: 'lab-source', argv: dumpArgv(r.index, r.kind), start: r.start, end: r.end }));
    const it = buildIteration(
      {
        index: r.index,
        kind: r.kind,
        stats: { freezingTimeUs: r.freezing, frozenTimeUs: r.frozen, memdumpTimeUs: r.memdump, memwriteTimeUs: r.memwrite, pagesWritten: r.written, pagesSkippedParent: r.skipped },
        startedAtMs: ms(r.start),
        endedAtMs: ms(r.end),
      },
      iterations[iterations.length - 1],
    );
    iterations.push(it);
    ev.push({ type: 'iteration', migrationId: CONVERGING_ID, stats: it });
    if (r.kind === 'pre-dump') {
      const estimate = estimateDowntime({ iterations, budgetMs: convergingPlan.policy.downtimeBudgetMs, nowMs: ms(r.end) });
      const recommendation = recommend({ iterations, estimate, policy: convergingPlan.policy });
      ev.push({ type: 'estimate', migrationId: CONVERGING_ID, estimate, recommendation });
      if (r.index === 3) {
        ev.push({ type: 'decision', migrationId: CONVERGING_ID, by: 'user', action: 'cutover-now', reason: 'requested during precopy', at: at('05:15:53.990') });
      }
    }
  }
  ev.push(
    ...command({
      host: 'lab-source',
      argv: ['tar', '-C', `${DIR}/4`, '-cf', '-', '--exclude=*.log', '--exclude=stats-dump', '--exclude=*.pid', '.'],
      pipeTo: { host: 'lab-target', argv: ['tar', '-C', `${DIR}/4`, '-xf', '-'] },
      start: '05:15:56.682',
      end: '05:16:01.931',
    }),
  );
  ev.push({ type: 'transfer', migrationId: CONVERGING_ID, label: 'copying the images', doneBytes: 51_200, totalBytes: 51_200 });
  ev.push(phase('restore', '05:16:01.935'));
  ev.push(...command({ host: 'lab-target', argv: ['criu', 'restore', '-D', `${DIR}/4`, '-d', '-v4', '-o', 'restore.log'], start: '05:16:01.941', end: '05:16:03.263' }));
  ev.push(phase('verify', '05:16:03.270'));
  ev.push(...command({ host: 'lab-source', argv: ['kill', '-KILL', '--', '50000'], start: '05:16:09.067', end: '05:16:09.414' }));
  ev.push(phase('committed', '05:16:09.420', 'the process runs on lab-target'));
  const predicted = (ev.filter((e) => e.type === 'estimate').pop() as Extract<EngineEvent, { type: 'estimate' }>).estimate.predictedMs;
  ev.push({
    type: 'outcome',
    migrationId: CONVERGING_ID,
    outcome: 'committed',
    at: at('05:16:09.425'),
    freezeWindowMs: ms('05:16:03.263') - ms('05:15:54.266'),
    predictedMs: predicted,
    summary: `PID 50000 now runs on lab-target; freeze window ${ms('05:16:03.263') - ms('05:15:54.266')} ms (predicted ${predicted} ms) after 3 pre-dump(s).`,
  });
  return ev;
}

/** Events up to (not including) the final dump: the dashboard mid-migration, waiting for the user. */
export function convergingUntilCutover(): EngineEvent[] {
  const all = convergingEvents();
  const cut = all.findIndex((e) => e.type === 'decision');
  return all.slice(0, cut);
}
