import { beforeAll, describe, expect, it } from 'vitest';
import { decodeStats } from '../electron/criu/stats.ts';
import {
  predictionWithDefaultCosts,
  treeDumpMs,
  treeRestoreMs,
  DEFAULT_DUMP_PER_PROCESS_MS,
  DEFAULT_DUMP_PER_SOCKET_MS,
  DEFAULT_RESTORE_PER_PROCESS_MS,
  DEFAULT_SHMEM_DUMP_MS_PER_PAGE,
  DEFAULT_ADDRESS_MOVE_MS,
  DEFAULT_CONNECTIONS_RESTORE_MS,
  DEFAULT_RESTORE_MS_PER_PAGE,
  DEFAULT_COPY_MS,
  DEFAULT_DUMP_FIXED_MS,
  DEFAULT_RESTORE_FIXED_MS,
  DEFAULT_CLIFF_RESTORE_MS_PER_PAGE,
  RESTORE_PER_READ,
  DEFAULT_CUTOVER_PREPARE_MS,
  estimateDowntime,
  restoreFromHistory,
  restoreOverheadFromHistory,
  type RestoreSample,
  formatMs,
  buildIteration,
  iterationSeries,
  iterationStats,
  type IterationSample,
  type TimedIterationStats,
} from './estimate.ts';

// ---------------------------------------------------------------------------------------------
// The recorded lab runs (fixtures/criu/*): stats-dump images decoded with Ferry's own decoder,
// host timestamps from run.log. shared/ is typechecked without Node types (it runs in the
// renderer too), so node:fs is loaded dynamically here, in the test only.

