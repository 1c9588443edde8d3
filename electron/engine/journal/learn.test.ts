import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { estimateDowntime } from '../../../shared/estimate.ts';
import { decodeStats } from '../../criu/stats.ts';
import { FIXTURES, convergingEvents, convergingPlan } from './journal.fixture.ts';
import { replay, type JournalRecord } from './journal.ts';
import { learnCosts } from './learn.ts';

const toRecords = (evs: ReturnType<typeof convergingEvents>): JournalRecord[] => evs.map((e, i) => ({ seq: i + 1, at: e.at.toISOString(), event: e.event }));

describe('learning cutover costs from past journals (the recorded converging run)', () => {
  const run = replay(toRecords(convergingEvents()));
  const finalDump = decodeStats(readFileSync(new URL('converging/source/4/stats-dump', FIXTURES)));
  const restored = decodeStats(readFileSync(new URL('converging/target/4/stats-restore', FIXTURES)));

  it("takes each cost from the run's own records: command durations and CRIU stats", () => {
    const costs = learnCosts([run], convergingPlan.source, convergingPlan.target)!;
    if (finalDump.kind !== 'dump' || restored.kind !== 'restore') throw new Error('fixture');
    expect(costs.samples).toBe(1);
    expect(costs.from).toBe(`1 past migration ${convergingPlan.source} → ${convergingPlan.target}`);
    expect(costs.dumpFixedMs).toBeCloseTo((finalDump.frozenTimeUs! - finalDump.memdumpTimeUs!) / 1000, 3);
    const dumpCmd = run.commands.find((c) => c.argv.includes('dump'))!;
    expect(costs.dumpOverheadMs).toBeCloseTo(dumpCmd.durationMs! - finalDump.frozenTimeUs! / 1000, 3);
    const copyCmd = run.commands.find((c) => c.pipeTo)!;
    expect(costs.copyMs).toBe(copyCmd.durationMs);
    const restoreCmd = run.commands.find((c) => c.argv.includes('restore'))!;
    expect(costs.restoreMsPerPage! * restored.pagesRestored!).toBeCloseTo(restoreCmd.durationMs!, 6);
  });

  it("learns the restore's fixed part (wall − CRIU's restore_time) and the cutover's preparation, the user's hooks left out", () => {
    const costs = learnCosts([run], convergingPlan.source, convergingPlan.target)!;
    const restoreCmd = run.commands.find((c) => c.argv.includes('restore'))!;
    expect(costs.restoreOverheadMs).toBeCloseTo(restoreCmd.durationMs! - run.restoreStats!.restoreTimeUs! / 1000, 6);
    const dumpCmd = run.commands.find((c) => c.argv[c.argv.indexOf('criu') + 1] === 'dump')!;
    const cutoverAt = run.phases.find((p) => p.phase === 'cutover')!.at;
    const prepare = Date.parse(dumpCmd.startedAt) - Date.parse(cutoverAt);
    expect(prepare).toBeGreaterThan(0);
    expect(costs.cutoverPrepareMs).toBe(prepare);
    // A before-cutover hook of 2 s in the same window is the user's time, not Ferry's.
    const hooked = structuredClone(run);
    hooked.commands.push({ ...dumpCmd, commandId: 'hook-1', argv: ['/usr/local/bin/drain'], hook: { phase: 'before-cutover', name: 'drain', on: 'source' }, phase: 'cutover', durationMs: Math.min(2000, prepare) });
    expect(learnCosts([hooked], convergingPlan.source, convergingPlan.target)!.cutoverPrepareMs).toBe(prepare - Math.min(2000, prepare));
  });

  it('ignores other host pairs and runs that did not commit', () => {
    expect(learnCosts([run], convergingPlan.target, convergingPlan.source)).toBeUndefined();
    const unfinished = replay(toRecords(convergingEvents({ stopAfter: 'restore-started' })));
    expect(learnCosts([unfinished], convergingPlan.source, convergingPlan.target)).toBeUndefined();
  });

  it('fits restore as fixed + per page when past runs differ in size', () => {
    const a = replay(toRecords(convergingEvents()));
    const b = structuredClone(a);
    const rc = (r: typeof a) => r.commands.find((c) => c.argv.includes('restore'))!;
    b.restoreStats = { ...b.restoreStats, pagesRestored: a.restoreStats!.pagesRestored! * 2 };
    rc(b).durationMs = rc(a).durationMs! + 1000;
    const costs = learnCosts([a, b], convergingPlan.source, convergingPlan.target)!;
    expect(costs.restoreMsPerPage).toBeCloseTo(1000 / a.restoreStats!.pagesRestored!, 9);
    expect(costs.restoreFixedMs).toBeCloseTo(rc(a).durationMs! - 1000, 6);
  });

  it('does not fit a line through runs of (nearly) the same size: noise would become the slope', () => {
    // Seen in the benchmark: 67153..67156 pages restored in 3.0..4.4 s gave a slope of hours per page.
    const runs = [3113, 3798, 3433, 2985].map((ms, i) => {
      const r = structuredClone(run);
      r.restoreStats = { ...r.restoreStats, pagesRestored: 67153 + i };
      r.commands.find((c) => c.argv.includes('restore'))!.durationMs = ms;
      return r;
    });
    const costs = learnCosts(runs, convergingPlan.source, convergingPlan.target)!;
    const meanMs = (3113 + 3798 + 3433 + 2985) / 4;
    expect(costs.restoreFixedMs).toBe(0);
    expect(costs.restoreMsPerPage! * 67154.5).toBeCloseTo(meanMs, 6);
  });

  it('makes the estimate say it rests on past runs instead of lab defaults', () => {
    const costs = learnCosts([run], convergingPlan.source, convergingPlan.target)!;
    const iterations = run.iterations.filter((i) => i.kind === 'pre-dump');
    const withDefaults = estimateDowntime({ iterations, budgetMs: 300 });
    const learned = estimateDowntime({ iterations, budgetMs: 300, costs });
    expect(withDefaults.basis).toMatch(/restore .*lab default|Defaults .*restore/);
    expect(learned.basis).toContain('learned from 1 past migration');
    expect(learned.basis).not.toMatch(/Defaults .*restore/);
  });
});

