/**
 * The service probe: what a client of the migrated service saw through the cutover. From just
 * before the final dump until a settle time after commit or rollback, one attempt every
 * intervalMs: a TCP connect, or an HTTP GET, each on a fresh connection (what a new client
 * sees; a kept-alive connection would only test that one connection, and CRIU may carry it).
 *
 * from 'local': the engine itself, in Node. from a host alias: a short python3 program run
 * through the CommandRunner on that host (journaled like every command, its output quiet:
 * one line per attempt, parsed here, never stored). The probe never fails a migration: a
 * probe that cannot run says why in its result.
 *
 * Bounded rate: attempts start on a fixed schedule (one per intervalMs, at least 20 ms apart);
 * a slow attempt does not hold the next one back, but at most PROBE_LIMITS.maxInFlight are
 * open at once (a tick is skipped when full). Whatever happens, a probe makes at most
 * PROBE_LIMITS.maxAttempts attempts and runs at most PROBE_LIMITS.maxRunMs.
 */
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import type { ProbeAttempt, ServiceProbe, ServiceProbeResult } from '../../../shared/domain.ts';
import { PROBE_LIMITS, parseTcpTarget, summarizeProbe } from '../../../shared/probe.ts';
import { LOCAL_HOST } from '../../../shared/api.ts';
import { LineSplitter } from '../dirty/dirty.ts';
import { pythonMissing } from '../dirty/dirty-sampler.ts';
import { lastLine, type CommandRunner } from '../commands/runner.ts';

/**
 * How long the cutover waits for a remote probe to start (SSH channel, python3 start-up) before
 * the final dump: the source still runs then, so waiting costs no downtime, and the probe then
 * sees the freeze from its beginning. A probe slower than this is not waited for.
 */
export const PROBE_START_WAIT_MS = 10_000;

/** A live view at most this often (the UI only; the journal gets the final summary). */
const LIVE_INTERVAL_MS = 250;

/**
 * The remote program. argv: kind target interval_ms timeout_ms max_attempts max_run_ms
 * max_in_flight. Prints 'H' when it starts, 'A start_ms end_ms ok|fail reason' per attempt
 * (ms since its start, monotonic clock), 'E why' at the end. It stops when its stdin closes
 * (the engine's stop), at its own caps, or at the first of both.
 */
export const PROBE_SCRIPT = String.raw`import sys, time, socket, threading
kind, target = sys.argv[1], sys.argv[2]
interval, timeout, max_n, max_ms, max_fly = (int(x) for x in sys.argv[3:8])
t0 = time.monotonic()
ms = lambda: (time.monotonic() - t0) * 1000.0
lock = threading.Lock()
def out(s):
    with lock:
        sys.stdout.write(s + '\n'); sys.stdout.flush()
stop = threading.Event()
def watch():
    try:
        while sys.stdin.buffer.read(4096): pass
    finally:
        stop.set()
threading.Thread(target=watch, daemon=True).start()
if kind == 'tcp':
    host, port = target.rsplit(':', 1); host = host.strip('[]'); port = int(port); path = None
else:
    import http.client, urllib.parse
    u = urllib.parse.urlsplit(target); host = u.hostname; port = u.port or 80
    path = (u.path or '/') + ('?' + u.query if u.query else '')
def attempt():
    s = ms(); ok = False; why = '-'
    try:
        if kind == 'tcp':
            c = socket.create_connection((host, port), timeout=timeout / 1000.0); c.close(); ok = True
        else:
            c = http.client.HTTPConnection(host, port, timeout=timeout / 1000.0)
            try:
                c.request('GET', path, headers={'Connection': 'close'})
                st = c.getresponse().status
                ok = 200 <= st < 400
                why = '-' if ok else 'HTTP_%d' % st
            finally:
                c.close()
    except socket.timeout:
        why = 'timeout'
    except OSError as e:
        import errno
        why = errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__
    except Exception as e:
        why = type(e).__name__
    e = ms()
    if ok and e - s > timeout: ok = False; why = 'timeout'
    out('A %.1f %.1f %s %s' % (s, e, 'ok' if ok else 'fail', why))
out('H')
n = 0; fly = []; why = 'stopped'
while not stop.is_set():
    if n >= max_n: why = 'attempt-cap'; break
    if ms() >= max_ms: why = 'time-cap'; break
    fly = [t for t in fly if t.is_alive()]
    if len(fly) < max_fly:
        t = threading.Thread(target=attempt, daemon=True); t.start(); fly.append(t); n += 1
    stop.wait(max(0.0, (n * interval - ms()) / 1000.0) if n * interval > ms() else interval / 1000.0)
for t in fly: t.join(timeout / 1000.0 + 1)
out('E ' + why)
`;

