import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLEAR_SCRIPT,
  LineSplitter,
  SAMPLER_SCRIPT,
  clearArgv,
  liveRate,
  parseSamplerLine,
  probeResult,
  samplerArgv,
  touchesClearRefs,
} from './dirty.ts';

const run = promisify(execFile);

describe('the sampler program is read-only', () => {
  it('opens pagemap and maps read-only and never names clear_refs; only the probe reset does', () => {
    expect(SAMPLER_SCRIPT).not.toContain('clear_refs');
    expect(SAMPLER_SCRIPT).not.toMatch(/O_WRONLY|O_RDWR|'w'|"w"/);
    expect(SAMPLER_SCRIPT).toContain("os.open('/proc/%d/pagemap' % pid, os.O_RDONLY)");
    expect(touchesClearRefs(samplerArgv([50000, 50001], { count: 3 }))).toBe(false);
    expect(touchesClearRefs(clearArgv([50000]))).toBe(true);
    expect(CLEAR_SCRIPT).toContain('clear_refs');
  });

  it('takes PIDs and bounds as positional argv, never inside the script', () => {
    const argv = samplerArgv([50000, 50001], { intervalMs: 250, count: 40 });
    expect(argv.slice(0, 3)).toEqual(['python3', '-c', SAMPLER_SCRIPT]);
    expect(argv.slice(3)).toEqual(['50000', '50001', '--interval-ms', '250', '--count', '40', '--deadline-ms', '15000', '--max-duty', '0.1']);
    expect(clearArgv([7, 8])).toEqual(['python3', '-c', CLEAR_SCRIPT, '7', '8']);
    expect(() => samplerArgv([], { count: 1 })).toThrow();
  });
});

describe('parseSamplerLine and LineSplitter', () => {
  it('reads the lines the real program printed on this machine', () => {
    // Recorded from `python3 -c SAMPLER_SCRIPT <node pid> --count 2 --interval-ms 100`, then a gone PID and the reset.
    const out = '# ferry-dirty 1 softdirty=0 page=4096\nS 10455411 0 21734 31.61 1 114.75\nS 10455550 0 21734 31.67 1 125.52\n# gone\nC 10023800\nnoise\n';
    expect(out.split('\n').map(parseSamplerLine)).toEqual([
      { kind: 'header', softDirty: false, pageSize: 4096 },
      { kind: 'sample', monoMs: 10455411, dirtyPages: 0, presentPages: 21734, cpuMs: 31.61, pids: 1, wallMs: 114.75 },
      { kind: 'sample', monoMs: 10455550, dirtyPages: 0, presentPages: 21734, cpuMs: 31.67, pids: 1, wallMs: 125.52 },
      { kind: 'gone' },
      { kind: 'cleared', monoMs: 10023800 },
      undefined,
      undefined,
    ]);
  });

  it('joins lines cut anywhere between chunks', () => {
    const s = new LineSplitter();
    const text = 'S 1 2 3 4.00 1 5.00\nS 5 6 7 8.00 1 9.00\n';
    const got: string[] = [];
    for (let i = 0; i < text.length; i += 3) got.push(...s.push(Buffer.from(text.slice(i, i + 3))));
    expect(got).toEqual(['S 1 2 3 4.00 1 5.00', 'S 5 6 7 8.00 1 9.00']);
  });
});

describe('liveRate', () => {
  it('is the dirty set growth over the last window of samples', () => {
    const s = [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250, 2500, 2750, 3000].map((ms, k) => ({ monoMs: 10_000 + ms, dirtyPages: k * 250 }));
    expect(liveRate(s)).toBeCloseTo(1000, 6);
    // A set that stops growing: the rate over the window falls to the growth within it.
    const flat = [...s, { monoMs: 13_250, dirtyPages: 3000 }, { monoMs: 15_250, dirtyPages: 3000 }];
    expect(liveRate(flat)).toBe(0);
    expect(liveRate(s.slice(0, 1))).toBeUndefined();
    expect(liveRate([{ monoMs: 5, dirtyPages: 1 }, { monoMs: 5, dirtyPages: 2 }])).toBeUndefined();
  });

  it('uses the two newest samples when they are further apart than the window', () => {
    expect(liveRate([{ monoMs: 0, dirtyPages: 0 }, { monoMs: 5000, dirtyPages: 500 }])).toBe(100);
  });
});

