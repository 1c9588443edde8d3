import type { EngineEvent } from '../../../shared/api.ts';

/**
 * Dirty-sample events as the engine sends them between pre-dumps: every `everyMs`, a dirty set
 * growing at `rate` pages/s from `startPages` (the lab workload rewrites pages one after
 * another, so its distinct dirty pages grow linearly until it wraps). For UI tests.
 */
export function dirtySamples(migrationId: string, sinceIteration: number, startAtMs: number, n: number, o: { rate?: number; everyMs?: number; startPages?: number; presentPages?: number } = {}): Extract<EngineEvent, { type: 'dirty-sample' }>[] {
  const rate = o.rate ?? 1000;
  const every = o.everyMs ?? 250;
  const out: Extract<EngineEvent, { type: 'dirty-sample' }>[] = [];
  for (let k = 0; k < n; k++) {
    const atMs = startAtMs + k * every;
    out.push({
      type: 'dirty-sample',
      migrationId,
      at: new Date(atMs).toISOString(),
      atMs,
      sinceIteration,
      dirtyPages: Math.round((o.startPages ?? 40) + (rate * k * every) / 1000),
      presentPages: o.presentPages ?? 33900,
      ...(k > 0 ? { ratePagesPerSec: rate } : {}),
      samplerCpuMs: 3.1,
    });
  }
  return out;
}
