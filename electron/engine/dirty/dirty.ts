/**
 * Live dirty-set sampling: the program that runs on the source (python3 as argv, never a
 * shell string), its output parser and the maths on its samples. Pure: no I/O here; running
 * it is dirty-sampler.ts's job.
 *
 * ## What is counted
 * /proc/PID/pagemap holds one 64-bit entry per virtual page: bit 63 present, bit 62 swapped,
 * bit 55 soft-dirty (Documentation/admin-guide/mm/soft-dirty.rst). CRIU's pre-dump
 * (--track-mem) clears the soft-dirty bits when it reads the pages, so between pre-dumps the
 * set bits are exactly the pages the next dump will have to copy. The kernel also reports bit
 * 55 on holes inside a VM_SOFTDIRTY vma (a fresh mapping), so a page counts only when it is
 * soft-dirty AND (present OR swapped).
 *
 * ## Read-only
 * The sampler opens /proc/PID/maps and /proc/PID/pagemap O_RDONLY and nothing else. Writing
 * /proc/PID/clear_refs after the first pre-dump would erase CRIU's tracking (the next dump
 * would skip pages that changed) and corrupt the restored memory: the only writer is
 * CLEAR_SCRIPT, used by the dirty-rate probe, which the engine refuses once a pre-dump ran.
 */
import type { DirtyRateProbe } from '../../../shared/domain.ts';

/** The sampler's CPU ceiling, as a share of one core (it spaces samples out to stay under it). */
export const MAX_DUTY = 0.1;
/** Default sampling interval: four samples a second. */
export const DEFAULT_SAMPLE_INTERVAL_MS = 250;
/** One sampler run never outlives this; the engine starts another if it is still waiting. */
export const SAMPLER_RUN_MS = 10 * 60_000;
/** The probe's wait, in seconds. */
export const PROBE_SECONDS = { min: 1, max: 60 } as const;

/**
 * The sampler, run as `python3 -c SAMPLER_SCRIPT PID... --interval-ms N --count M --deadline-ms D`.
 * Output, one line each, flushed:
 *   `# ferry-dirty 1 softdirty=0|1 page=4096`  once: whether this kernel tracks soft-dirty
 *       (read on the sampler's own freshly written pages; 0 means CONFIG_MEM_SOFT_DIRTY is off)
 *   `S MONO_MS DIRTY PRESENT CPU_MS PIDS WALL_MS`  per sample: CLOCK_MONOTONIC ms, soft-dirty
 *       pages, present pages, the sampler's own CPU ms for this sample, tree PIDs still alive,
 *       and the sample's wall time
 *   `# gone` when every PID has exited (exit status 3)
 * The sampler never takes more than --max-duty of one core (default 10%): after an expensive
 * sample it waits CPU/duty before the next, whatever the interval asks.
 * Counting runs at C speed: the 8-byte entries are sliced into their byte 6 (bit 55 = 0x80)
 * and byte 7 (bit 63 = 0x80, bit 62 = 0x40), mapped to 0/1 bytes by translate(), and ANDed as
 * two big integers whose popcount is the answer.
 */
