import type { CutoverCosts } from '../../shared/estimate.ts';
import type { Replay } from './journal.ts';

const median = (xs: number[]): number | undefined => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const isCriu = (argv: readonly string[], sub: string) => {
  const i = argv.findIndex((a) => a === 'criu' || a.endsWith('/criu'));
  return i >= 0 && argv[i + 1] === sub;
};

/**
 * What past migrations between the same two hosts measured for the parts of a cutover a
 * running migration cannot measure in advance: the final dump's fixed cost and overhead,
 * the copy, and the restore (fixed + per page). Only committed runs count, and only their
 * own recorded numbers: the journal's command durations and CRIU's stats.
 */
export function learnCosts(replays: readonly Replay[], source: string, target: string): CutoverCosts | undefined {
  const runs = replays.filter((r) => r.outcome?.outcome === 'committed' && r.plan?.source === source && r.plan?.target === target);
  const dumpFixed: number[] = [];
  const dumpOverhead: number[] = [];
  const copy: number[] = [];
  const restore: { ms: number; pages: number }[] = [];
  for (const r of runs) {
    const final = r.iterations.find((i) => i.kind === 'dump');
    const dumpCmd = r.commands.find((c) => isCriu(c.argv, 'dump') && c.code === 0);
    if (final && dumpCmd?.durationMs !== undefined) {
      dumpFixed.push(Math.max(0, (final.frozenTimeUs - final.memdumpTimeUs) / 1000));
      dumpOverhead.push(Math.max(0, dumpCmd.durationMs - final.frozenTimeUs / 1000));
    }
    const copyCmd = r.commands.find((c) => c.phase === 'cutover' && c.pipeTo && c.code === 0);
    if (copyCmd?.durationMs !== undefined) copy.push(copyCmd.durationMs);
    const restoreCmd = r.commands.find((c) => isCriu(c.argv, 'restore') && c.code === 0);
    const pages = r.restoreStats?.pagesRestored;
    if (restoreCmd?.durationMs !== undefined && pages !== undefined) restore.push({ ms: restoreCmd.durationMs, pages });
  }
  if (!dumpFixed.length && !copy.length && !restore.length) return undefined;
  const costs: CutoverCosts = {
    dumpFixedMs: median(dumpFixed),
    dumpOverheadMs: median(dumpOverhead),
    copyMs: median(copy),
    samples: runs.length,
    from: `${runs.length} past migration${runs.length === 1 ? '' : 's'} ${source} → ${target}`,
  };
  Object.assign(costs, restoreLine(restore));
  return costs;
}

/**
 * Restore cost as fixed + per page. With runs whose sizes really differ (by a fifth or more),
 * a least-squares line; otherwise (one run, or the same process again and again, where a line
 * through near-equal sizes would amplify noise into nonsense) the time per page of those runs:
 * restore work grows with the pages restored.
 */
function restoreLine(xs: { ms: number; pages: number }[]): Pick<CutoverCosts, 'restoreFixedMs' | 'restoreMsPerPage'> {
  if (!xs.length) return {};
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x.pages, 0) / n;
  const my = xs.reduce((s, x) => s + x.ms, 0) / n;
  const sxx = xs.reduce((s, x) => s + (x.pages - mx) ** 2, 0);
  const pages = xs.map((x) => x.pages);
  const spread = mx > 0 ? (Math.max(...pages) - Math.min(...pages)) / mx : 0;
  if (n >= 2 && sxx > 0 && spread >= 0.2) {
    const slope = xs.reduce((s, x) => s + (x.pages - mx) * (x.ms - my), 0) / sxx;
    if (slope >= 0) return { restoreMsPerPage: slope, restoreFixedMs: Math.max(0, my - slope * mx) };
  }
  return { restoreMsPerPage: mx > 0 ? my / mx : undefined, restoreFixedMs: 0 };
}
