import { describe, expect, it } from 'vitest';
import {
  bandwidthProblem,
  describeBandwidth,
  finalDumpBandwidth,
  LINK_MEASURE_UNCERTAINTY,
  linkBytesPerSec,
  formatBandwidth,
  parseBandwidth,
  predictConvergence,
} from './bandwidth-cap.ts';
import { estimateDowntime, iterationSeries, PAGE_SIZE, type IterationSample } from './estimate.ts';

const MiB = 1024 * 1024;

describe('bandwidth cap words', () => {
  it('reads rates with binary, decimal and bit units', () => {
    expect(parseBandwidth('20MiB/s')).toBe(20 * MiB);
    expect(parseBandwidth(' 500 KiB/s ')).toBe(500 * 1024);
    expect(parseBandwidth('1.5MiB/s')).toBe(1.5 * MiB);
    expect(parseBandwidth('10MB/s')).toBe(10_000_000);
    expect(parseBandwidth('100Mbit/s')).toBe(12_500_000);
    expect(parseBandwidth('1Gbit/s')).toBe(125_000_000);
  });

  it('refuses what is not a rate, and rates out of bounds', () => {
    for (const bad of ['20', '20MiB', '20 mib/s', 'fast', '-1MiB/s', '0MiB/s']) expect(parseBandwidth(bad)).toBeUndefined();
    expect(bandwidthProblem('20MiB')).toMatch(/rate with its unit/);
    expect(bandwidthProblem('1KiB/s')).toMatch(/at least 64KiB\/s/);
    expect(bandwidthProblem('200GiB/s')).toMatch(/at most 100GiB\/s/);
    expect(bandwidthProblem('20MiB/s')).toBeUndefined();
  });

  it('writes a rate the parser gives back exactly', () => {
    for (const v of [20 * MiB, 1536 * 1024, 10_000_000, 12_500_000, 65_537, 3 * 1024 ** 3]) expect(parseBandwidth(formatBandwidth(v))).toBe(v);
    expect(formatBandwidth(20 * MiB)).toBe('20MiB/s');
    expect(formatBandwidth(1536 * 1024)).toBe('1536KiB/s');
    expect(describeBandwidth(1536 * 1024)).toBe('1.5 MiB/s');
    expect(describeBandwidth(512 * 1024)).toBe('512 KiB/s');
  });
});

describe('convergence under a cap', () => {
  it('shrinks to the floor dirty × fixed / (1 − q) when the stream outruns the dirty rate', () => {
    // 10 MiB/s = 2560 pages/s against 1000 dirtied: q = 0.39; fixed 1 s per pre-dump.
    const c = predictConvergence({ startPages: 30000, dirtyPagesPerSec: 1000, sendBytesPerSec: 10 * MiB, fixedMsPerIteration: 1000 });
    expect(c.converges).toBe(true);
    expect(c.ratio).toBeCloseTo(1000 / 2560, 6);
    expect(c.floorPages).toBeCloseTo(1000 / (1 - 1000 / 2560), 3);
    // The recurrence by hand: 30000 → 12718.75 → 5968.3 → 3331.4 → 2301.3 (within 10% of 1641: not yet) ...
    expect(c.iterations).toBeGreaterThanOrEqual(4);
  });

  it('a lower cap converges later and to a higher floor', () => {
    const base = { startPages: 30000, dirtyPagesPerSec: 1000, fixedMsPerIteration: 800 };
    const fast = predictConvergence({ ...base, sendBytesPerSec: 40 * MiB });
    const slow = predictConvergence({ ...base, sendBytesPerSec: 8 * MiB });
    expect(slow.floorPages!).toBeGreaterThan(fast.floorPages!);
    expect(slow.seconds!).toBeGreaterThan(fast.seconds!);
    expect(slow.iterations!).toBeGreaterThan(fast.iterations!);
  });

  it('never converges when the cap sends no faster than the process dirties', () => {
    const c = predictConvergence({ startPages: 30000, dirtyPagesPerSec: 3000, sendBytesPerSec: 2 * MiB, fixedMsPerIteration: 500 });
    expect(c.converges).toBe(false);
    expect(c.ratio).toBeCloseTo(3000 / 512, 6);
    expect(c.floorPages).toBeUndefined();
  });
});