/**
 * One run must not poison the next. The 512 MiB lab run of docs/CRIU.md restored
 * 132755 pages in 21 s (over the memory cliff); the recorded converging run restored 33861
 * pages of a 128 MiB process in about 1.3 s. Both journals between the same hosts.
 */
describe('learned restore costs at two sizes: fit by size, reject outliers, prefer recent runs', () => {
  const small = replay(toRecords(convergingEvents()));
  const restoreOf = (r: typeof small) => r.commands.find((c) => c.argv.includes('restore'))!;
  const smallMs = restoreOf(small).durationMs!;
  const smallPages = small.restoreStats!.pagesRestored!;
  // The restore command's fixed part in the recorded run: its wall minus CRIU's restore_time.
  const smallFixedMs = smallMs - small.restoreStats!.restoreTimeUs! / 1000;
  /** A copy of the recorded run with another restore (pages, ms: the same fixed part, the rest CRIU's) and start time. */
  const variant = (pages: number, ms: number, at: string) => {
    const r = structuredClone(small);
    r.restoreStats = { ...r.restoreStats, pagesRestored: pages, restoreTimeUs: (ms - smallFixedMs) * 1000 };
    restoreOf(r).durationMs = ms;
    r.startedAt = at;
    return r;
  };
  const big = variant(132755, 21_000, '2026-11-24T10:00:00.000Z');
  const smallPre = small.iterations.filter((i) => i.kind === 'pre-dump');
  const bigPre = smallPre.map((i, k) => ({ ...i, pagesWritten: k === 0 ? 132755 : i.pagesWritten, pagesSkippedParent: k === 0 ? 0 : 132755 - i.pagesWritten }));
  const restoreTerm = (e: ReturnType<typeof estimateDowntime>) => e.terms.find((t) => t.name === 'restore')!;

  it('a 512 MiB run does not make a 128 MiB prediction wrong (the pooled line did)', () => {
    const costs = learnCosts([small, big], convergingPlan.source, convergingPlan.target)!;
    expect(costs.restoreSamples?.map((x) => x.pages)).toEqual([smallPages, 132755]);
    const e = estimateDowntime({ iterations: smallPre, budgetMs: 300, costs });
    const t = restoreTerm(e);
    expect(Math.abs(t.ms - smallMs) / smallMs).toBeLessThan(0.05);
    expect(t.detail).toMatch(/restore learned from 1 past run of a similar size \(33861–33861 pages.*1 of another size left out/);
    // The pooled fixed + per-page line through both sizes, as before: far off for 128 MiB.
    const { restoreSamples: _, ...pooled } = costs;
    const old = restoreTerm(estimateDowntime({ iterations: smallPre, budgetMs: 300, costs: pooled }));
    expect(Math.abs(old.ms - smallMs) / smallMs).toBeGreaterThan(0.5);
  });

  it('and a 128 MiB run does not make a 512 MiB prediction wrong', () => {
    const costs = learnCosts([big, small], convergingPlan.source, convergingPlan.target)!;
    const t = restoreTerm(estimateDowntime({ iterations: bigPre, budgetMs: 6000, costs }));
    expect(Math.abs(t.ms - 21_000) / 21_000).toBeLessThan(0.05);
    expect(t.detail).toMatch(/132755–132755 pages/);
  });

  it('only past runs of other sizes: the lab default, and the basis says why', () => {
    const costs = learnCosts([big], convergingPlan.source, convergingPlan.target)!;
    const e = estimateDowntime({ iterations: smallPre, budgetMs: 300, costs });
    expect(restoreTerm(e).source).toBe('default');
    expect(e.basis).toMatch(/no past restore of a similar size: 1 of other sizes left out/);
  });

  it('rejects an outlier among runs of the same size', () => {
    const runs = [1200, 1300, 12_000, 1250].map((ms, i) => variant(smallPages + i * 100, ms, `2026-11-2${i}T00:00:00.000Z`));
    const costs = learnCosts(runs, convergingPlan.source, convergingPlan.target)!;
    const t = restoreTerm(estimateDowntime({ iterations: smallPre, budgetMs: 300, costs }));
    expect(t.detail).toMatch(/3 past runs .*1 outlier rejected/);
    expect(t.ms).toBeLessThan(1400);
    expect(t.ms).toBeGreaterThan(1100);
  });

  it('prefers the newest runs: the host got faster, the five newest count', () => {
    // Journals listed newest first (as the service lists them); learnCosts orders by start time.
    const slowOld = [1, 2, 3].map((d) => variant(smallPages, 3000, `2026-11-0${d}T00:00:00.000Z`));
    const fastNew = [1, 2, 3, 4, 5].map((d) => variant(smallPages, 1000, `2026-11-1${d}T00:00:00.000Z`));
    const costs = learnCosts([...fastNew, ...slowOld].reverse(), convergingPlan.source, convergingPlan.target)!;
    const t = restoreTerm(estimateDowntime({ iterations: smallPre, budgetMs: 300, costs }));
    expect(t.ms).toBeCloseTo(1000, 6);
    expect(t.detail).toMatch(/5 past runs .*3 older left out/);
  });
});