const FIXTURES = new URL('../../shared/fixtures/criu/', import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const nodeFs = (): Promise<any> => import(/* @vite-ignore */ ['node', 'fs'].join(':'));

interface Step {
  title: string;
  host: string;
  cmd: string;
  rc: number;
  startMs: number;
  endMs: number;
}

function parseRunLog(text: string): Step[] {
  const steps: Step[] = [];
  for (const block of text.split(/^### /m).slice(1)) {
    const title = block.split('\n', 1)[0] ?? '';
    const start = /host-start: (\S+)/.exec(block)?.[1];
    const cmd = /^\[(\w+)\]# (.*)$/m.exec(block);
    const end = /rc=(\d+)\s+host-end: (\S+)/.exec(block);
    if (!start || !cmd || !end) continue;
    steps.push({ title, host: cmd[1] ?? '', cmd: cmd[2] ?? '', rc: Number(end[1]), startMs: Date.parse(start), endMs: Date.parse(end[2] ?? '') });
  }
  return steps;
}

interface Run {
  steps: Step[];
  samples: IterationSample[];
  iterations: TimedIterationStats[];
  copy: Step;
  restore: Step;
}

async function loadRun(name: string): Promise<Run> {
  const fs = await nodeFs();
  const steps = parseRunLog(fs.readFileSync(new URL(`${name}/run.log`, FIXTURES), 'utf8'));
  const samples: IterationSample[] = [];
  for (const s of steps) {
    const m = / criu (pre-dump|dump) .*-D \/root\/[\w-]+\/(\d+)/.exec(s.cmd);
    if (!m) continue;
    const stats = decodeStats(new Uint8Array(fs.readFileSync(new URL(`${name}/source/${m[2]}/stats-dump`, FIXTURES))));
    if (stats.kind !== 'dump') throw new Error('expected dump stats');
    samples.push({ index: Number(m[2]), kind: m[1] === 'dump' ? 'dump' : 'pre-dump', stats, startedAtMs: s.startMs, endedAtMs: s.endMs });
  }
  const copy = steps.find((s) => s.title.startsWith('copy'));
  const restore = steps.find((s) => / criu restore /.test(` ${s.cmd}`));
  if (!copy || !restore) throw new Error(`${name}: copy/restore step not found`);
  return { steps, samples, iterations: iterationSeries(samples), copy, restore };
}

const finalOf = (r: Run) => {
  const f = r.iterations.find((i) => i.kind === 'dump');
  if (!f) throw new Error('no final dump');
  return f;
};
const finalSample = (r: Run) => r.samples.find((s) => s.kind === 'dump')!;

let conv: Run;
let nonconv: Run;
let rollback: Run;
beforeAll(async () => {
  [conv, nonconv, rollback] = await Promise.all([loadRun('converging'), loadRun('non-converging'), loadRun('rollback')]);
});

describe('iterationStats (real stats-dump images + host clock)', () => {
  it('reads the converging run: pages, times, derived rate and bandwidth', () => {
    expect(conv.iterations.map((i) => i.pagesWritten)).toEqual([33861, 5799, 2724, 2719]);
    expect(conv.iterations.map((i) => i.kind)).toEqual(['pre-dump', 'pre-dump', 'pre-dump', 'dump']);
    const [i1, i2, i3] = conv.iterations;
    expect(i1?.dirtyPagesPerSec).toBeUndefined();
    // 5799 pages between freezes at 05:15:41.878+5.413ms and 05:15:49.348+5.176ms
    expect(i2?.dirtyPagesPerSec).toBeCloseTo(5799 / ((49348 + 5.176 - (41878 + 5.413)) / 1000), 3);
    expect(i3?.dirtyPagesPerSec).toBeGreaterThan(990);
    expect(i3?.dirtyPagesPerSec).toBeLessThan(1010);
    // 33861 pages × 4096 B in 3.786016 s
    expect(i1?.bandwidthBytesPerSec).toBeCloseTo((33861 * 4096) / 3.786016, 3);
    expect(i1?.wallMs).toBe(5892);
    expect(i1?.frozenTimeUs).toBe(125036);
  });

  it('bandwidth is undefined when memwrite_time is 0, rate undefined without a later freeze', () => {
    const a: IterationSample = { index: 1, kind: 'pre-dump', stats: { pagesWritten: 10, memwriteTimeUs: 0 }, startedAtMs: 1000, endedAtMs: 1100 };
    const b: IterationSample = { index: 2, kind: 'pre-dump', stats: { pagesWritten: 10, memwriteTimeUs: 0 }, startedAtMs: 1000, endedAtMs: 1100 };
    const s = iterationStats(b, a);
    expect(s.bandwidthBytesPerSec).toBeUndefined();
    expect(s.dirtyPagesPerSec).toBeUndefined();
  });
});

/**
 * The model against CRIU's recorded frozen_time of the final dump, given only what Ferry would
 * have known at cutover: the pre-dumps and the host clock when the final dump started.
 *
 * Measured (these numbers are asserted below, and in the report):
 *   converging:     predicted ≈ 573 ms vs frozen_time 637.8 ms (−10%). With the dirty-page
 *                   count CRIU then wrote (2719) instead of the projection (2190) it is −1%:
 *                   the error is the dirty rate, which rose from 999 to ~1240 pages/s in the
 *                   last interval (the rates measured across iterations already spread ±25%).
 *   non-converging: predicted ≈ 3.58 s vs frozen_time 3.646 s (−2%).
 * Tolerance ±15%: the converging error (10%) plus margin for the ±20% second-to-second rate
 * variation the workload itself shows, times the memory term's ~40% share of that freeze.
 * Out of sample: the fixed part is also taken from the *other* recorded final dumps only
 * (leave-one-out), so no run is predicted with a constant derived from itself.
 */
/**
 * The recorded runs (fixtures) and the restore-probe lab runs below predate the cutover guard:
 * their restore was a bare `criu restore -d`, whose fixed part was 310 ms, not the guarded
 * restore's (DEFAULT_RESTORE_FIXED_MS). They are predicted with the fixed part of their own command.
 */
const BARE_RESTORE_FIXED_MS = 310;

describe('estimateDowntime against the recorded runs', () => {
  const TOLERANCE = 0.15;
  const fixedOf = (r: Run) => {
    const f = finalOf(r);
    return (f.frozenTimeUs - f.memdumpTimeUs) / 1000;
  };
  const predict = (r: Run, leaveOneOut: boolean, liveDirty?: number) => {
    const others = [conv, nonconv, rollback].filter((x) => x !== r);
    const dumpFixedMs = others.reduce((a, x) => a + fixedOf(x), 0) / others.length;
    return estimateDowntime({
      iterations: r.iterations.filter((i) => i.kind === 'pre-dump'),
      budgetMs: 300,
      cutoverAtMs: finalSample(r).startedAtMs,
      costs: leaveOneOut ? { dumpFixedMs, restoreOverheadMs: BARE_RESTORE_FIXED_MS, samples: 2 } : undefined,
      liveDirty: liveDirty !== undefined ? { pages: liveDirty } : undefined,
    });
  };
  const errors: string[] = [];

  for (const [name, get] of [
    ['converging', () => conv],
    ['non-converging', () => nonconv],
  ] as const) {
    it(`${name}: predicted frozen part within ±${TOLERANCE * 100}% of CRIU's frozen_time, inside the band`, () => {
      const r = get();
      const actual = finalOf(r).frozenTimeUs / 1000;
      for (const loo of [false, true]) {
        const e = predict(r, loo);
        const err = (e.frozen.ms - actual) / actual;
        errors.push(`${name}${loo ? ' (leave-one-out fixed part)' : ''}: predicted ${e.frozen.ms.toFixed(1)} ms vs ${actual.toFixed(1)} ms (${(err * 100).toFixed(1)}%)`);
        expect(Math.abs(err)).toBeLessThanOrEqual(TOLERANCE);
        expect(e.frozen.lowMs).toBeLessThanOrEqual(actual);
        expect(e.frozen.highMs).toBeGreaterThanOrEqual(actual);
        expect(e.fits).toBe(false); // 300 ms is far below anything the TCG lab can do
      }
    });
  }

  it('converging: the error is the dirty-rate projection; with the true dirty count the model is within 3%', () => {
    const actual = finalOf(conv).frozenTimeUs / 1000;
    const e = predict(conv, true, finalOf(conv).pagesWritten);
    expect(Math.abs(e.frozen.ms - actual) / actual).toBeLessThan(0.03);
    const projected = predict(conv, true);
    expect(projected.expectedDirtyPages).toBeGreaterThan(2100);
    expect(projected.expectedDirtyPages).toBeLessThan(2300);
  });

  it('non-converging: expected pages are capped at the process size (iteration 1 written + skipped)', () => {
    const e = predict(nonconv, false);
    expect(e.totalPages).toBe(33862);
    expect(e.expectedDirtyPages).toBe(33862);
    expect(e.basis).toMatch(/capped/);
    expect(e.basis).toMatch(/lower bound/);
  });

  it('whole freeze window (dump + copy + restore) against the host clock: within ±25%, inside the band', () => {
    for (const r of [conv, nonconv]) {
      const f = finalSample(r);
      const measured = f.endedAtMs - f.startedAtMs + (r.copy.endMs - r.copy.startMs) + (r.restore.endMs - r.restore.startMs);
      const e = predict(r, true);
      errors.push(`window: predicted ${formatMs(e.predictedMs)} (${formatMs(e.lowMs)}–${formatMs(e.highMs)}) vs dump+copy+restore ${formatMs(measured)}`);
      expect(Math.abs(e.predictedMs - measured) / measured).toBeLessThan(0.25);
      expect(e.lowMs).toBeLessThanOrEqual(measured);
      expect(e.highMs).toBeGreaterThanOrEqual(measured);
    }
    // Printed so a change in the model shows its effect on the real runs.
    console.log(errors.join('\n'));
  });
});

describe('estimateDowntime: basis, band and defaults', () => {
  it('names every default term and what was measured', () => {
    const e = estimateDowntime({ iterations: conv.iterations.slice(0, 3), budgetMs: 300 });
    expect(e.basis).toMatch(/^Measured: dirty rate \d+ pages\/s/);
    expect(e.basis).toMatch(/bandwidth \d+\.\d MB\/s/);
    expect(e.basis).toMatch(/Defaults .*final-dump fixed part 305 ms.*copy of images and files 4\.4 s.*restore/);
    expect(e.terms.filter((t) => t.source === 'default').map((t) => t.name)).toEqual(['dump-fixed', 'dump-overhead', 'copy', 'restore']);
    expect(e.lowMs).toBeLessThan(e.predictedMs);
    expect(e.highMs).toBeGreaterThan(e.predictedMs);
  });

  it('measured costs replace defaults and narrow the band', () => {
    const it3 = conv.iterations.slice(0, 3);
    const d = estimateDowntime({ iterations: it3, budgetMs: 300 });
    const m = estimateDowntime({
      iterations: it3,
      budgetMs: 300,
      costs: { dumpFixedMs: DEFAULT_DUMP_FIXED_MS, dumpOverheadMs: 265, copyMs: DEFAULT_COPY_MS, restoreFixedMs: DEFAULT_RESTORE_FIXED_MS, restoreMsPerPage: 0.0255, samples: 5 },
    });
    expect(m.predictedMs).toBeCloseTo(d.predictedMs, 6);
    expect(m.highMs - m.lowMs).toBeLessThan(d.highMs - d.lowMs);
    expect(m.basis).toMatch(/No defaults\./);
    expect(m.terms.every((t) => t.source === 'measured')).toBe(true);
  });

  it('undoing learning puts back the defaults of the learned terms, and only those', () => {
    const it3 = conv.iterations.slice(0, 3);
    const copyMs = 900;
    const unlearned = estimateDowntime({ iterations: it3, budgetMs: 300, costs: { copyMs, samples: 1 } });
    const learned = estimateDowntime({
      iterations: it3,
      budgetMs: 300,
      costs: { dumpFixedMs: 120, dumpOverheadMs: 80, copyMs, restoreFixedMs: 50, restoreMsPerPage: 0.01, samples: 3, from: '3 past migrations a → b' },
    });
    expect(learned.predictedMs).toBeLessThan(unlearned.predictedMs);
    expect(learned.learnedFromRuns).toBe(3);
    expect(unlearned.learnedFromRuns).toBeUndefined();
    // The copy was this migration's own measurement: it stays.
    expect(predictionWithDefaultCosts(learned)).toBeCloseTo(unlearned.predictedMs, 6);
    expect(predictionWithDefaultCosts(unlearned)).toBeCloseTo(unlearned.predictedMs, 6);
  });

  it('fits compares the point prediction with the budget', () => {
    const it3 = conv.iterations.slice(0, 3);
    const e = estimateDowntime({ iterations: it3, budgetMs: 300 });
    expect(estimateDowntime({ iterations: it3, budgetMs: Math.ceil(e.predictedMs) }).fits).toBe(true);
    expect(estimateDowntime({ iterations: it3, budgetMs: Math.floor(e.predictedMs) - 1 }).fits).toBe(false);
  });

  it('one pre-dump: no rate yet, assumes every page dirty, says so', () => {
    const e = estimateDowntime({ iterations: conv.iterations.slice(0, 1), budgetMs: 300 });
    expect(e.expectedDirtyPages).toBe(33861);
    expect(e.basis).toMatch(/no dirty rate yet/);
    expect(e.dirtyPagesPerSec).toBeUndefined();
  });

  it('no pre-dump: only fixed costs, never fits', () => {
    const e = estimateDowntime({ iterations: [], budgetMs: 1e9 });
    expect(e.fits).toBe(false);
    expect(e.basis).toMatch(/No pre-dump yet/);
  });

  it('a live dirty count overrides the projection and is projected forward with the rate', () => {
    const it3 = conv.iterations.slice(0, 3);
    const last = it3[2]!;
    const at = last.startedAtMs! + 1500;
    const e = estimateDowntime({ iterations: it3, budgetMs: 300, liveDirty: { pages: 1000, atMs: at }, cutoverAtMs: at + 1000 });
    expect(e.expectedDirtyPages).toBeCloseTo(1000 + last.dirtyPagesPerSec!, 6);
    expect(e.basis).toMatch(/live soft-dirty count 1000/);
  });

  it('never reads pages_scanned (inflated in final dumps)', () => {
    const it3 = conv.iterations.slice(0, 3);
    const withScanned = it3.map((i) => ({ ...i, pagesScanned: 98862 }));
    expect(estimateDowntime({ iterations: withScanned, budgetMs: 300 }).predictedMs).toBe(estimateDowntime({ iterations: it3, budgetMs: 300 }).predictedMs);
  });

  it('formats durations', () => {
    expect(formatMs(300)).toBe('300 ms');
    expect(formatMs(3646)).toBe('3.6 s');
    expect(formatMs(12_400)).toBe('12 s');
    expect(formatMs(65_000)).toBe('1 min 5 s');
  });
});

describe('buildIteration (the engine keeps IterationStats, not samples)', () => {
  it('gives the same stats as iterationSeries', () => {
    const built: TimedIterationStats[] = [];
    for (const s of conv.samples) built.push(buildIteration(s, built[built.length - 1]));
    expect(built).toEqual(conv.iterations);
  });
});

/**
 * The restore term: measured on the target during pre-copy, and over the memory
 * cliff when images and the restored process do not fit together. The 512 MiB case is the
 * lab run of docs/CRIU.md: pre-dumps 132755 → 8042 pages, `criu restore` 21 s in 1 GiB VMs.
 */
describe('the restore term: measured on the target, and its memory cliff', () => {
  const MiB = 1024 * 1024;
  const preDumps = (pages: number[], rate: number): TimedIterationStats[] =>
    pages.map((p, i) => ({
      index: i + 1,
      kind: 'pre-dump',
      pagesWritten: p,
      pagesSkippedParent: i === 0 ? 0 : pages[0]! - p,
      frozenTimeUs: 400_000,
      freezingTimeUs: 5_000,
      memdumpTimeUs: p * 20,
      memwriteTimeUs: p * 100,
      wallMs: 2000 + p * 0.1,
      startedAtMs: 1_000_000 + i * 10_000,
      ...(i > 0 ? { dirtyPagesPerSec: rate } : {}),
      bandwidthBytesPerSec: (p * 4096) / (p * 1e-4),
    }));
  const big = preDumps([132755, 8042], 2000);
  const probe = (memAvailableMiB: number, extra: object = {}) => ({ readBytes: 128 * MiB, readMs: 160, memAvailableBytes: memAvailableMiB * MiB, ...extra });
  const restoreTerm = (e: ReturnType<typeof estimateDowntime>) => e.terms.find((t) => t.name === 'restore')!;

  it('512 MiB in a 1 GiB target: over the cliff, the restore term is the slower rate and its band holds the 21 s measured', () => {
    const e = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(850), costs: { restoreOverheadMs: BARE_RESTORE_FIXED_MS } });
    const t = restoreTerm(e);
    expect(e.restoreMemory?.fits).toBe(false);
    expect(t.ms).toBeCloseTo(BARE_RESTORE_FIXED_MS + DEFAULT_CLIFF_RESTORE_MS_PER_PAGE * 132755, 6);
    expect(Math.abs(t.ms - 21_000) / 21_000).toBeLessThan(0.05);
    expect(t.lowMs).toBeLessThanOrEqual(21_000);
    expect(t.highMs).toBeGreaterThanOrEqual(21_000);
    expect(t.source).toBe('default'); // no cold read measured: the lab's cliff rate
    expect(e.basis).toMatch(/OVER THE MEMORY CLIFF: images 519 MiB \+ restored process 519 MiB = 1037 MiB do not fit in the target's 850 MiB/);
    expect(e.fits).toBe(false);
    expect(e.lowMs).toBeGreaterThan(6000); // even the band's lower edge says: not with a 6 s budget
  });

  it('the same process on a target with room: no cliff, the measured read rate', () => {
    const e = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(4096) });
    const t = restoreTerm(e);
    expect(e.restoreMemory?.fits).toBe(true);
    expect(t.source).toBe('measured');
    expect(t.ms).toBeCloseTo(DEFAULT_RESTORE_FIXED_MS + RESTORE_PER_READ * (160 / 32768) * 132755, 6);
    expect(e.basis).toMatch(/restore measured on the target: read 128 MiB of page images in 160 ms/);
  });

  it('over the cliff on a target slower than the lab: the measured rate (restore gauge + read from disk) wins over the lab floor', () => {
    const slow = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(850, { readMs: 1400, coldReadBytes: 128 * MiB, coldReadMs: 4000 }) });
    const fast = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(850, { coldReadBytes: 128 * MiB, coldReadMs: 400 }) });
    expect(restoreTerm(slow).source).toBe('measured');
    expect(restoreTerm(slow).ms).toBeCloseTo(DEFAULT_RESTORE_FIXED_MS + (RESTORE_PER_READ * (1400 / 32768) + 4000 / 32768) * 132755, 6);
    expect(slow.basis).toMatch(/the read from disk 0\.1221 ms\/page/);
    // A fast target still gets at least the lab's cliff rate: the cliff is not measured, only its floor.
    expect(restoreTerm(fast).source).toBe('default');
    expect(restoreTerm(fast).ms).toBeCloseTo(DEFAULT_RESTORE_FIXED_MS + DEFAULT_CLIFF_RESTORE_MS_PER_PAGE * 132755, 6);
  });

  it('the 128 MiB converging run: no cliff; the measured term replaces the default and is named in the basis', () => {
    const pre = conv.iterations.filter((i) => i.kind === 'pre-dump');
    const without = estimateDowntime({ iterations: pre, budgetMs: 300, cutoverAtMs: finalSample(conv).startedAtMs });
    const withProbe = estimateDowntime({ iterations: pre, budgetMs: 300, cutoverAtMs: finalSample(conv).startedAtMs, restoreProbe: probe(850), costs: { restoreOverheadMs: BARE_RESTORE_FIXED_MS } });
    expect(withProbe.restoreMemory?.fits).toBe(true);
    expect(restoreTerm(without).source).toBe('default');
    expect(restoreTerm(withProbe).source).toBe('measured');
    expect(withProbe.basis).not.toMatch(/Defaults[^.]*restore/);
    // The recorded restore (host clock) sits inside the measured term's band.
    const measured = conv.restore.endMs - conv.restore.startMs;
    expect(restoreTerm(withProbe).lowMs).toBeLessThanOrEqual(measured);
    expect(restoreTerm(withProbe).highMs).toBeGreaterThanOrEqual(measured);
  });

  it("the prediction 'with lab defaults' keeps this migration's own restore measurement; only history is swapped out", () => {
    const learnedBig = { restoreSamples: [{ pages: 132755, ms: 30_000 }], samples: 1, from: '1 past migration' };
    const probed = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(4096), costs: learnedBig });
    expect(restoreTerm(probed).restoreFrom).toBe('history');
    expect(predictionWithDefaultCosts(probed)).toBeLessThan(probed.predictedMs);
    const cliff = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(850), costs: learnedBig });
    expect(restoreTerm(cliff).restoreFrom).toBe('cliff');
    // Nothing else was learned here, so the prediction 'with defaults' is the prediction itself.
    expect(predictionWithDefaultCosts(cliff)).toBeCloseTo(cliff.predictedMs, 6);
    const own = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: probe(4096) });
    expect(restoreTerm(own).restoreFrom).toBe('probe');
    expect(predictionWithDefaultCosts(own)).toBeCloseTo(own.predictedMs, 6);
  });

  it('the two lab runs the factor rests on (restore-probe.lab.test.ts): each measured restore inside the band, within ±35%', () => {
    // [probe cached-read ms over 128 MiB, pages, measured `criu restore` ms, MemAvailable MiB]
    for (const [readMs, pages, measured, avail] of [
      [0.0427 * 32768, 34522, 11185, 757],
      [717, 34354, 3565, 759],
    ] as const) {
      const pre = preDumps([pages, 2700], 1000);
      const t = restoreTerm(estimateDowntime({ iterations: pre, budgetMs: 6000, restoreProbe: { readBytes: 128 * MiB, readMs, memAvailableBytes: avail * MiB }, costs: { restoreOverheadMs: BARE_RESTORE_FIXED_MS } }));
      expect(t.restoreFrom).toBe('probe');
      expect(t.lowMs).toBeLessThanOrEqual(measured);
      expect(t.highMs).toBeGreaterThanOrEqual(measured);
      expect(Math.abs(t.ms - measured) / measured).toBeLessThan(0.35);
    }
  });

  it('without MemAvailable the cliff cannot be judged: no restoreMemory, the read rate still counts', () => {
    const e = estimateDowntime({ iterations: big, budgetMs: 6000, restoreProbe: { readBytes: 128 * MiB, readMs: 160 } });
    expect(e.restoreMemory).toBeUndefined();
    expect(restoreTerm(e).source).toBe('measured');
  });
});