describe('the final dump under a cap', () => {
  it('uses min(measured, cap) when the cap covers the final dump', () => {
    expect(finalDumpBandwidth(30 * MiB, { bytesPerSecond: 10 * MiB, during: 'precopy-and-dump' }).bytesPerSec).toBe(10 * MiB);
    expect(finalDumpBandwidth(5 * MiB, { bytesPerSecond: 10 * MiB, during: 'precopy-and-dump' }).bytesPerSec).toBe(5 * MiB);
    expect(finalDumpBandwidth(undefined, { bytesPerSecond: 10 * MiB, during: 'precopy-and-dump' }).bytesPerSec).toBe(10 * MiB);
  });

  it('keeps the measured rate (an upper bound on the time) when only pre-copy is capped', () => {
    const r = finalDumpBandwidth(30 * MiB, { bytesPerSecond: 10 * MiB });
    expect(r.bytesPerSec).toBe(30 * MiB);
    expect(r.note).toMatch(/uncapped/);
    expect(finalDumpBandwidth(30 * MiB, undefined)).toEqual({ bytesPerSec: 30 * MiB });
  });

  it('uses the link measured uncapped for an uncapped final dump, never the capped pre-dumps\' rate', () => {
    const link = { bytes: 16 * MiB, ms: 500, tls: true }; // 32 MiB/s before the cap went on
    const r = finalDumpBandwidth(2 * MiB, { bytesPerSecond: 2 * MiB }, link);
    expect(r.bytesPerSec).toBe(32 * MiB);
    expect(r.used).toBe('link');
    expect(r.rel).toBe(LINK_MEASURE_UNCERTAINTY);
    expect(r.note).toMatch(/link's 32 MiB\/s measured uncapped \(16\.0 MiB in 500 ms to the page server's port over TLS, before the cap went on/);
    expect(r.note).toMatch(/pre-dumps' 2 MiB\/s, capped at 2 MiB\/s, used for pre-copy only/);
    // A link probe slower than what CRIU managed under the cap is not believed below that.
    expect(finalDumpBandwidth(8 * MiB, { bytesPerSecond: 10 * MiB }, { bytes: 4 * MiB, ms: 1000 })).toMatchObject({ bytesPerSec: 8 * MiB, used: 'pre-dumps' });
    // A cap on the final dump too: the link does not matter, the cap does.
    expect(finalDumpBandwidth(2 * MiB, { bytesPerSecond: 2 * MiB, during: 'precopy-and-dump' }, link).bytesPerSec).toBe(2 * MiB);
    // No usable measurement: the old upper bound, said as such.
    expect(finalDumpBandwidth(2 * MiB, { bytesPerSecond: 2 * MiB }, { bytes: 0, ms: 0 }).note).toMatch(/link was not measured uncapped/);
    expect(linkBytesPerSec({ bytes: MiB, ms: 250 })).toBe(4 * MiB);
  });
});

describe('estimateDowntime with a cap', () => {
  // Two pre-dumps whose page writes measured 40 MiB/s: 30000 pages, then 4000 pages 2 s later.
  const memwriteUs = (pages: number) => Math.round(((pages * PAGE_SIZE) / (40 * MiB)) * 1e6);
  const samples: IterationSample[] = [
    { index: 1, kind: 'pre-dump', stats: { pagesWritten: 30000, pagesSkippedParent: 0, memwriteTimeUs: memwriteUs(30000), memdumpTimeUs: memwriteUs(30000) + 50_000, frozenTimeUs: 100_000 }, startedAtMs: 0, endedAtMs: 4000 },
    { index: 2, kind: 'pre-dump', stats: { pagesWritten: 4000, pagesSkippedParent: 26000, memwriteTimeUs: memwriteUs(4000), memdumpTimeUs: memwriteUs(4000) + 10_000, frozenTimeUs: 90_000 }, startedAtMs: 4000, endedAtMs: 5500 },
  ];
  const iterations = iterationSeries(samples);
  const at = (cap?: Parameters<typeof estimateDowntime>[0]['bandwidthCap']) => estimateDowntime({ iterations, budgetMs: 6000, nowMs: 5500, bandwidthCap: cap });
  const memwrite = (e: ReturnType<typeof at>) => e.terms.find((t) => t.name === 'memwrite')!.ms;

  it('a cap on the final dump lengthens its page write by measured / cap', () => {
    const free = at();
    const capped = at({ bytesPerSecond: 10 * MiB, during: 'precopy-and-dump' });
    expect(memwrite(capped) / memwrite(free)).toBeCloseTo(4, 4);
    expect(capped.predictedMs).toBeGreaterThan(free.predictedMs);
    expect(capped.bandwidthCap).toMatchObject({ bytesPerSecond: 10 * MiB, finalDump: true });
    expect(capped.basis).toMatch(/final dump's pages capped at 10 MiB\/s/);
  });

  it('a pre-copy-only cap leaves the final dump at the measured rate and predicts convergence at min(link, cap)', () => {
    const free = at();
    const capped = at({ bytesPerSecond: 10 * MiB });
    expect(memwrite(capped)).toBeCloseTo(memwrite(free), 6);
    expect(capped.bandwidthCap?.finalDump).toBe(false);
    const conv = capped.bandwidthCap!.convergence!;
    // Dirty rate: 4000 pages over the 4 s between the two freezes = 1000 pages/s; send 10 MiB/s = 2560 pages/s.
    expect(conv.ratio).toBeCloseTo(1000 / 2560, 2);
    expect(capped.basis).toMatch(/pre-copy under the 10 MiB\/s cap sends 10 MiB\/s/);
    // A cap above the measured link changes nothing: the link is the limit.
    const loose = at({ bytesPerSecond: 1024 * MiB });
    expect(loose.bandwidthCap!.convergence!.ratio).toBeCloseTo(1000 / 10240, 2);
  });

  it('a pre-copy-only cap predicts the final dump at the uncapped link, and the pre-dumps at the cap', () => {
    // The lab's case: pre-dumps held to 2 MiB/s by the cap, the link measured at 32 MiB/s before it went on.
    const slow = (pages: number) => Math.round(((pages * PAGE_SIZE) / (2 * MiB)) * 1e6);
    const capped: IterationSample[] = [
      { index: 1, kind: 'pre-dump', stats: { pagesWritten: 4096, pagesSkippedParent: 0, memwriteTimeUs: slow(4096), memdumpTimeUs: slow(4096) + 20_000, frozenTimeUs: 80_000 }, startedAtMs: 0, endedAtMs: 8500 },
      { index: 2, kind: 'pre-dump', stats: { pagesWritten: 1700, pagesSkippedParent: 2396, memwriteTimeUs: slow(1700), memdumpTimeUs: slow(1700) + 10_000, frozenTimeUs: 70_000 }, startedAtMs: 8500, endedAtMs: 12_200 },
    ];
    const its = iterationSeries(capped);
    const cap = { bytesPerSecond: 2 * MiB };
    const link = { bytes: 16 * MiB, ms: 500 };
    const withLink = estimateDowntime({ iterations: its, budgetMs: 6000, nowMs: 12_200, bandwidthCap: cap, link });
    const without = estimateDowntime({ iterations: its, budgetMs: 6000, nowMs: 12_200, bandwidthCap: cap });
    const pages = withLink.expectedDirtyPages;
    expect(pages).toBeGreaterThan(500);
    // The final dump's pages at 32 MiB/s, not at the 2 MiB/s the cap held the pre-dumps to (16x shorter).
    expect(memwrite(withLink)).toBeCloseTo(((pages * PAGE_SIZE) / (32 * MiB)) * 1000, 3);
    expect(memwrite(without) / memwrite(withLink)).toBeCloseTo(16, 3);
    expect(withLink.predictedMs).toBeLessThan(without.predictedMs - 1000);
    // The band is the link measurement's ±30%.
    const t = withLink.terms.find((x) => x.name === 'memwrite')!;
    expect(t.highMs).toBeCloseTo(((withLink.expectedDirtyPages * (1 + 0.2) * PAGE_SIZE) / (32 * MiB * 0.7)) * 1000, 0);
    expect(t.detail).toMatch(/the link measured uncapped/);
    // Pre-copy's convergence stays at the capped rate.
    expect(withLink.bandwidthCap!.convergence!.ratio).toBeCloseTo(without.bandwidthCap!.convergence!.ratio, 6);
    expect(withLink.bandwidthCap).toMatchObject({ finalDumpBytesPerSecond: 32 * MiB, finalDumpRate: 'link' });
    expect(without.bandwidthCap).toMatchObject({ finalDumpRate: 'pre-dumps' });
    // The basis names which rate each term used.
    expect(withLink.basis).toMatch(/final dump's bandwidth 33\.6 MB\/s \(the link measured uncapped, ±30%\); pre-dumps' bandwidth 2\.1 MB\/s under the cap/);
    expect(withLink.basis).toMatch(/pre-copy under the 2 MiB\/s cap sends 2 MiB\/s/);
  });

  it('without a cap the estimate has no cap field', () => {
    expect(at().bandwidthCap).toBeUndefined();
  });
});
