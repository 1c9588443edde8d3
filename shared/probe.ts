/**
 * The service probe's arithmetic: from a list of attempts (each a TCP connect or an HTTP
 * request, ok or not) to what a client saw during the cutover: the longest gap, the counts and
 * a compact timeline of ok/fail runs. Pure: the engine, the report and the console share it.
 */
import type { ProbeAttempt, ProbeGap, ProbeRun, ServiceProbe, ServiceProbeResult } from './domain.ts';

/**
 * Bounds on the probe's rate and life. One attempt starts every intervalMs (never faster than
 * every 20 ms); a slow attempt does not delay the next one, but at most MAX_IN_FLIGHT wait at once.
 * Whatever the cutover does, a probe makes at most MAX_ATTEMPTS attempts and runs at most MAX_RUN_MS.
 */
export const PROBE_LIMITS = {
  intervalMs: { default: 50, min: 20, max: 1000 },
  timeoutMs: { default: 1000, min: 50, max: 10_000 },
  /** How long the probe goes on after commit or rollback (the service settles or stays down). */
  settleMs: { default: 2000, min: 0, max: 10_000 },
  maxAttempts: 40_000,
  maxRunMs: 20 * 60_000,
  maxInFlight: 50,
  /** The timeline kept in the journal and the report: runs beyond this are counted, not listed. */
  maxRuns: 200,
} as const;

/** The probe a plan file or flag gave, with its defaults filled in. */
export function withProbeDefaults(p: Pick<ServiceProbe, 'kind' | 'target'> & Partial<ServiceProbe>): ServiceProbe {
  return { from: 'local', intervalMs: PROBE_LIMITS.intervalMs.default, timeoutMs: PROBE_LIMITS.timeoutMs.default, ...p };
}

/** host:port for a TCP probe ([v6]:port too); undefined when it is not one. */
export function parseTcpTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.\-]+)):(\d{1,5})$/.exec(target);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** Why a probe target is not usable for its kind, in words; undefined when it is fine. */
export function probeTargetProblem(kind: ServiceProbe['kind'], target: string): string | undefined {
  if (kind === 'tcp') return parseTcpTarget(target) ? undefined : 'a TCP probe needs host:port, like 10.0.0.5:6379';
  try {
    const u = new URL(target);
    return u.protocol === 'http:' ? undefined : 'an HTTP probe needs an http:// URL (no https yet)';
  } catch {
    return 'an HTTP probe needs a URL, like http://10.0.0.5:8080/health';
  }
}

/** Attempts in the order they started (a slow attempt may end after later ones). */
function byStart(attempts: readonly ProbeAttempt[]): ProbeAttempt[] {
  return [...attempts].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs);
}

/** Consecutive attempts with the same outcome, in start order; each run keeps the first error it saw. */
export function probeRuns(attempts: readonly ProbeAttempt[]): ProbeRun[] {
  const runs: ProbeRun[] = [];
  for (const a of byStart(attempts)) {
    const last = runs[runs.length - 1];
    if (last && last.ok === a.ok) {
      last.endMs = Math.max(last.endMs, a.endMs);
      last.attempts += 1;
    } else {
      runs.push({ ok: a.ok, startMs: a.startMs, endMs: a.endMs, attempts: 1, ...(a.ok || !a.error ? {} : { error: a.error }) });
    }
  }
  return runs;
}

/**
 * Every failure run as a gap: from the start of the last ok attempt before it to the end of the
 * first ok attempt after it. The service answered somewhere inside each of those two attempts,
 * so the gap holds every moment a client could have been refused: it is never shorter than the
 * outage, and longer by at most one interval plus an attempt's own time. A failure run at the
 * very start counts from the first attempt (fromStart); one that never ended counts to the last
 * attempt's end (recovered: false).
 */
export function probeGaps(attempts: readonly ProbeAttempt[]): ProbeGap[] {
  const sorted = byStart(attempts);
  const gaps: ProbeGap[] = [];
  let i = 0;
  while (i < sorted.length) {
    if (sorted[i]!.ok) {
      i += 1;
      continue;
    }
    const firstFail = i;
    while (i < sorted.length && !sorted[i]!.ok) i += 1;
    const before = firstFail > 0 ? sorted[firstFail - 1]! : undefined;
    const after = i < sorted.length ? sorted[i]! : undefined;
    const startMs = before ? before.startMs : sorted[firstFail]!.startMs;
    const endMs = after ? after.endMs : Math.max(...sorted.slice(firstFail).map((a) => a.endMs));
    gaps.push({ startMs, endMs, ms: Math.round(endMs - startMs), failures: i - firstFail, recovered: !!after, fromStart: !before });
  }
  return gaps;
}

/** The longest gap; an unrecovered gap wins over any recovered one (the service did not come back). */
export function longestGap(attempts: readonly ProbeAttempt[]): ProbeGap | undefined {
  let best: ProbeGap | undefined;
  for (const g of probeGaps(attempts)) {
    if (!best || (!g.recovered && best.recovered) || (g.recovered === best.recovered && g.ms > best.ms)) best = g;
  }
  return best;
}

/**
 * The result as the journal, the report and --json keep it: counts, the longest gap and the
 * runs (at most PROBE_LIMITS.maxRuns; the rest counted in runsLeftOut), never every attempt.
 */
export function summarizeProbe(input: {
  probe: ServiceProbe;
  startedAt: string;
  attempts: readonly ProbeAttempt[];
  /** The freeze window on the probe's clock (local probes only: the same clock as the engine). */
  freeze?: { startMs: number; endMs?: number };
  /** Why the probe stopped before it was told to, or could not run at all. */
  note?: string;
}): ServiceProbeResult {
  const { attempts } = input;
  const successes = attempts.filter((a) => a.ok).length;
  const runs = probeRuns(attempts);
  const gap = longestGap(attempts);
  const first = attempts.length ? Math.min(...attempts.map((a) => a.startMs)) : 0;
  const last = attempts.length ? Math.max(...attempts.map((a) => a.endMs)) : 0;
  return {
    probe: input.probe,
    startedAt: input.startedAt,
    durationMs: Math.round(last - first),
    attempts: attempts.length,
    successes,
    failures: attempts.length - successes,
    ...(gap ? { longestGap: gap } : {}),
    runs: runs.slice(0, PROBE_LIMITS.maxRuns),
    ...(runs.length > PROBE_LIMITS.maxRuns ? { runsLeftOut: runs.length - PROBE_LIMITS.maxRuns } : {}),
    ...(input.freeze ? { freeze: input.freeze } : {}),
    ...(input.note ? { note: input.note } : {}),
  };
}

/** One line for the CLI and the outcome: the longest gap in words. */
export function describeGap(r: ServiceProbeResult): string {
  const where = `${r.probe.kind} ${r.probe.target} from ${r.probe.from}`;
  if (r.attempts === 0) return `service probe (${where}) made no attempts${r.note ? `: ${r.note}` : ''}`;
  const g = r.longestGap;
  if (!g) return `clients saw no gap (${where}: ${r.attempts} attempts, all answered)`;
  const counts = `${r.failures} of ${r.attempts} attempts failed`;
  if (!g.recovered && g.fromStart) return `the service never answered: no answer in the ${g.ms} ms the probe ran (${where}; ${counts})`;
  if (!g.recovered) return `the service did not answer again: no answer for the last ${g.ms} ms the probe ran (${where}; ${counts})`;
  return `longest gap clients saw: ${g.ms} ms (${where}; ${counts})${g.fromStart ? '; failing already when the probe started' : ''}`;
}
