import { describe, expect, it } from 'vitest';
import { decimate, decimateBy, MAX_CHART_POINTS } from './decimate.ts';

describe('decimate', () => {
  const series = Array.from({ length: 10_000 }, (_, i) => ({ i, v: Math.sin(i / 50) * 100 + (i === 4321 ? 900 : 0) }));

  it('keeps short series untouched', () => {
    const short = series.slice(0, 50);
    expect(decimateBy(short, (p) => p.v)).toEqual(short);
  });

  it('keeps at most N points, the endpoints, and order', () => {
    for (const n of [2, 3, 10, 300]) {
      const out = decimate(series, n, (p) => p.i, (p) => p.v);
      expect(out.length).toBeLessThanOrEqual(n);
      expect(out[0]).toBe(series[0]);
      expect(out[out.length - 1]).toBe(series[series.length - 1]);
      for (let k = 1; k < out.length; k++) expect(out[k]!.i).toBeGreaterThan(out[k - 1]!.i);
    }
    expect(decimateBy(series, (p) => p.v)).toHaveLength(MAX_CHART_POINTS);
  });

  it('keeps a spike and never invents values', () => {
    const out = decimateBy(series, (p) => p.v);
    expect(out.some((p) => p.i === 4321)).toBe(true);
    for (const p of out) expect(series[p.i]).toBe(p);
  });

  it('handles empty and degenerate inputs', () => {
    expect(decimateBy([], (p: number) => p)).toEqual([]);
    expect(decimate([1, 2, 3], 1, (p) => p, (p) => p)).toEqual([3]);
    expect(decimateBy([5, 5, 5, 5, 5], (p) => p, 3)).toEqual([5, 5, 5]);
  });
});
