import { RESTORE_RECENT_RUNS, restoreOverheadFromHistory, type CutoverCosts, type RestoreSample } from '../../../shared/estimate.ts';
import { criuSubcommand, type Replay } from './journal.ts';

const median = (xs: number[]): number | undefined => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const isCriu = (argv: readonly string[], sub: string) => criuSubcommand(argv) === sub;

/** What one migration's cutover measured, phase by phase (ms), from its own records. */
export interface MeasuredCutover {
  /** CRIU's frozen_time of the final dump, and its parts (stats-dump). */
  frozenMs?: number;
  dumpFixedMs?: number;
  drainMs?: number;
  memwriteMs?: number;
  /** Host wall of `criu dump` minus frozen_time: start-up, image writing, the ssh round trip. */
  dumpOverheadMs?: number;
  copyMs?: number;
  restoreMs?: number;
  restoredPages?: number;
  /** CRIU's own restore_time (stats-restore): the restore's part that grows with the pages. */
  restoreCriuMs?: number;
  /** From the cutover phase's start to the final dump's start, the user's hooks left out. */
  prepareMs?: number;
  freezeWindowMs?: number;
}

/** The cutover's measured phases: the journal's command durations and CRIU's stats, nothing else. */
export function measuredCutover(r: Replay): MeasuredCutover {
  const m: MeasuredCutover = { freezeWindowMs: r.outcome?.freezeWindowMs };
  const final = r.iterations.find((i) => i.kind === 'dump');
  if (final) {
    m.frozenMs = final.frozenTimeUs / 1000;
    m.dumpFixedMs = Math.max(0, (final.frozenTimeUs - final.memdumpTimeUs) / 1000);
    m.drainMs = Math.max(0, (final.memdumpTimeUs - final.memwriteTimeUs) / 1000);
    m.memwriteMs = final.memwriteTimeUs / 1000;
  }
  const dumpCmd = r.commands.find((c) => isCriu(c.argv, 'dump') && c.code === 0);
  if (final && dumpCmd?.durationMs !== undefined) m.dumpOverheadMs = Math.max(0, dumpCmd.durationMs - final.frozenTimeUs / 1000);
  const cutoverAt = r.phases.find((p) => p.phase === 'cutover')?.at;
  if (dumpCmd && cutoverAt) {
    // The user's before-cutover hooks are theirs to time; the rest is Ferry's preparation.
    const hooksMs = r.commands.filter((c) => c.hook && c.phase === 'cutover').reduce((a, c) => a + (c.durationMs ?? 0), 0);
    const ms = Date.parse(dumpCmd.startedAt) - Date.parse(cutoverAt) - hooksMs;
    if (Number.isFinite(ms) && ms >= 0) m.prepareMs = ms;
  }
  const copyCmd = r.commands.find((c) => c.phase === 'cutover' && c.pipeTo && c.code === 0);
  m.copyMs = copyCmd?.durationMs;
  const restoreCmd = r.commands.find((c) => isCriu(c.argv, 'restore') && c.code === 0);
  m.restoreMs = restoreCmd?.durationMs;
  m.restoredPages = r.restoreStats?.pagesRestored;
  if (r.restoreStats?.restoreTimeUs !== undefined) m.restoreCriuMs = r.restoreStats.restoreTimeUs / 1000;
  return m;
}

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
  const prepare: { ms: number; at: string }[] = [];
  const restore: { ms: number; pages: number }[] = [];
  const samples: RestoreSample[] = [];
  for (const r of runs) {
    const m = measuredCutover(r);
    if (m.dumpFixedMs !== undefined && m.dumpOverheadMs !== undefined) {
      dumpFixed.push(m.dumpFixedMs);
      dumpOverhead.push(m.dumpOverheadMs);
    }
    if (m.copyMs !== undefined) copy.push(m.copyMs);
    // Pre-copy only: a cold migration's cutover phase also holds its TLS and link set-up.
    if (m.prepareMs !== undefined && r.plan?.mode === 'precopy') prepare.push({ ms: m.prepareMs, at: r.startedAt ?? '' });
    if (m.restoreMs !== undefined && m.restoredPages !== undefined) {
      restore.push({ ms: m.restoreMs, pages: m.restoredPages });
      samples.push({ ms: m.restoreMs, pages: m.restoredPages, ...(m.restoreCriuMs !== undefined ? { criuMs: m.restoreCriuMs } : {}), ...(r.plan?.mode ? { mode: r.plan.mode } : {}), ...(r.startedAt ? { at: r.startedAt } : {}) });
    }
  }
  // Oldest first: the estimate prefers the newest runs of a similar size (restoreFromHistory).
  samples.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
  if (!dumpFixed.length && !copy.length && !restore.length) return undefined;
  const costs: CutoverCosts = {
    dumpFixedMs: median(dumpFixed),
    dumpOverheadMs: median(dumpOverhead),
    copyMs: median(copy),
    // The newest runs: what the preparation does changes with Ferry's versions (the guards).
    cutoverPrepareMs: median(prepare.sort((a, b) => a.at.localeCompare(b.at)).slice(-RESTORE_RECENT_RUNS).map((x) => x.ms)),
    samples: runs.length,
    from: `${runs.length} past migration${runs.length === 1 ? '' : 's'} ${source} → ${target}`,
  };
  Object.assign(costs, restoreLine(restore));
  // Each run's restore on its own: the estimate fits by size and rejects outliers.
  if (samples.length) costs.restoreSamples = samples;
  // The restore's fixed part (guard, scope, CRIU's start-up): the same at every size.
  const overhead = restoreOverheadFromHistory(samples);
  if (overhead !== undefined) costs.restoreOverheadMs = overhead;
  return costs;
}

/**
 * Restore cost as fixed + per page, pooled over every run (kept for callers without a size;
 * the estimate uses `restoreSamples` by size when it has them). With runs whose sizes really differ (by a fifth or more),
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
