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
