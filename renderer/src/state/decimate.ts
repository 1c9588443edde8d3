/**
 * Decimation for charts: long series are thinned before they reach recharts so a chart stays
 * smooth. Largest-Triangle-Three-Buckets keeps the first and last points and, in each bucket
 * between them, the point that best preserves the series' shape (peaks survive).
 * The values themselves are never changed: every kept point is one the engine sent.
 */
export const MAX_CHART_POINTS = 300;

export function decimate<T>(points: readonly T[], max: number, x: (p: T) => number, y: (p: T) => number): T[] {
  const n = points.length;
  if (max < 2) return n ? [points[n - 1]!] : [];
  if (n <= max) return points.slice();
  const out: T[] = [points[0]!];
  const every = (n - 2) / (max - 2);
  let a = 0;
  for (let i = 0; i < max - 2; i++) {
    // The average of the next bucket is the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    const len = Math.max(1, nextEnd - nextStart);
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += x(points[j]!);
      avgY += y(points[j]!);
    }
    avgX /= len;
    avgY /= len;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const ax = x(points[a]!);
    const ay = y(points[a]!);
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (y(points[j]!) - ay) - (ax - x(points[j]!)) * (avgY - ay));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(points[best]!);
    a = best;
  }
  out.push(points[n - 1]!);
  return out;
}

/** Decimate a series on one numeric field, x being the position in the series. */
export function decimateBy<T>(points: readonly T[], yOf: (p: T) => number | undefined, max = MAX_CHART_POINTS): T[] {
  if (points.length <= max) return points.slice();
  const indexed = points.map((p, i) => ({ p, i }));
  return decimate(indexed, max, (q) => q.i, (q) => yOf(q.p) ?? 0).map((q) => q.p);
}
