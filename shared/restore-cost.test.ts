import { describe, expect, it } from 'vitest';
import { msPerPage, parseDdTotals, restoreMemory, restoreMemoryCheck } from './restore-cost.ts';
import { RestoreLogReader, windowState } from './restore-progress.ts';

const MiB = 1024 * 1024;

// GNU coreutils dd (Debian bookworm) closing lines on stderr, recorded.
const DD_TWO_FILES = `8+0 records in
8+0 records out
8388608 bytes (8.4 MB, 8.0 MiB) copied, 0.0205154 s, 409 MB/s
128+0 records in
128+0 records out
134217728 bytes (134 MB, 128 MiB) copied, 0.5 s, 268 MB/s
`;
const DD_EMPTY = `0+0 records in
0+0 records out
0 bytes copied, 0.000104 s, 0.0 kB/s
`;
const DD_FAILED = `dd: failed to open 'pages-*.img': No such file or directory
`;

describe('parseDdTotals', () => {
  it('sums bytes and seconds over every file dd read', () => {
    expect(parseDdTotals(DD_TWO_FILES)).toEqual({ bytes: 8388608 + 134217728, seconds: 0.5205154 });
  });
  it('reads the short form dd prints for an empty file', () => {
    expect(parseDdTotals(DD_EMPTY)).toEqual({ bytes: 0, seconds: 0.000104 });
  });
  it('is undefined when dd read nothing (no images, killed by timeout)', () => {
    expect(parseDdTotals(DD_FAILED)).toBeUndefined();
    expect(parseDdTotals('')).toBeUndefined();
  });
});

describe('msPerPage', () => {
  it('is ms per 4 KiB page, undefined without bytes or time', () => {
    expect(msPerPage(128 * MiB, 512)).toBeCloseTo(512 / 32768, 9);
    expect(msPerPage(0, 10)).toBeUndefined();
    expect(msPerPage(100, 10)).toBeUndefined();
    expect(msPerPage(4096, 0)).toBeUndefined();
    expect(msPerPage(undefined, undefined)).toBeUndefined();
  });
});

describe('the restore memory cliff', () => {
  // The lab's case (docs/CRIU.md): 1 GiB VMs; MemAvailable on the target ~850 MiB.
  it('a 128 MiB process fits: images + restored process below MemAvailable', () => {
    const m = restoreMemory({ memAvailableBytes: 850 * MiB, imagesBytes: 34354 * 4096 });
    expect(m.fits).toBe(true);
    expect(m.shortBytes).toBe(0);
    expect(m.needBytes).toBe(2 * 34354 * 4096);
    expect(m.detail).toMatch(/268 MiB fit in the target's 850 MiB available/);
  });
  it('a 512 MiB process does not: the detail names the shortfall and the slower rate', () => {
    const m = restoreMemory({ memAvailableBytes: 850 * MiB, imagesBytes: 132755 * 4096 });
    expect(m.fits).toBe(false);
    expect(m.shortBytes).toBe(2 * 132755 * 4096 - 850 * MiB);
    expect(m.detail).toMatch(/1037 MiB do not fit in the target's 850 MiB available \(187 MiB short\).*slower rate/);
  });
  it('the boundary: exactly equal fits; a resident size apart from the images is used when given', () => {
    expect(restoreMemory({ memAvailableBytes: 200 * MiB, imagesBytes: 100 * MiB }).fits).toBe(true);
    expect(restoreMemory({ memAvailableBytes: 200 * MiB - 1, imagesBytes: 100 * MiB }).fits).toBe(false);
    expect(restoreMemory({ memAvailableBytes: 200 * MiB, imagesBytes: 100 * MiB, residentBytes: 150 * MiB }).fits).toBe(false);
  });
  it('preflight: pass, warn with the numbers over the cliff, fail when the process alone does not fit', () => {
    expect(restoreMemoryCheck(850 * MiB, 128 * MiB).status).toBe('pass');
    const w = restoreMemoryCheck(850 * MiB, 512 * MiB);
    expect(w.status).toBe('warn');
    expect(w.detail).toMatch(/1024 MiB do not fit in the target's 850 MiB available \(174 MiB short\)/);
    const f = restoreMemoryCheck(400 * MiB, 512 * MiB);
    expect(f.status).toBe('fail');
    expect(f.detail).toMatch(/needs 512 MiB, the target has 400 MiB available/);
  });
});

// ---------------------------------------------------------------------------------------------
// The restore's own log (fixtures/criu: real `criu restore -v4` logs, CRIU 3.17.1)

const FIXTURES = new URL('../../shared/fixtures/criu/', import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const nodeFs = (): Promise<any> => import(/* @vite-ignore */ ['node', 'fs'].join(':'));

describe('RestoreLogReader (real restore logs)', () => {
  // pages_restored from each run's stats-restore (FACTS.md).
  for (const [log, pages] of [
    ['converging/target/4/restore.log', 33861],
    ['non-converging/target/5/restore.log', 33862],
    ['rollback/target/2/restore.log', 33863],
  ] as const) {
    it(`${log}: pages loaded add up to CRIU's pages_restored (${pages}), in any chunking`, async () => {
      const text: string = (await nodeFs()).readFileSync(new URL(log, FIXTURES), 'utf8');
      for (const size of [7, 4096, text.length]) {
        const r = new RestoreLogReader();
        for (let i = 0; i < text.length; i += size) r.feed(text.slice(i, i + size));
        r.feed('\n');
        expect(r.pagesLoaded).toBe(pages);
      }
      const whole = new RestoreLogReader();
      whole.feed(text);
      // The rollback run's restore loaded every page, then failed (its stdout file was missing).
      expect(whole.complete).toBe(!log.startsWith('rollback'));
    });
  }

  it('a failed restore loads nothing and never completes', async () => {
    const text: string = (await nodeFs()).readFileSync(new URL('failures/b-missing-file/restore.log', FIXTURES), 'utf8');
    const r = new RestoreLogReader();
    r.feed(text);
    expect(r.pagesLoaded).toBe(0);
    expect(r.complete).toBe(false);
  });

  it('progress grows as the log is followed', async () => {
    const text: string = (await nodeFs()).readFileSync(new URL('converging/target/4/restore.log', FIXTURES), 'utf8');
    const lines = text.split('\n');
    const r = new RestoreLogReader();
    r.feed(lines.slice(0, 1502).join('\n') + '\n');
    const early = r.pagesLoaded;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(33861);
    expect(r.complete).toBe(false);
    r.feed(lines.slice(1502).join('\n'));
    expect(r.pagesLoaded).toBe(33861);
    expect(r.complete).toBe(true);
  });
});

describe('windowState', () => {
  const e = { predictedMs: 4000, highMs: 4600 };
  it('within, past the prediction, past the band', () => {
    expect(windowState(3999, e)).toBe('within-prediction');
    expect(windowState(4000, e)).toBe('within-prediction');
    expect(windowState(4001, e)).toBe('past-prediction');
    expect(windowState(4600, e)).toBe('past-prediction');
    expect(windowState(22_200, e)).toBe('past-band');
  });
});