export function probeArgv(p: ServiceProbe): string[] {
  return ['python3', '-c', PROBE_SCRIPT, p.kind, p.target, String(p.intervalMs), String(p.timeoutMs), String(PROBE_LIMITS.maxAttempts), String(PROBE_LIMITS.maxRunMs), String(PROBE_LIMITS.maxInFlight)];
}

/** One line of the remote program; undefined for anything else. */
export function parseProbeLine(line: string): { kind: 'header' } | { kind: 'attempt'; attempt: ProbeAttempt } | { kind: 'end'; why: string } | undefined {
  const t = line.trim();
  if (t === 'H') return { kind: 'header' };
  const e = /^E (\S+)$/.exec(t);
  if (e) return { kind: 'end', why: e[1]! };
  const m = /^A (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (ok|fail) (\S+)$/.exec(t);
  if (!m) return undefined;
  const ok = m[3] === 'ok';
  return { kind: 'attempt', attempt: { startMs: Number(m[1]), endMs: Number(m[2]), ok, ...(ok ? {} : { error: m[4]!.replace(/_/g, ' ') }) } };
}

const CAP_NOTES: Record<string, string> = {
  'attempt-cap': `the probe reached its cap of ${PROBE_LIMITS.maxAttempts} attempts`,
  'time-cap': `the probe reached its cap of ${PROBE_LIMITS.maxRunMs / 60_000} minutes`,
};

export interface ServiceProbeOptions {
  probe: ServiceProbe;
  /** For a probe from a host: the migration's runner (journaled, in the runbook). */
  run: CommandRunner;
  /** The live view for the UI (not journaled), a few times a second. */
  onLive?(result: ServiceProbeResult): void;
  /** Test seam: the clock (ms, monotonic). */
  now?: () => number;
}

/** A running probe. finish() waits a settle time, stops it and returns what it saw. */
export class ServiceProbeRun {
  private readonly attempts: ProbeAttempt[] = [];
  readonly startedAt = new Date().toISOString();
  /** Console wall clock at the probe's zero (for the freeze window's place on its timeline). */
  private zeroWallMs = Date.now();
  private note?: string;
  private freezeWall?: { startMs: number; endMs?: number };
  private readonly done: Promise<void>;
  private readonly stopped = new AbortController();
  private lastLive = 0;
  /** Set once the probe makes attempts (at once here; at the remote program's first line there). */
  private markRunning!: () => void;
  private readonly running = new Promise<void>((resolve) => (this.markRunning = resolve));
  private _isRunning = false;

  constructor(private readonly o: ServiceProbeOptions) {
    this.done = (o.probe.from === LOCAL_HOST ? this.local() : this.remote()).catch((e) => {
      this.note ??= `the probe stopped: ${e instanceof Error ? e.message : String(e)}`;
    });
  }

  get isRunning(): boolean {
    return this._isRunning;
  }

  /** Resolves once the probe makes attempts, or it could not start, or after limitMs. */
  async started(limitMs = PROBE_START_WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, this.done, new Promise((r) => (timer = setTimeout(r, limitMs)))]);
    clearTimeout(timer);
  }

  private setRunning(): void {
    this._isRunning = true;
    this.markRunning();
  }

  /** The freeze window on the console's clock; placed on the probe's timeline in the result. */
  markFreeze(startWallMs: number, endWallMs?: number): void {
    this.freezeWall = { startMs: startWallMs, endMs: endWallMs };
  }

  private add(a: ProbeAttempt): void {
    this.attempts.push(a);
    const now = Date.now();
    if (this.o.onLive && now - this.lastLive >= LIVE_INTERVAL_MS) {
      this.lastLive = now;
      this.o.onLive(this.result());
    }
  }

  result(): ServiceProbeResult {
    const f = this.freezeWall;
    const freeze = f ? { startMs: Math.round(f.startMs - this.zeroWallMs), ...(f.endMs !== undefined ? { endMs: Math.round(f.endMs - this.zeroWallMs) } : {}) } : undefined;
    return summarizeProbe({ probe: this.o.probe, startedAt: this.startedAt, attempts: this.attempts, freeze, note: this.note });
  }

  /** Go on for settleMs (the service settles, or stays down), then stop and summarize. */
  async finish(settleMs: number = PROBE_LIMITS.settleMs.default): Promise<ServiceProbeResult> {
    const settle = Math.min(Math.max(0, settleMs), PROBE_LIMITS.settleMs.max);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => (timer = setTimeout(r, settle))), this.done]);
    clearTimeout(timer);
    this.stopped.abort();
    await this.done;
    return this.result();
  }

  // --- from this machine ----------------------------------------------------------------------

  private async local(): Promise<void> {
    const { probe } = this.o;
    const clock = this.o.now ?? (() => performance.now());
    const t0 = clock();
    this.zeroWallMs = Date.now();
    this.setRunning();
    const signal = this.stopped.signal;
    const inFlight = new Set<Promise<void>>();
    let n = 0;
    while (!signal.aborted) {
      if (n >= PROBE_LIMITS.maxAttempts) {
        this.note = CAP_NOTES['attempt-cap'];
        break;
      }
      if (clock() - t0 >= PROBE_LIMITS.maxRunMs) {
        this.note = CAP_NOTES['time-cap'];
        break;
      }
      if (inFlight.size < PROBE_LIMITS.maxInFlight) {
        const start = clock() - t0;
        const p = attemptOnce(probe).then((r) => this.add({ startMs: round1(start), endMs: round1(clock() - t0), ...r }));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        n += 1;
      }
      // The next tick on the fixed schedule (never a burst to catch up).
      const wait = Math.max(1, n * probe.intervalMs - (clock() - t0));
      await abortableSleep(Math.min(wait, probe.intervalMs), signal);
    }
    // Attempts under way end by their own timeout.
    await Promise.all([...inFlight]);
  }

  // --- from a host, over SSH --------------------------------------------------------------------

  private async remote(): Promise<void> {
    const { probe, run } = this.o;
    const stdin = new PassThrough();
    this.stopped.signal.addEventListener('abort', () => stdin.end(), { once: true });
    const lines = new LineSplitter();
    let started = false;
    let end: string | undefined;
    const r = await run.run(probe.from, probeArgv(probe), {
      quiet: true,
      stdin,
      timeoutMs: PROBE_LIMITS.maxRunMs + 60_000,
      onStdout: (chunk) => {
        for (const raw of lines.push(chunk)) {
          const l = parseProbeLine(raw);
          if (!l) continue;
          if (l.kind === 'header') {
            // The program's zero, on the console's clock (give or take the SSH link's latency).
            this.zeroWallMs = Date.now();
            started = true;
            this.setRunning();
          } else if (l.kind === 'attempt') this.add(l.attempt);
          else end = l.why;
        }
      },
    });
    if (end && CAP_NOTES[end]) this.note = CAP_NOTES[end];
    if (r.code === 0) return;
    if (!started && pythonMissing(r)) this.note = `python3 is not installed on ${probe.from} (the probe is a short python3 program there)`;
    else if (!this.stopped.signal.aborted || !end) this.note = `the probe on ${probe.from} exited with ${r.code ?? `signal ${r.signal}`} (${lastLine(r.stderr) || 'no message'})`;
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One attempt on a fresh connection; resolves (never rejects) with its outcome within timeoutMs. */
export function attemptOnce(probe: Pick<ServiceProbe, 'kind' | 'target' | 'timeoutMs'>): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    let cleanup = () => {};
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve(ok ? { ok } : { ok, error });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), probe.timeoutMs);
    const why = (e: NodeJS.ErrnoException) => e.code ?? e.message.slice(0, 60);
    if (probe.kind === 'tcp') {
      const t = parseTcpTarget(probe.target);
      if (!t) return finish(false, 'bad target');
      const s = net.connect({ host: t.host, port: t.port });
      cleanup = () => s.destroy();
      s.once('connect', () => finish(true));
      s.once('error', (e) => finish(false, why(e)));
      return;
    }
    // agent: false: a new connection each time, closed after the answer.
    const req = http.get(probe.target, { agent: false, headers: { connection: 'close' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      finish(status >= 200 && status < 400, `HTTP ${status}`);
    });
    cleanup = () => req.destroy();
    req.once('error', (e) => finish(false, why(e)));
  });
}
