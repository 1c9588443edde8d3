import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../shared/errors.ts';
import { decodeStats, dumpStatsAnomalies, type CriuStats } from './stats.ts';
import { critShowsInRunLog, readBytes, readText, walk, type CritShow } from './test-fixtures.ts';

/** crit's snake_case names -> ours, written independently of stats.ts: times get a `Us` suffix. */
function expectedFromCrit(entry: Record<string, unknown>): CriuStats {
  const [kind, fields] = Object.entries(entry)[0] as [string, Record<string, number>];
  const out: Record<string, unknown> = { kind };
  for (const [k, v] of Object.entries(fields)) {
    const camel = k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    // irmap_resolve is a time too (CRIU's stats.c fills it from TIME_IRMAP_RESOLVE).
    out[k.endsWith('_time') || k === 'irmap_resolve' ? `${camel}Us` : camel] = v;
  }
  return out as unknown as CriuStats;
}

const statsFiles = walk().filter((f) => /(^|\/)stats-(dump|restore)$/.test(f));

/** Map each crit decoding to the fixture file it was made from (same VM, longest path suffix). */
function critByFile(): Map<string, CritShow> {
  const map = new Map<string, CritShow>();
  for (const runLog of walk().filter((f) => f.endsWith('run.log'))) {
    const scenario = path.dirname(runLog);
    for (const show of critShowsInRunLog(runLog)) {
      if (show.json.magic !== 'STATS') continue;
      const candidates = statsFiles.filter(
        (f) => f.startsWith(`${scenario}/${show.vm}/`) && show.guestPath!.endsWith(`/${f.slice(scenario.length + (show.vm?.length ?? 0) + 2)}`),
      );
      expect(candidates, `fixture file for crit show ${show.guestPath} on ${show.vm}`).toHaveLength(1);
      map.set(candidates[0]!, show);
    }
  }
  // small-full-dump keeps crit's output as JSON files next to the images.
  for (const json of walk().filter((f) => f.endsWith('/crit/stats-dump.json'))) {
    const image = path.join(path.dirname(path.dirname(json)), 'images', 'stats-dump');
    map.set(image, { source: json, json: JSON.parse(readText(json)) });
  }
  return map;
}

