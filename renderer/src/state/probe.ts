/**
 * Service probe (client-visible downtime) in the console: the plan form's fields for it, and
 * the dashboard's view of what it saw. Pure; the probe's own arithmetic is shared/probe.ts.
 */
import type { ServiceProbe, ServiceProbeResult } from '../../../shared/domain.ts';
import { PROBE_LIMITS } from '../../../shared/probe.ts';

/** The form's probe fields, as typed. */
export interface ProbeDraft {
  probeKind: 'none' | ServiceProbe['kind'];
  probeTarget: string;
  /** 'local' or a host alias. */
  probeFrom: string;
  probeIntervalMs: string;
  probeTimeoutMs: string;
}

export function defaultProbeDraft(): ProbeDraft {
  return { probeKind: 'none', probeTarget: '', probeFrom: 'local', probeIntervalMs: String(PROBE_LIMITS.intervalMs.default), probeTimeoutMs: String(PROBE_LIMITS.timeoutMs.default) };
}

export function probeToDraft(p: ServiceProbe | undefined): ProbeDraft {
  if (!p) return defaultProbeDraft();
  return { probeKind: p.kind, probeTarget: p.target, probeFrom: p.from, probeIntervalMs: String(p.intervalMs), probeTimeoutMs: String(p.timeoutMs) };
}

/** The plan's probe from the form (validated with the plan's schema by the caller); undefined when off. */
export function draftProbe(d: ProbeDraft): ServiceProbe | undefined {
  if (d.probeKind === 'none') return undefined;
  const n = (s: string) => (s.trim() === '' ? Number.NaN : Number(s.trim()));
  return { kind: d.probeKind, target: d.probeTarget.trim(), from: d.probeFrom.trim() || 'local', intervalMs: n(d.probeIntervalMs), timeoutMs: n(d.probeTimeoutMs) };
}

/** Schema paths -> the form's probe fields. */
export const PROBE_FIELD_OF = {
  serviceProbe: 'probeTarget',
  'serviceProbe.target': 'probeTarget',
  'serviceProbe.from': 'probeFrom',
  'serviceProbe.intervalMs': 'probeIntervalMs',
  'serviceProbe.timeoutMs': 'probeTimeoutMs',
} as const;

/** What the dashboard keeps: the newest result, and whether it is the final one. */
export interface ProbeView {
  result: ServiceProbeResult;
  final: boolean;
}

/** A final result is never replaced by a late live one. */
export function addProbeResult(prev: ProbeView | undefined, result: ServiceProbeResult, live: boolean): ProbeView {
  if (prev?.final && live) return prev;
  return { result, final: !live };
}

/** One segment of the timeline strip, in percent of the probe's duration. */
export interface StripSegment {
  ok: boolean;
  leftPct: number;
  widthPct: number;
  attempts: number;
  startMs: number;
  endMs: number;
  error?: string;
}

/**
 * The runs as a strip from the first attempt to the last: each run from its start to the next
 * run's start (the last to its end), so the strip has no holes; at least 0.5% wide to be seen.
 */
export function probeStrip(r: ServiceProbeResult): { segments: StripSegment[]; freeze?: { leftPct: number; widthPct: number } } {
  const runs = r.runs;
  if (!runs.length) return { segments: [] };
  const t0 = runs[0]!.startMs;
  const span = Math.max(1, Math.max(...runs.map((x) => x.endMs)) - t0);
  const pct = (ms: number) => Math.min(100, Math.max(0, ((ms - t0) / span) * 100));
  const segments = runs.map((x, i) => {
    const end = i + 1 < runs.length ? runs[i + 1]!.startMs : x.endMs;
    return { ok: x.ok, leftPct: pct(x.startMs), widthPct: Math.max(0.5, pct(end) - pct(x.startMs)), attempts: x.attempts, startMs: x.startMs, endMs: x.endMs, ...(x.error ? { error: x.error } : {}) };
  });
  const f = r.freeze;
  const freeze = f ? { leftPct: pct(f.startMs), widthPct: Math.max(0.5, pct(f.endMs ?? t0 + span) - pct(f.startMs)) } : undefined;
  return { segments, ...(freeze ? { freeze } : {}) };
}