export const SAMPLER_SCRIPT = String.raw`import os, sys, time, ctypes
PAGE = os.sysconf('SC_PAGE_SIZE')
CHUNK = 65536
SD = bytes(1 if b & 0x80 else 0 for b in range(256))
PS = bytes(1 if b & 0xC0 else 0 for b in range(256))
PR = bytes(1 if b & 0x80 else 0 for b in range(256))
ZERO = bytes(CHUNK * 8)
pop = getattr(int, 'bit_count', None) or (lambda x: bin(x).count('1'))

def count(fd, start, end, acc):
    i, last = start // PAGE, end // PAGE
    while i < last:
        buf = os.pread(fd, min(CHUNK, last - i) * 8, i * 8)
        if not buf:
            return
        i += len(buf) // 8
        if buf == ZERO[:len(buf)]:
            continue
        b6, b7 = buf[6::8], buf[7::8]
        acc[1] += b7.translate(PR).count(1)
        acc[0] += pop(int.from_bytes(b6.translate(SD), 'little') & int.from_bytes(b7.translate(PS), 'little'))

def tracked():
    n = 8
    b = ctypes.create_string_buffer(n * PAGE)
    ctypes.memset(b, 1, n * PAGE)
    a = ctypes.addressof(b)
    first, last = (a + PAGE - 1) // PAGE, (a + n * PAGE) // PAGE
    fd = os.open('/proc/self/pagemap', os.O_RDONLY)
    try:
        buf = os.pread(fd, (last - first) * 8, first * 8)
    finally:
        os.close(fd)
    return any(buf[k + 6] & 0x80 for k in range(0, len(buf), 8))

def sample(pids):
    acc = [0, 0]
    alive = 0
    for pid in pids:
        try:
            with open('/proc/%d/maps' % pid, 'rb') as f:
                ranges = [l.split(None, 1)[0].split(b'-') for l in f.read().splitlines() if l]
            fd = os.open('/proc/%d/pagemap' % pid, os.O_RDONLY)
        except (FileNotFoundError, ProcessLookupError):
            continue
        alive += 1
        try:
            for s, e in ranges:
                try:
                    count(fd, int(s, 16), int(e, 16), acc)
                except OSError:
                    pass
        finally:
            os.close(fd)
    return acc[0], acc[1], alive

def main():
    pids, interval, n, deadline, duty = [], 250, 1, 600000, 0.1
    a = sys.argv[1:]
    while a:
        x = a.pop(0)
        if x == '--interval-ms': interval = int(a.pop(0))
        elif x == '--count': n = int(a.pop(0))
        elif x == '--deadline-ms': deadline = int(a.pop(0))
        elif x == '--max-duty': duty = float(a.pop(0))
        else: pids.append(int(x))
    t0 = time.monotonic()
    end = t0 + min(deadline, 3600000) / 1000.0
    out = sys.stdout
    out.write('# ferry-dirty 1 softdirty=%d page=%d\n' % (tracked(), PAGE))
    out.flush()
    nxt = t0
    for _ in range(max(0, n)):
        w0, c0 = time.monotonic(), time.process_time()
        d, p, alive = sample(pids)
        c1, w1 = time.process_time(), time.monotonic()
        if alive == 0:
            out.write('# gone\n')
            out.flush()
            sys.exit(3)
        cpu = (c1 - c0) * 1000.0
        out.write('S %d %d %d %.2f %d %.2f\n' % (w1 * 1000, d, p, cpu, alive, (w1 - w0) * 1000.0))
        out.flush()
        nxt += max(interval / 1000.0, (c1 - c0) / duty if duty > 0 else 0)
        now = time.monotonic()
        if nxt >= end or now >= end:
            break
        if nxt > now:
            time.sleep(nxt - now)
        else:
            nxt = now

main()
`;

/**
 * The dirty-rate probe's reset, run as `python3 -c CLEAR_SCRIPT PID...`: writes `4` (clear
 * soft-dirty) to each /proc/PID/clear_refs and prints `C MONO_MS` once done. The PIDs are
 * positional arguments, never part of the script.
 */
export const CLEAR_SCRIPT = String.raw`import os, sys, time
for p in sys.argv[1:]:
    with open('/proc/%d/clear_refs' % int(p), 'w') as f:
        f.write('4')
print('C %d' % (time.monotonic() * 1000), flush=True)
`;

export interface SamplerOptions {
  intervalMs?: number;
  count: number;
  deadlineMs?: number;
  /** CPU ceiling, share of one core (0 = none). */
  maxDuty?: number;
}

export function samplerArgv(pids: readonly number[], o: SamplerOptions): string[] {
  if (pids.length === 0) throw new Error('samplerArgv: no PIDs');
  const intervalMs = Math.max(10, Math.round(o.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS));
  const deadlineMs = Math.round(o.deadlineMs ?? intervalMs * o.count + 5000);
  return ['python3', '-c', SAMPLER_SCRIPT, ...pids.map(String), '--interval-ms', String(intervalMs), '--count', String(Math.max(1, Math.round(o.count))), '--deadline-ms', String(deadlineMs), '--max-duty', String(o.maxDuty ?? MAX_DUTY)];
}

export function clearArgv(pids: readonly number[]): string[] {
  if (pids.length === 0) throw new Error('clearArgv: no PIDs');
  return ['python3', '-c', CLEAR_SCRIPT, ...pids.map(String)];
}

/** True when argv writes clear_refs (the journal scan in the lab test uses it too). */
export function touchesClearRefs(argv: readonly string[]): boolean {
  return argv.some((a) => a.includes('clear_refs'));
}

export type SamplerLine =
  | { kind: 'header'; softDirty: boolean; pageSize: number }
  | { kind: 'sample'; monoMs: number; dirtyPages: number; presentPages: number; cpuMs: number; pids: number; wallMs: number }
  | { kind: 'cleared'; monoMs: number }
  | { kind: 'gone' };