describe('decodeStats on every stats image in the fixtures', () => {
  const byFile = critByFile();
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

  it('finds the images (sanity)', () => {
    expect(statsFiles.length).toBe(19);
    expect(byFile.size).toBe(15);
  });

  it.each(statsFiles)('%s decodes to exactly what crit printed', (file) => {
    const bytes = readBytes(file);
    const decoded = decodeStats(bytes, file);
    let show = byFile.get(file);
    if (!show) {
      // Copies rsynced to the target were not shown by crit; they are byte-identical to a source file that was.
      const twin = [...byFile.keys()].find((f) => same(readBytes(f), bytes));
      if (twin) show = byFile.get(twin);
    }
    if (!show) {
      // rollback/source/1 (a pre-dump) was never shown by crit: check it against its own -v4 log instead.
      expect(file).toBe('rollback/source/1/stats-dump');
      return;
    }
    expect(show.json.magic).toBe('STATS');
    expect(show.json.entries).toHaveLength(1);
    expect(decoded).toEqual(expectedFromCrit(show.json.entries[0]!));
  });

  it('pages_written equals the pages the -v4 log spliced to the page server (covers the one image crit never showed)', () => {
    const logs = walk().filter((f) => /source\/\d+\/(pre-)?dump\.log$/.test(f));
    expect(logs.length).toBe(11);
    for (const log of logs) {
      const spliced = [...readText(log).matchAll(/Splicing \d+ bytes \/ (\d+) pages into socket/g)].reduce((s, m) => s + Number(m[1]), 0);
      const stats = decodeStats(readBytes(path.join(path.dirname(log), 'stats-dump')));
      expect(stats.kind === 'dump' && stats.pagesWritten, log).toBe(spliced);
    }
  });

  it('reads the lab numbers the migration engine relies on', () => {
    const final = decodeStats(readBytes('converging/source/4/stats-dump'));
    expect(final).toMatchObject({ kind: 'dump', frozenTimeUs: 637775, pagesWritten: 2719, pagesSkippedParent: 31142 });
    const restored = decodeStats(readBytes('converging/target/4/stats-restore'));
    expect(restored).toEqual({ kind: 'restore', pagesCompared: 0, pagesSkippedCow: 0, forkingTimeUs: 139, restoreTimeUs: 1087547, pagesRestored: 33861 });
  });

  it('decodes the garbage stats of a --lazy-pages dump without crashing, and flags them', () => {
    const lazy = decodeStats(readBytes('lazy/source/stats-dump'));
    expect(lazy).toMatchObject({ kind: 'dump', frozenTimeUs: 3810034065, pagesWritten: 0, freezingTimeUs: 0 });
    expect(lazy.kind === 'dump' && dumpStatsAnomalies(lazy).length).toBeGreaterThan(0);
    for (const f of statsFiles.filter((f) => f !== 'lazy/source/stats-dump')) {
      const s = decodeStats(readBytes(f));
      if (s.kind === 'dump') expect(dumpStatsAnomalies(s), f).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const HEADER = [0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57];
function image(payload: number[], declared = payload.length): Uint8Array {
  return new Uint8Array([...HEADER, declared & 0xff, (declared >> 8) & 0xff, 0, 0, ...payload]);
}
function failure(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    expect((e as FerryError).code).toBe('stats-image-invalid');
    return e as FerryError;
  }
  throw new Error('expected a FerryError');
}

describe('decodeStats on bad input', () => {
  const good = readBytes('converging/source/1/stats-dump');

  it('refuses a file shorter than the 12-byte header', () => {
    expect(failure(() => decodeStats(good.subarray(0, 8), 'stats-dump')).message).toMatch(/stats-dump: truncated: 8 bytes/);
    expect(failure(() => decodeStats(new Uint8Array())).message).toMatch(/truncated: 0 bytes/);
  });

  it('refuses a payload shorter than announced (a cut copy)', () => {
    const e = failure(() => decodeStats(good.subarray(0, good.length - 5)));
    expect(e.message).toMatch(/announces a 42-byte entry but only 37 bytes follow/);
  });

  it('names the magic it found: inventory.img, a common-magic image, raw pages, text', () => {
    expect(failure(() => decodeStats(readBytes('converging/source/1/inventory.img'))).message).toMatch(/0x58313116.*inventory/);
    const core = failure(() => decodeStats(readBytes('small-full-dump/images/core-50600.img'))).message;
    expect(core).toMatch(/not a CRIU stats image/);
    expect(core).toMatch(/CORE image \(common magic 0x54564319/);
    expect(failure(() => decodeStats(readBytes('converging/source/1/irmap-cache'))).message).toMatch(/IRMAP_CACHE service file/);
    expect(failure(() => decodeStats(readBytes('small-full-dump/images/pages-1.img'))).message).toMatch(/magic 0x08ec8348.*not a CRIU image/);
    expect(failure(() => decodeStats(new TextEncoder().encode('hello, this is text'))).message).toMatch(/not a CRIU stats image/);
  });

  it('refuses malformed varints', () => {
    // dump { frozen_time = <varint cut short> }
    expect(failure(() => decodeStats(image([0x0a, 0x02, 0x10, 0xff]))).message).toMatch(/malformed varint/);
    // an 11-byte varint
    expect(failure(() => decodeStats(image([0x0a, 0x0c, 0x10, ...Array(10).fill(0xff), 0x01]))).message).toMatch(/malformed varint/);
    // a length that runs past the payload
    expect(failure(() => decodeStats(image([0x0a, 0x09, 0x10, 0x01]))).message).toMatch(/runs past the end/);
  });

  it('refuses known fields with the wrong wire type', () => {
    expect(failure(() => decodeStats(image([0x08, 0x01]))).message).toMatch(/stats_entry\.dump \(field 1\) has wire type varint, expected length-delimited/);
    expect(failure(() => decodeStats(image([0x0a, 0x03, 0x12, 0x01, 0x00]))).message).toMatch(/dump\.frozen_time \(field 2\) has wire type length-delimited, expected varint/);
    expect(failure(() => decodeStats(image([0x0a, 0x02, 0x13, 0x00]))).message).toMatch(/frozen_time \(field 2\) has wire type start-group/);
    // an unknown field with a group wire type cannot be skipped safely
    expect(failure(() => decodeStats(image([0x0a, 0x02, 0xfb, 0x01]))).message).toMatch(/field 31 has wire type 3, which is not valid/);
  });

  it('refuses an entry with neither dump nor restore', () => {
    expect(failure(() => decodeStats(image([]))).message).toMatch(/neither dump nor restore/);
  });

  it('keeps absent fields undefined and skips unknown fields of every wire type', () => {
    const unknown = [
      0xf8, 0x01, 0x96, 0x01, // field 31 varint
      0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, // field 31, 64-bit
      0xfa, 0x01, 0x02, 0xaa, 0xbb, // field 31, length-delimited
      0xfd, 0x01, 1, 2, 3, 4, // field 31, 32-bit
    ];
    const dumpMsg = [...unknown, 0x10, 0x05, 0x38, 0x07, ...unknown];
    const s = decodeStats(image([...unknown, 0x0a, dumpMsg.length, ...dumpMsg, ...unknown]));
    expect(s).toEqual({ kind: 'dump', frozenTimeUs: 5, pagesWritten: 7 });
    expect('pagesScanned' in s).toBe(false);
    expect(decodeStats(image([0x12, 0x02, 0x28, 0x03]))).toEqual({ kind: 'restore', pagesRestored: 3 });
  });

  it('keeps the low 32 bits of an oversized uint32 time, like protobuf', () => {
    // frozen_time = 2^32 + 9
    expect(decodeStats(image([0x0a, 0x06, 0x10, 0x89, 0x80, 0x80, 0x80, 0x10]))).toEqual({ kind: 'dump', frozenTimeUs: 9 });
  });
});