/**
 * The lab size sweep of 2026-12-01 (bench:migrate --sizes 64,256,512 --memory 2048): each
 * restore as its journal recorded it: pages, the guarded restore command's wall, CRIU's
 * restore_time. Before, history gave ms/page of the whole wall, and 0.093 ms/page learned from
 * 26k-page runs of a bare restore predicted 1.7 s for a 64 MiB restore that took 5.4 s.
 */
describe("the restore's fixed part and the cutover's preparation (lab size sweep)", () => {
  const at = (hh: string) => `2026-12-01T${hh}:00.000Z`;
  const sweep: RestoreSample[] = [
    { pages: 26152, ms: 2647, criuMs: 1468, at: at('00:27') }, // bare restore, before the guard
    { pages: 26265, ms: 2225, criuMs: 1462, at: at('00:29') }, // bare restore, before the guard
    { pages: 34535, ms: 4817, criuMs: 2551, at: at('01:55') },
    { pages: 18192, ms: 4462, criuMs: 1375, at: at('06:04') },
    { pages: 18156, ms: 5396, criuMs: 1694, at: at('06:05') },
    { pages: 67267, ms: 7113, criuMs: 4567, at: at('06:08') },
    { pages: 67155, ms: 6523, criuMs: 4076, at: at('06:10') },
    { pages: 132969, ms: 10878, criuMs: 8633, at: at('06:13') },
  ];

  it('the fixed part is wall − restore_time, the median of the newest runs, whatever their size', () => {
    // newest five: 3087, 3702, 2546, 2447, 2245 → 2546
    expect(restoreOverheadFromHistory(sweep)).toBeCloseTo(7113 - 4567, 6);
    expect(restoreOverheadFromHistory(sweep.map(({ criuMs: _, ...x }) => x))).toBeUndefined();
  });

  it('the 64 MiB pre-copy restore, from the runs before it: the fixed part added once, not spread over the pages', () => {
    const before = sweep.filter((x) => x.at! < at('06:05'));
    const fixed = restoreOverheadFromHistory(before)!;
    expect(fixed).toBeCloseTo((2647 - 1468 + 4817 - 2551) / 2, 6);
    const h = restoreFromHistory(before, 18156, fixed)!;
    // Runs of a similar size (12104–27234 pages): the two 26k-page ones and the 18192-page one, by restore_time.
    expect(h.used.map((x) => x.pages)).toEqual([26152, 26265, 18192]);
    expect(h.ms).toBeCloseTo(fixed + (1468 / 26152) * 18156, 6);
    expect(h.note).toMatch(/\+ 1\.7 s fixed/);
    // It took 5396 ms. Whole-wall ms/page, as before, predicted less than that.
    const proportional = restoreFromHistory(before.map(({ criuMs: _, ...x }) => x), 18156)!;
    expect(Math.abs(h.ms - 5396)).toBeLessThan(Math.abs(proportional.ms - 5396));
  });

  it('replayed for the 256 MiB pre-copy run from the runs before it: the band holds its restore', () => {
    const before = sweep.filter((x) => x.at! < at('06:10'));
    const pre: TimedIterationStats[] = [67155, 3000].map((p, i) => ({
      index: i + 1, kind: 'pre-dump', pagesWritten: p, pagesSkippedParent: i === 0 ? 0 : 67155 - p, frozenTimeUs: 300_000, freezingTimeUs: 5_000,
      memdumpTimeUs: p * 20, memwriteTimeUs: p * 1000, wallMs: 5000, startedAtMs: 1_000_000 + i * 10_000, ...(i > 0 ? { dirtyPagesPerSec: 412 } : {}), bandwidthBytesPerSec: 3.3e6,
    }));
    const costs = { restoreSamples: before, restoreOverheadMs: restoreOverheadFromHistory(before)!, samples: before.length, from: `${before.length} past migrations` };
    const t = estimateDowntime({ iterations: pre, budgetMs: 300, costs }).terms.find((x) => x.name === 'restore')!;
    expect(t.restoreFrom).toBe('history');
    expect(t.detail).toMatch(/1 past run of a similar size \(67267–67267 pages.*\+ 2\.5 s fixed/);
    expect(t.lowMs).toBeLessThanOrEqual(6523);
    expect(t.highMs).toBeGreaterThanOrEqual(6523);
  });

  it('prefers past restores of the same mode: the 512 MiB cold restores were slower than the pre-copy ones', () => {
    // bench:migrate size sweeps, 133k pages: cold 10878 and 11957 ms, pre-copy 8042 ms; the next pre-copy one took 7919 ms.
    const big: RestoreSample[] = [
      { pages: 132969, ms: 10878, criuMs: 8633, mode: 'cold', at: at('06:13') },
      { pages: 132754, ms: 8042, criuMs: 5728, mode: 'precopy', at: at('06:17') },
      { pages: 132995, ms: 11957, criuMs: 8876, mode: 'cold', at: at('06:39') },
    ];
    const fixed = restoreOverheadFromHistory(big)!;
    const pre = restoreFromHistory(big, 132926, fixed, 'precopy')!;
    expect(pre.used.map((x) => x.mode)).toEqual(['precopy']);
    expect(pre.note).toMatch(/2 of another mode left out/);
    const anyMode = restoreFromHistory(big, 132926, fixed)!;
    expect(Math.abs(pre.ms - 7919)).toBeLessThan(Math.abs(anyMode.ms - 7919));
    // No run of this mode near this size: the others count.
    expect(restoreFromHistory(big, 132926, fixed, 'postcopy')!.used).toHaveLength(3);
  });

  it('before the preparation: the pages the process dirties while Ferry arms the guards count, and the basis says how long', () => {
    const pre: TimedIterationStats[] = [18155, 4437].map((p, i) => ({
      index: i + 1, kind: 'pre-dump', pagesWritten: p, pagesSkippedParent: i === 0 ? 0 : 18155 - p, frozenTimeUs: 135_000, freezingTimeUs: 5_000,
      memdumpTimeUs: p * 20, memwriteTimeUs: p * 1000, wallMs: 5513, startedAtMs: 1_000_000 + i * 10_000, ...(i > 0 ? { dirtyPagesPerSec: 512 } : {}), bandwidthBytesPerSec: 4.0e6,
    }));
    // The 64 MiB pre-copy run: decided 5.7 s after the last pre-dump started; the final dump
    // started 6.9 s later and wrote 6488 pages.
    const decidedAt = 1_010_000 + 5_700;
    const bare = estimateDowntime({ iterations: pre, budgetMs: 300, cutoverAtMs: decidedAt });
    const ahead = estimateDowntime({ iterations: pre, budgetMs: 300, cutoverAtMs: decidedAt, prepare: true });
    const learned = estimateDowntime({ iterations: pre, budgetMs: 300, cutoverAtMs: decidedAt, prepare: true, costs: { cutoverPrepareMs: 6928 } });
    expect(bare.expectedDirtyPages).toBeCloseTo(512 * 5.7, 6);
    expect(ahead.expectedDirtyPages).toBeCloseTo(512 * (5.7 + DEFAULT_CUTOVER_PREPARE_MS / 1000), 6);
    expect(ahead.basis).toMatch(/with 7\.7 s to prepare the cutover, lab default/);
    expect(learned.basis).toMatch(/with 6\.9 s to prepare the cutover, learned/);
    // 6488 pages were written: only the estimate that counts the preparation comes near.
    expect(Math.abs(learned.expectedDirtyPages - 6488)).toBeLessThan(0.1 * 6488);
    expect(bare.expectedDirtyPages).toBeLessThan(0.5 * 6488);
  });
});

describe('the tree shape: processes, sockets and shared memory the final dump pays for', () => {
  const sum = (e: ReturnType<typeof estimateDowntime>, ...names: string[]) => e.terms.filter((t) => names.includes(t.name)).reduce((a, t) => a + t.ms, 0);

  it('one process with no sockets and no shared memory changes nothing', () => {
    const it3 = conv.iterations.slice(0, 3);
    const plain = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0 });
    const one = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, tree: { processes: 1, sockets: 0, sharedPages: 0 } });
    expect(one.predictedMs).toBe(plain.predictedMs);
    expect(one.terms.map((t) => t.name)).toEqual(plain.terms.map((t) => t.name));
  });

  it('each further process and each socket adds its fixed part to the frozen dump and the restore', () => {
    const it3 = conv.iterations.slice(0, 3);
    const plain = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0 });
    const tree = { processes: 3, sockets: 2, sharedPages: 0 };
    const e = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, tree });
    expect(treeDumpMs(tree)).toBe(2 * DEFAULT_DUMP_PER_PROCESS_MS + 2 * DEFAULT_DUMP_PER_SOCKET_MS);
    expect(treeRestoreMs(tree)).toBe(2 * DEFAULT_RESTORE_PER_PROCESS_MS);
    expect(sum(e, 'tree-dump')).toBe(treeDumpMs(tree));
    expect(sum(e, 'tree-restore')).toBe(treeRestoreMs(tree));
    expect(e.predictedMs - plain.predictedMs).toBeCloseTo(treeDumpMs(tree) + treeRestoreMs(tree), 6);
    expect(e.frozen.ms - plain.frozen.ms).toBeCloseTo(treeDumpMs(tree), 6);
    expect(e.basis).toMatch(/tree 3 processes, 2 sockets/);
  });

  it("shared memory is written whole by the final dump: at the pre-dumps' drain and bandwidth when measured, the lab rate before", () => {
    const it3 = conv.iterations.slice(0, 3);
    const tree = { processes: 1, sockets: 0, sharedPages: 4096 };
    const e = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, tree });
    const shm = e.terms.find((t) => t.name === 'shared-memory')!;
    expect(shm.source).toBe('measured');
    // The same pages as private pages would cost, minus the drain's intercept: between 0 and the whole memory terms for 4096 pages.
    const asPrivate = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, liveDirty: { pages: 4096 } });
    expect(shm.ms).toBeGreaterThan(0);
    expect(shm.ms).toBeLessThanOrEqual(sum(asPrivate, 'drain', 'memwrite') + 1e-6);
    expect(shm.lowMs).toBeCloseTo(shm.ms * 0.5, 6);
    expect(shm.highMs).toBeCloseTo(shm.ms * 2.5, 6);
    expect(sum(e, 'tree-restore')).toBeCloseTo(4096 * DEFAULT_RESTORE_MS_PER_PAGE, 6);
    const cold = estimateDowntime({ iterations: [], budgetMs: 300, tree });
    expect(cold.terms.find((t) => t.name === 'shared-memory')).toMatchObject({ source: 'default', ms: 4096 * DEFAULT_SHMEM_DUMP_MS_PER_PAGE });
    expect(cold.basis).toMatch(/4096 pages of shared memory, written whole by the final dump/);
  });

  it('a server: its TCP connections add the restore\'s network lock, a moved service address its own term', () => {
    const it3 = conv.iterations.slice(0, 3);
    const plain = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, tree: { processes: 1, sockets: 3, sharedPages: 0 } });
    const server = estimateDowntime({ iterations: it3, budgetMs: 300, nowMs: 0, tree: { processes: 1, sockets: 3, sharedPages: 0, connections: 2 }, movesAddress: true });
    expect(server.predictedMs - plain.predictedMs).toBeCloseTo(DEFAULT_CONNECTIONS_RESTORE_MS + DEFAULT_ADDRESS_MOVE_MS, 6);
    expect(server.terms.find((t) => t.name === 'address-move')).toMatchObject({ source: 'default', ms: DEFAULT_ADDRESS_MOVE_MS });
    expect(server.terms.find((t) => t.name === 'tree-restore')!.detail).toMatch(/2 TCP connection\(s\): network lock and repair/);
    // Neither is inside CRIU's frozen_time.
    expect(server.frozen.ms).toBeCloseTo(plain.frozen.ms, 6);
  });

});
