/**
 * The live dirty set between pre-dumps, as the dashboard shows it: the engine's 'dirty-sample'
 * events, kept per migration (bounded), and the series the chart draws (decimated). Every
 * number is the engine's; only the time axis is made relative here.
 */
import type { EngineEvent } from '../../../shared/api.ts';
import type { DirtySample, IterationStats, Phase } from '../../../shared/domain.ts';
import { decimateBy, MAX_CHART_POINTS } from './decimate.ts';

export type DirtyPoint = Omit<DirtySample, 'at' | 'samplerCpuMs'>;

/** Samples kept per migration: about 16 minutes at four a second. */
export const MAX_DIRTY_POINTS = 4000;

/** Append one sample (a replayed one, same time and interval, is not added twice). */
export function addDirtySample(list: readonly DirtyPoint[] | undefined, e: Extract<EngineEvent, { type: 'dirty-sample' }>): DirtyPoint[] {
  const prev = list ?? [];
  const last = prev[prev.length - 1];
  if (last && last.atMs === e.atMs && last.sinceIteration === e.sinceIteration) return prev.slice();
  const p: DirtyPoint = { atMs: e.atMs, sinceIteration: e.sinceIteration, dirtyPages: e.dirtyPages, presentPages: e.presentPages };
  if (e.ratePagesPerSec !== undefined) p.ratePagesPerSec = e.ratePagesPerSec;
  const next = [...prev, p];
  return next.length > MAX_DIRTY_POINTS ? next.slice(next.length - MAX_DIRTY_POINTS) : next;
}

/**
 * The samples of the interval since the newest pre-dump, while that interval is still open
 * (pre-copy, no newer iteration): what the dashboard calls live.
 */
export function liveSeries(m: { phase: Phase; iterations: readonly IterationStats[]; dirty?: readonly DirtyPoint[] }): DirtyPoint[] {
  const last = m.iterations[m.iterations.length - 1];
  if (!last || last.kind !== 'pre-dump' || !m.dirty?.length) return [];
  return m.dirty.filter((p) => p.sinceIteration === last.index);
}

/** The newest live sample, or undefined when there is no open interval with samples. */
export function liveNow(m: Parameters<typeof liveSeries>[0]): DirtyPoint | undefined {
  if (m.phase !== 'precopy') return undefined;
  const s = liveSeries(m);
  return s[s.length - 1];
}

export interface LiveChartPoint {
  /** Seconds since the interval's first sample. */
  t: number;
  dirty: number;
  rate?: number;
}

/** The chart's series: seconds from the first sample, thinned to `max` points (shape kept). */
export function liveChartData(points: readonly DirtyPoint[], max = MAX_CHART_POINTS): LiveChartPoint[] {
  if (points.length === 0) return [];
  const t0 = points[0]!.atMs;
  return decimateBy(points, (p) => p.dirtyPages, max).map((p) => ({ t: Math.round((p.atMs - t0) / 100) / 10, dirty: p.dirtyPages, rate: p.ratePagesPerSec }));
}
