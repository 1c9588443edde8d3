import type { JournalPictures } from '../../../shared/api.ts';
import type { DowntimeEstimateDetail, TermName } from '../../../shared/estimate.ts';
import { criuSubcommand, type JournalRecord, type Replay } from './journal.ts';
import { measuredCutover } from './learn.ts';

/**
 * History with pictures: a past migration as the dashboard draws a live one. The events go
 * to the renderer as they were journaled (its reducer builds the same charts from them); the
 * freeze window is split into its phases (dump, copy, restore), measured from the journal's
 * command durations and beside them the terms of the estimate the cutover was decided on.
 */
export function journalPictures(records: readonly JournalRecord[], r: Replay): JournalPictures {
  const events = records.map((x) => x.event);
  if (!r.outcome?.freezeWindowMs && !r.finalDumpDone) return { events };
  const m = measuredCutover(r);
  const dumpCmd = r.commands.find((c) => criuSubcommand(c.argv) === 'dump' && c.code === 0);
  const measured = { dump: dumpCmd?.durationMs, copy: m.copyMs, restore: m.restoreMs };
  const cut = r.phases.find((x) => x.phase === 'cutover');
  const before = cut ? r.estimates.filter((e) => e.at <= cut.at) : r.estimates;
  const e = (before[before.length - 1] ?? r.estimates[r.estimates.length - 1])?.estimate as DowntimeEstimateDetail | undefined;
  const term = (...names: TermName[]) => {
    const ts = e?.terms?.filter((t) => names.includes(t.name)) ?? [];
    return ts.length ? ts.reduce((sum, t) => sum + t.ms, 0) : undefined;
  };
  const predicted = e?.terms ? { dump: term('dump-fixed', 'drain', 'memwrite', 'dump-overhead', 'tree-dump', 'shared-memory'), copy: term('copy'), restore: term('restore', 'tree-restore') } : undefined;
  return {
    events,
    freeze: {
      measured,
      measuredMs: r.outcome?.freezeWindowMs,
      predicted,
      predictedMs: r.outcome?.predictedMs ?? (e ? Math.round(e.predictedMs) : undefined),
      budgetMs: r.plan?.policy.downtimeBudgetMs,
    },
  };
}