describe('probeResult', () => {
  const base = { host: 'lab-source', pid: 50000, pids: [50000], clearedAtMonoMs: 1000 };
  it('gives pages/s, bytes/s and words that follow the rate', () => {
    const low = probeResult({ ...base, sample: { monoMs: 6000, dirtyPages: 5000, presentPages: 33000 } });
    expect(low.seconds).toBe(5);
    expect(low.pagesPerSec).toBe(1000);
    expect(low.bytesPerSec).toBe(4096000);
    expect(low.verdict).toMatch(/3\.9 MiB\/s.*should converge/);
    const high = probeResult({ ...base, sample: { monoMs: 2000, dirtyPages: 33000, presentPages: 33000 } });
    expect(high.verdict).toMatch(/may never converge/);
    expect(high.verdict).toMatch(/100% of its resident pages/);
    const none = probeResult({ ...base, sample: { monoMs: 3000, dirtyPages: 0, presentPages: 33000 } });
    expect(none.verdict).toMatch(/No page was written/);
  });
});

describe('the counting masks, on a synthetic pagemap', () => {
  it('counts soft-dirty AND (present OR swapped), across chunks, and present pages', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ferry-pagemap-'));
    try {
      const PRESENT = 1n << 63n;
      const SWAPPED = 1n << 62n;
      const SOFT = 1n << 55n;
      // 70 000 entries: more than one 65 536-entry read.
      const n = 70_000;
      const buf = Buffer.alloc(n * 8);
      let dirty = 0;
      let present = 0;
      for (let i = 0; i < n; i++) {
        const kind = i % 7;
        const v = [PRESENT | SOFT | 0x1234n, SWAPPED | SOFT, SOFT, PRESENT, 0n, PRESENT | SOFT, SWAPPED][kind]!;
        if (kind === 0 || kind === 1 || kind === 5) dirty++;
        if (kind === 0 || kind === 3 || kind === 5) present++;
        buf.writeBigUInt64LE(v, i * 8);
      }
      // A zero-filled run (a reserved, never touched mapping), skipped without counting.
      const file = path.join(dir, 'pagemap');
      writeFileSync(file, Buffer.concat([buf, Buffer.alloc(200_000 * 8)]));
      const lib = SAMPLER_SCRIPT.slice(0, SAMPLER_SCRIPT.indexOf('\ndef tracked'));
      const code = `${lib}\nimport sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nacc = [0, 0]\ncount(fd, 0, ${(n + 200_000) * 4096}, acc)\nprint(acc[0], acc[1])\n`;
      const r = await run('python3', ['-c', code, file]);
      expect(r.stdout.trim()).toBe(`${dirty} ${present}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the real sampler against a real local process', () => {
  const MIB = 64;
  let child: ChildProcess;
  beforeAll(async () => {
    // Allocate and touch MIB MiB, then wait to be killed.
    child = spawn('python3', ['-c', `import sys,time\nb=bytearray(${MIB}<<20)\nfor i in range(0,len(b),4096): b[i]=1\nprint('ready',flush=True)\ntime.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
  });

  it('counts at least the touched pages as present, once per sample, and reports its own CPU time', async () => {
    const r = await run('python3', samplerArgv([child.pid!], { intervalMs: 50, count: 3 }).slice(1));
    const lines = r.stdout.trim().split('\n').map(parseSamplerLine);
    const header = lines[0];
    expect(header?.kind).toBe('header');
    const samples = lines.filter((l) => l?.kind === 'sample');
    expect(samples).toHaveLength(3);
    for (const s of samples) {
      expect(s.presentPages).toBeGreaterThanOrEqual(MIB * 256);
      expect(s.cpuMs).toBeGreaterThan(0);
      expect(s.pids).toBe(1);
      // Never cleared: with soft-dirty tracking every written page is dirty; without, none.
      if (header?.kind === 'header' && header.softDirty) expect(s.dirtyPages).toBeGreaterThanOrEqual(MIB * 256);
      else expect(s.dirtyPages).toBe(0);
    }
    expect(samples[2]!.monoMs).toBeGreaterThan(samples[0]!.monoMs);
  });

  it('skips a PID that is gone and stops with "# gone" once all are', async () => {
    const r = await run('python3', samplerArgv([child.pid!, 4_000_000], { intervalMs: 10, count: 1 }).slice(1));
    const s = r.stdout.trim().split('\n').map(parseSamplerLine).find((l) => l?.kind === 'sample');
    expect(s?.kind === 'sample' && s.pids).toBe(1);
    const gone = await run('python3', samplerArgv([4_000_000], { count: 5 }).slice(1)).catch((e: { code: number; stdout: string }) => e);
    expect('code' in gone ? gone.code : 0).toBe(3);
    expect(gone.stdout.trim().split('\n').map(parseSamplerLine)).toEqual([expect.objectContaining({ kind: 'header' }), { kind: 'gone' }]);
  });

  it('ends by itself at its deadline however large its count', async () => {
    const r = await run('python3', samplerArgv([child.pid!], { intervalMs: 100, count: 1_000_000, deadlineMs: 500 }).slice(1), { timeout: 20_000 });
    const n = r.stdout.split('\n').filter((l) => l.startsWith('S ')).length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(6);
  });
});
