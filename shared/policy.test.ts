import { beforeAll, describe, expect, it } from 'vitest';
import { decodeStats } from '../electron/criu/stats.ts';
import { defaultPolicy } from './api.ts';
import type { ConvergencePolicy, Recommendation } from './domain.ts';
import { estimateDowntime, iterationSeries, type IterationSample, type TimedIterationStats } from './estimate.ts';
import { recommend } from './policy.ts';

// The recorded lab runs, read as in estimate.test.ts (node:fs loaded dynamically: shared/ is
// typechecked without Node types).
const FIXTURES = new URL('../../shared/fixtures/criu/', import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const nodeFs = (): Promise<any> => import(/* @vite-ignore */ ['node', 'fs'].join(':'));

async function preDumps(name: string): Promise<TimedIterationStats[]> {
  const fs = await nodeFs();
  const log: string = fs.readFileSync(new URL(`${name}/run.log`, FIXTURES), 'utf8');
  const samples: IterationSample[] = [];
  for (const block of log.split(/^### /m).slice(1)) {
    const m = /^\[\w+\]# .* criu (pre-dump|dump) .*-D \/root\/[\w-]+\/(\d+)/m.exec(block);
    const start = /host-start: (\S+)/.exec(block)?.[1];
    const end = /host-end: (\S+)/.exec(block)?.[1];
    if (!m || !start || !end) continue;
    const stats = decodeStats(new Uint8Array(fs.readFileSync(new URL(`${name}/source/${m[2]}/stats-dump`, FIXTURES))));
    if (stats.kind !== 'dump') throw new Error('expected dump stats');
    samples.push({ index: Number(m[2]), kind: m[1] === 'dump' ? 'dump' : 'pre-dump', stats, startedAtMs: Date.parse(start), endedAtMs: Date.parse(end) });
  }
  return iterationSeries(samples).filter((i) => i.kind === 'pre-dump');
}

/**
 * The recorded runs predate the cutover guard: their restore was a bare `criu restore -d` with
 * 310 ms of fixed part, and the final dump followed the decision at once. They are replayed so.
 */
const RECORDED_RUN_COSTS = { restoreOverheadMs: 310 };

/** Replays the policy as the engine would: after each pre-dump, estimate (cut over now) and decide. */
function walk(iters: TimedIterationStats[], policy: ConvergencePolicy): Recommendation[] {
  const out: Recommendation[] = [];
  for (let n = 1; n <= iters.length; n++) {
    const so = iters.slice(0, n);
    const estimate = estimateDowntime({ iterations: so, budgetMs: policy.downtimeBudgetMs, costs: RECORDED_RUN_COSTS });
    const r = recommend({ iterations: so, estimate, policy });
    out.push(r);
    if (r.kind !== 'continue') break;
  }
  return out;
}

let conv: TimedIterationStats[];
let nonconv: TimedIterationStats[];
beforeAll(async () => {
  [conv, nonconv] = await Promise.all([preDumps('converging'), preDumps('non-converging')]);
});

const policy = (over: Partial<ConvergencePolicy> = {}): ConvergencePolicy => ({ ...defaultPolicy, ...over });

describe('defaults', () => {
  it('are the documented ones (QEMU 300 ms; P.Haul 64 pages, 10% growth; 8 iterations)', () => {
    expect(defaultPolicy).toMatchObject({ downtimeBudgetMs: 300, maxIterations: 8, growthThreshold: 0.1, minPages: 64 });
  });
});

describe('recommend on the recorded runs', () => {
  it('converging, with a budget the lab can meet (8 s; the run measured 7.5 s dump+copy+restore), cutting over on the prediction: continue, then cutover', () => {
    const rs = walk(conv, policy({ downtimeBudgetMs: 8000, cutoverWhen: 'prediction' }));
    expect(rs.map((r) => r.kind)).toEqual(['continue', 'cutover']);
    expect(rs[0]?.reason).toMatch(/^Pre-dump 1 wrote 33861 pages and the predicted \d+\.\d s .* exceeds the 8\.0 s budget/);
    expect(rs[1]?.reason).toMatch(/fits the 8\.0 s budget \(pages written 33861 → 5799 \(−82\.9%\)\)/);
  });

  it('converging with the default 300 ms budget: keeps going while pages shrink (the TCG lab cannot freeze in 300 ms)', () => {
    const rs = walk(conv, policy());
    expect(rs.map((r) => r.kind)).toEqual(['continue', 'continue', 'continue']);
    expect(rs[2]?.reason).toMatch(/^Pages written 5799 → 2724 \(−53\.0%\) and the predicted .* exceeds the 300 ms budget/);
  });

  it("non-converging: 'not-converging' by the 3rd pre-dump (flat), even with a generous budget", () => {
    for (const budget of [300, 8000]) {
      const rs = walk(nonconv, policy({ downtimeBudgetMs: budget }));
      expect(rs.map((r) => r.kind)).toEqual(['continue', 'continue', 'not-converging']);
      expect(rs[2]?.reason).toMatch(/^Pages written 33862 → 32993 → 32990 \(flat, within ±5%\) and the predicted \d+\.\d s .* exceeds the/);
    }
  });

  it('growth: pages written grew by more than the threshold', () => {
    const grown = [conv[0]!, conv[2]!, { ...conv[2]!, index: 3, pagesWritten: 3100 }];
    const estimate = estimateDowntime({ iterations: grown, budgetMs: 300 });
    const r = recommend({ iterations: grown, estimate, policy: policy() });
    expect(r.kind).toBe('not-converging');
    expect(r.reason).toMatch(/^Pages written grew 2724 → 3100 \(\+13\.8%, more than the 10% allowed\)/);
    // 8% growth is within the threshold: continue
    const mild = [conv[0]!, conv[2]!, { ...conv[2]!, index: 3, pagesWritten: 2942 }];
    expect(recommend({ iterations: mild, estimate, policy: policy() }).kind).toBe('continue');
  });

  it('max iterations', () => {
    const estimate = estimateDowntime({ iterations: conv, budgetMs: 300 });
    const r = recommend({ iterations: conv, estimate, policy: policy({ maxIterations: 3 }) });
    expect(r.kind).toBe('not-converging');
    expect(r.reason).toMatch(/^3 pre-dumps, the maximum of 3, and the predicted .* exceeds the 300 ms budget/);
  });

  it('the default cutover rule: the band\'s upper edge must fit, not only the prediction', () => {
    // The same 8 s budget: the prediction fits after pre-dump 2, but the band (lab defaults ±50%) does not.
    const rs = walk(conv, policy({ downtimeBudgetMs: 8000 }));
    expect(rs.map((r) => r.kind)).not.toContain('cutover');
    expect(rs[1]?.reason).toMatch(/fits the 8\.0 s budget, but the band's upper edge \d+\.\d s does not \(cutting over on the prediction is the policy's cutover_when: prediction\)/);
    // A budget above the upper edge: cutover, and the reason says the whole band fits.
    const pre = conv.filter((i) => i.kind === 'pre-dump').slice(0, 2);
    const e = estimateDowntime({ iterations: pre, budgetMs: 300 });
    const r = recommend({ iterations: pre, estimate: e, policy: policy({ downtimeBudgetMs: Math.ceil(e.highMs) }) });
    expect(r.kind).toBe('cutover');
    expect(r.reason).toMatch(/even the band's upper edge fits the/);
    expect(recommend({ iterations: pre, estimate: e, policy: policy({ downtimeBudgetMs: Math.floor(e.highMs) - 1 }) }).kind).toBe('continue');
  });

  it('minPages with the band rule: a stop (on_not_converging decides), never a silent cutover over budget', () => {
    const tiny = [...conv, { ...conv[2]!, index: 4, pagesWritten: 60 }];
    const estimate = estimateDowntime({ iterations: tiny, budgetMs: 300 });
    const r = recommend({ iterations: tiny, estimate, policy: policy() });
    expect(r.kind).toBe('not-converging');
    expect(r.reason).toMatch(/^The last pre-dump wrote only 60 pages \(at most 64\): another pass cannot shrink what is left, and the predicted .* exceeds the 300 ms budget/);
  });

  it('minPages with cutoverWhen prediction: cut over when an iteration wrote that few pages, even over budget', () => {
    const tiny = [...conv, { ...conv[2]!, index: 4, pagesWritten: 60 }];
    const estimate = estimateDowntime({ iterations: tiny, budgetMs: 300 });
    expect(estimate.fits).toBe(false);
    const r = recommend({ iterations: tiny, estimate, policy: policy({ cutoverWhen: 'prediction' }) });
    expect(r.kind).toBe('cutover');
    expect(r.reason).toMatch(/^The last pre-dump wrote only 60 pages \(at most 64\)/);
    expect(r.reason).toMatch(/exceeds the 300 ms budget/);
  });

  it('no pre-dump yet: continue', () => {
    const estimate = estimateDowntime({ iterations: [], budgetMs: 300 });
    expect(recommend({ iterations: [], estimate, policy: policy() }).kind).toBe('continue');
  });

  it('a final dump in the list is ignored (only pre-dumps count)', () => {
    const withFinal = [...nonconv.slice(0, 2), { ...nonconv[1]!, index: 3, kind: 'dump' as const }];
    const estimate = estimateDowntime({ iterations: withFinal, budgetMs: 300 });
    expect(recommend({ iterations: withFinal, estimate, policy: policy() }).kind).toBe('continue');
  });
});
