import { describe, expect, it } from 'vitest';
import { newPlan, type EngineEvent } from '../../../shared/api.ts';
import { summarizeProbe, withProbeDefaults } from '../../../shared/probe.ts';
import { applyEvents, emptyEngineState } from './engine.ts';
import { defaultDraft, draftToPlan } from './plan.ts';
import { planToDraft } from './plan-file.ts';
import { probeStrip } from './probe.ts';

const probe = withProbeDefaults({ kind: 'http', target: 'http://10.0.2.20:8080/health', from: 'lab-target', intervalMs: 20, timeoutMs: 500 });
// No hooks: the form leaves out an empty hooks block, and the comparison below is whole-plan.
const { hooks: _hooks, ...plan } = newPlan({ source: 'lab-source', target: 'lab-target', pid: 50000, serviceProbe: probe });
const attempts = (pattern: string) => [...pattern].map((c, i) => ({ startMs: i * 100, endMs: i * 100 + 10, ok: c === 'o' }));

describe('the plan form and the service probe', () => {
  it('off by default; a plan with a probe round-trips through the form; turning it off removes it', () => {
    expect(defaultDraft().probeKind).toBe('none');
    const { serviceProbe: _p, ...without } = plan;
    expect(draftToPlan(planToDraft(without))).toEqual({ ok: true, plan: without });
    const d = planToDraft(plan);
    expect(d).toMatchObject({ probeKind: 'http', probeTarget: probe.target, probeFrom: 'lab-target', probeIntervalMs: '20', probeTimeoutMs: '500' });
    expect(draftToPlan(d)).toEqual({ ok: true, plan });
    const off = draftToPlan({ ...d, probeKind: 'none' });
    expect(off.ok && off.plan.serviceProbe).toBeUndefined();
  });

  it('errors show next to the probe field that is wrong', () => {
    const d = { ...planToDraft(plan), probeKind: 'tcp' as const };
    expect(draftToPlan(d)).toMatchObject({ ok: false, errors: { probeTarget: expect.stringMatching(/host:port/) } });
    expect(draftToPlan({ ...d, probeTarget: '' })).toMatchObject({ ok: false, errors: { probeTarget: 'Give host:port to probe' } });
    expect(draftToPlan({ ...d, probeTarget: '10.0.2.20:80', probeIntervalMs: '5' })).toMatchObject({ ok: false, errors: { probeIntervalMs: expect.any(String) } });
    expect(draftToPlan({ ...d, probeTarget: '10.0.2.20:80', probeFrom: 'two words' })).toMatchObject({ ok: false, errors: { probeFrom: expect.any(String) } });
  });
});

describe('the dashboard state', () => {
  const ev = (pattern: string, live: boolean): EngineEvent => ({ type: 'service-probe', migrationId: 'm1', result: summarizeProbe({ probe, startedAt: 'T', attempts: attempts(pattern) }), at: 'T', ...(live ? { live } : {}) });

  it('live results replace each other; the final one stays, even if a live one arrives late', () => {
    const s = applyEvents(emptyEngineState(), [ev('oo', true), ev('ooxx', true)]);
    expect(s.migrations.m1!.serviceProbe).toMatchObject({ final: false, result: { attempts: 4 } });
    const f = applyEvents(s, [ev('ooxxxoo', false), ev('oox', true)]);
    expect(f.migrations.m1!.serviceProbe).toMatchObject({ final: true, result: { attempts: 7, longestGap: { ms: 410, recovered: true } } });
  });

  it('the strip: runs side by side without holes, the freeze placed on the same scale', () => {
    const r = { ...summarizeProbe({ probe, startedAt: 'T', attempts: attempts('ooxxxoo') }), freeze: { startMs: 200, endMs: 400 } };
    const { segments, freeze } = probeStrip(r);
    expect(segments.map((x) => x.ok)).toEqual([true, false, true]);
    // 0..610 ms: runs start at 0, 200 and 500 ms.
    expect(segments[0]!.leftPct).toBe(0);
    expect(segments[0]!.leftPct + segments[0]!.widthPct).toBeCloseTo(segments[1]!.leftPct);
    expect(segments[1]!.leftPct + segments[1]!.widthPct).toBeCloseTo(segments[2]!.leftPct);
    expect(segments[2]!.leftPct + segments[2]!.widthPct).toBeCloseTo(100);
    expect(freeze!.leftPct).toBeCloseTo((200 / 610) * 100);
    expect(freeze!.widthPct).toBeCloseTo((200 / 610) * 100);
    expect(probeStrip({ ...r, runs: [] }).segments).toEqual([]);
  });
});