export function parseSamplerLine(raw: string): SamplerLine | undefined {
  const line = raw.trim();
  let m = line.match(/^# ferry-dirty 1 softdirty=([01]) page=(\d+)$/);
  if (m) return { kind: 'header', softDirty: m[1] === '1', pageSize: Number(m[2]) };
  m = line.match(/^S (\d+) (\d+) (\d+) (\d+(?:\.\d+)?) (\d+) (\d+(?:\.\d+)?)$/);
  if (m) return { kind: 'sample', monoMs: Number(m[1]), dirtyPages: Number(m[2]), presentPages: Number(m[3]), cpuMs: Number(m[4]), pids: Number(m[5]), wallMs: Number(m[6]) };
  m = line.match(/^C (\d+)$/);
  if (m) return { kind: 'cleared', monoMs: Number(m[1]) };
  if (line === '# gone') return { kind: 'gone' };
  return undefined;
}

/** Cuts a byte stream into lines (chunks may split lines anywhere, even inside UTF-8). */
export class LineSplitter {
  private rest = '';
  private readonly decoder = new TextDecoder();
  push(chunk: Uint8Array): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    return lines;
  }
}

export interface TimedCount {
  /** The sampling host's monotonic clock, ms. */
  monoMs: number;
  dirtyPages: number;
}

/** How far back the live rate looks: long enough to smooth a workload's 100 ms ticks. */
export const RATE_WINDOW_MS = 2000;

/**
 * Pages newly dirtied per second, from the samples since the last pre-dump (oldest first):
 * the growth of the dirty set over the last `windowMs` (at least two samples). Undefined with
 * fewer than two samples. Not clamped at 0: a dirty set that shrinks (memory freed) says so.
 */
export function liveRate(samples: readonly TimedCount[], windowMs = RATE_WINDOW_MS): number | undefined {
  if (samples.length < 2) return undefined;
  const last = samples[samples.length - 1]!;
  let from = samples[samples.length - 2]!;
  for (let k = samples.length - 2; k >= 0; k--) {
    const s = samples[k]!;
    if (last.monoMs - s.monoMs > windowMs) break;
    from = s;
  }
  const dt = (last.monoMs - from.monoMs) / 1000;
  if (dt <= 0) return undefined;
  return (last.dirtyPages - from.dirtyPages) / dt;
}

/** Median of a list (benchmarks). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Rough link speeds the probe's words compare the rate with (bytes per second). */
const GBIT = 1e9 / 8;

/**
 * The probe's result in numbers and words: pages dirtied between the clear and the count,
 * the rate, and what that means for pre-copy (each pre-dump must copy what was dirtied since
 * the last, so pre-copy converges only if the link copies clearly faster than this).
 */
export function probeResult(x: { host: string; pid: number; pids: number[]; clearedAtMonoMs: number; sample: { monoMs: number; dirtyPages: number; presentPages: number } }): DirtyRateProbe {
  const seconds = Math.max(0.001, (x.sample.monoMs - x.clearedAtMonoMs) / 1000);
  const pagesPerSec = x.sample.dirtyPages / seconds;
  const bytesPerSec = pagesPerSec * 4096;
  const mibPerSec = bytesPerSec / 1048576;
  const share = x.sample.presentPages > 0 ? x.sample.dirtyPages / x.sample.presentPages : 0;
  const s = seconds.toFixed(1);
  const parts: string[] = [];
  if (x.sample.dirtyPages === 0) {
    parts.push(`No page was written in ${s} s: pre-copy will converge at once; the final dump copies almost nothing.`);
  } else if (bytesPerSec < 0.1 * GBIT) {
    parts.push(`It dirties ${mibPerSec.toFixed(1)} MiB/s, under a tenth of a 1 Gbit/s link: pre-copy should converge in a few pre-dumps.`);
  } else if (bytesPerSec < 0.5 * GBIT) {
    parts.push(`It dirties ${mibPerSec.toFixed(1)} MiB/s: pre-copy converges on a 1 Gbit/s link or faster, but slowly; each pre-dump copies a sizeable share again.`);
  } else {
    parts.push(`It dirties ${mibPerSec.toFixed(1)} MiB/s, close to or above what a 1 Gbit/s link copies: pre-copy may never converge; expect the final dump to copy most of the dirty set (consider a cold migration or a faster link).`);
  }
  if (share >= 0.9) parts.push(`It rewrote ${Math.round(share * 100)}% of its resident pages within ${s} s, so the true rate may be higher: measure over fewer seconds.`);
  return {
    host: x.host,
    pid: x.pid,
    pids: x.pids,
    seconds,
    dirtyPages: x.sample.dirtyPages,
    presentPages: x.sample.presentPages,
    pagesPerSec,
    bytesPerSec,
    verdict: parts.join(' '),
  };
}
