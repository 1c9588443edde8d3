import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { MAX_CHART_POINTS } from './decimate.ts';
import { addDirtySample, liveChartData, liveNow, liveSeries, MAX_DIRTY_POINTS } from './dirty.ts';
import { dirtySamples } from './dirty-fixtures.ts';
import { applyEvents, emptyEngineState } from './engine.ts';
import { at, CONVERGING_ID, convergingEvents, convergingUntilCutover } from './fixtures.ts';

const t0 = Date.parse(at('05:15:50.000'));
const run = (events: EngineEvent[]) => applyEvents(emptyEngineState(), events);

describe('live dirty samples in the store', () => {
  it('keeps the samples of the open interval as the live series, and the newest as the KPI', () => {
    const s = run([...convergingUntilCutover(), ...dirtySamples(CONVERGING_ID, 3, t0, 12)]);
    const m = s.migrations[CONVERGING_ID]!;
    expect(m.phase).toBe('precopy');
    const live = liveSeries(m);
    expect(live).toHaveLength(12);
    expect(live.map((p) => p.dirtyPages)).toEqual([40, 290, 540, 790, 1040, 1290, 1540, 1790, 2040, 2290, 2540, 2790]);
    expect(liveNow(m)).toMatchObject({ dirtyPages: 2790, sinceIteration: 3, ratePagesPerSec: 1000 });
  });

  it('samples of an older interval are not live; a new iteration closes the interval', () => {
    const s = run([...convergingUntilCutover(), ...dirtySamples(CONVERGING_ID, 2, t0, 5)]);
    expect(liveSeries(s.migrations[CONVERGING_ID]!)).toEqual([]);
    const done = run([...convergingUntilCutover(), ...dirtySamples(CONVERGING_ID, 3, t0, 5), ...convergingEvents().slice(convergingUntilCutover().length)]);
    const m = done.migrations[CONVERGING_ID]!;
    expect(m.phase).toBe('committed');
    // The final dump is the newest iteration: the series is history, no KPI.
    expect(liveSeries(m)).toEqual([]);
    expect(liveNow(m)).toBeUndefined();
    expect(m.dirty).toHaveLength(5);
  });

  it('does not add a replayed sample twice, and stays bounded on a long wait', () => {
    const [a] = dirtySamples(CONVERGING_ID, 1, t0, 1);
    expect(addDirtySample(addDirtySample(undefined, a!), a!)).toHaveLength(1);
    let list = addDirtySample(undefined, a!);
    for (const e of dirtySamples(CONVERGING_ID, 1, t0 + 1000, MAX_DIRTY_POINTS + 50)) list = addDirtySample(list, e);
    expect(list).toHaveLength(MAX_DIRTY_POINTS);
    expect(list[list.length - 1]!.atMs).toBe(t0 + 1000 + (MAX_DIRTY_POINTS + 49) * 250);
  });

  it('live re-estimates replace each other within an interval; the one after an iteration stays', () => {
    const base = convergingUntilCutover();
    const est = base.filter((e) => e.type === 'estimate').pop()!;
    const live = (p: number): EngineEvent => (est.type === 'estimate' ? { ...est, live: true, estimate: { ...est.estimate, predictedMs: p } } : est);
    const m = run([...base, live(5000), live(5100), live(5200)]).migrations[CONVERGING_ID]!;
    const after = run(base).migrations[CONVERGING_ID]!.estimates.length;
    expect(m.estimates).toHaveLength(after + 1);
    expect(m.estimates[m.estimates.length - 1]).toMatchObject({ live: true, estimate: { predictedMs: 5200 } });
    expect(m.estimates[m.estimates.length - 2]!.live).toBeUndefined();
  });
});

describe('liveChartData', () => {
  it('gives seconds from the first sample and the engine values', () => {
    const pts = dirtySamples(CONVERGING_ID, 3, t0, 5).map((e) => addDirtySample(undefined, e)[0]!);
    expect(liveChartData(pts)).toEqual([
      { t: 0, dirty: 40, rate: undefined },
      { t: 0.3, dirty: 290, rate: 1000 },
      { t: 0.5, dirty: 540, rate: 1000 },
      { t: 0.8, dirty: 790, rate: 1000 },
      { t: 1, dirty: 1040, rate: 1000 },
    ]);
  });

  it('thins an hour of samples to the chart budget, keeping the first, the last and the peak', () => {
    let list = addDirtySample(undefined, dirtySamples(CONVERGING_ID, 1, t0, 1)[0]!);
    const events = dirtySamples(CONVERGING_ID, 1, t0 + 250, 3000);
    events[1500] = { ...events[1500]!, dirtyPages: 999_999 };
    for (const e of events) list = addDirtySample(list, e);
    const data = liveChartData(list);
    expect(data).toHaveLength(MAX_CHART_POINTS);
    expect(data[0]!.dirty).toBe(40);
    expect(data[data.length - 1]!.dirty).toBe(list[list.length - 1]!.dirtyPages);
    expect(data.some((p) => p.dirty === 999_999)).toBe(true);
  });
});
