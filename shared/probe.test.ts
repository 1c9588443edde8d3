import { describe, expect, test } from 'vitest';
import type { ProbeAttempt } from './domain.ts';
import { describeGap, longestGap, parseTcpTarget, probeGaps, probeRuns, probeTargetProblem, summarizeProbe, withProbeDefaults, PROBE_LIMITS } from './probe.ts';

/** Attempts every 50 ms, each taking 2 ms, from a pattern like 'ooxxxoo' (o ok, x failed). */
function attempts(pattern: string, errors: Record<number, string> = {}): ProbeAttempt[] {
  return [...pattern].map((c, i) => ({ startMs: i * 50, endMs: i * 50 + 2, ok: c === 'o', ...(c === 'o' ? {} : { error: errors[i] ?? 'ECONNREFUSED' }) }));
}
const probe = withProbeDefaults({ kind: 'tcp', target: '10.0.0.5:6379' });

describe('runs', () => {
  test('consecutive outcomes merge; a failure run keeps its first error', () => {
    expect(probeRuns(attempts('ooxxxoo', { 2: 'timeout', 3: 'ECONNRESET' }))).toEqual([
      { ok: true, startMs: 0, endMs: 52, attempts: 2 },
      { ok: false, startMs: 100, endMs: 202, attempts: 3, error: 'timeout' },
      { ok: true, startMs: 250, endMs: 302, attempts: 2 },
    ]);
  });
  test('attempts are ordered by start even when a slow one ended last', () => {
    const a: ProbeAttempt[] = [
      { startMs: 50, endMs: 1050, ok: false, error: 'timeout' },
      { startMs: 0, endMs: 1, ok: true },
      { startMs: 100, endMs: 101, ok: true },
    ];
    expect(probeRuns(a).map((r) => [r.ok, r.startMs, r.endMs])).toEqual([
      [true, 0, 1],
      [false, 50, 1050],
      [true, 100, 101],
    ]);
  });
  test('no attempts: no runs, no gap', () => {
    expect(probeRuns([])).toEqual([]);
    expect(longestGap([])).toBeUndefined();
  });
});

describe('gaps', () => {
  test('never fails: no gap', () => {
    expect(probeGaps(attempts('oooooo'))).toEqual([]);
    const r = summarizeProbe({ probe, startedAt: 'T', attempts: attempts('oooooo') });
    expect(r).toMatchObject({ attempts: 6, successes: 6, failures: 0, durationMs: 252 });
    expect(r.longestGap).toBeUndefined();
    expect(describeGap(r)).toMatch(/no gap.*6 attempts, all answered/);
  });
  test('from the last ok start to the next ok end; the longest of several', () => {
    const gaps = probeGaps(attempts('oxooxxxo'));
    expect(gaps).toEqual([
      { startMs: 0, endMs: 102, ms: 102, failures: 1, recovered: true, fromStart: false },
      { startMs: 150, endMs: 352, ms: 202, failures: 3, recovered: true, fromStart: false },
    ]);
    expect(longestGap(attempts('oxooxxxo'))).toEqual(gaps[1]);
  });
  test('fails at start: counted from the first attempt, marked fromStart', () => {
    expect(longestGap(attempts('xxxoo'))).toEqual({ startMs: 0, endMs: 152, ms: 152, failures: 3, recovered: true, fromStart: true });
    expect(describeGap(summarizeProbe({ probe, startedAt: 'T', attempts: attempts('xxxoo') }))).toMatch(/152 ms.*failing already when the probe started/);
  });
  test('never recovers: an unrecovered gap wins over a longer recovered one, and says so', () => {
    const a = attempts('oxxxxxxoooxx');
    const g = longestGap(a)!;
    expect(g).toEqual({ startMs: 450, endMs: 552, ms: 102, failures: 2, recovered: false, fromStart: false });
    const r = summarizeProbe({ probe, startedAt: 'T', attempts: a });
    expect(r).toMatchObject({ attempts: 12, successes: 4, failures: 8 });
    expect(describeGap(r)).toMatch(/did not answer again/);
  });
  test('all failed: one gap from start, not recovered', () => {
    expect(longestGap(attempts('xxx'))).toMatchObject({ recovered: false, fromStart: true, failures: 3, ms: 102 });
    expect(describeGap(summarizeProbe({ probe, startedAt: 'T', attempts: attempts('xxx') }))).toMatch(/^the service never answered: no answer in the 102 ms/);
  });
});

describe('summary', () => {
  test('keeps at most maxRuns runs and counts the rest', () => {
    const a = attempts('ox'.repeat(PROBE_LIMITS.maxRuns));
    const r = summarizeProbe({ probe, startedAt: 'T', attempts: a, note: 'stopped' });
    expect(r.runs).toHaveLength(PROBE_LIMITS.maxRuns);
    expect(r.runsLeftOut).toBe(PROBE_LIMITS.maxRuns);
    expect(r.note).toBe('stopped');
  });
  test('no attempts: said so with the note', () => {
    expect(describeGap(summarizeProbe({ probe, startedAt: 'T', attempts: [], note: 'python3 is not installed on box' }))).toMatch(/no attempts: python3/);
  });
});

describe('targets', () => {
  test('tcp host:port, v6 in brackets; http URLs only', () => {
    expect(parseTcpTarget('10.0.0.5:6379')).toEqual({ host: '10.0.0.5', port: 6379 });
    expect(parseTcpTarget('[fd00::5]:80')).toEqual({ host: 'fd00::5', port: 80 });
    expect(parseTcpTarget('web.lan:0')).toBeUndefined();
    expect(parseTcpTarget('web.lan')).toBeUndefined();
    expect(parseTcpTarget('a b:80')).toBeUndefined();
    expect(probeTargetProblem('tcp', 'x:1')).toBeUndefined();
    expect(probeTargetProblem('tcp', 'http://x/')).toMatch(/host:port/);
    expect(probeTargetProblem('http', 'http://10.0.0.5:8080/health')).toBeUndefined();
    expect(probeTargetProblem('http', 'https://x/')).toMatch(/http:\/\//);
    expect(probeTargetProblem('http', 'not a url')).toMatch(/URL/);
  });
});
