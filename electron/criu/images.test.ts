import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../shared/errors.ts';
import { decodeStats } from './stats.ts';
import { PE_LAZY, PE_PARENT, PE_PRESENT, decodePagemap, filesToCopyForRestore, identifyImage, readImage, summarizePagemap } from './images.ts';
import { readBytes, readText, walk } from './test-fixtures.ts';

const SMALL = 'small-full-dump/images';
const smallFiles = walk(SMALL).map((f) => path.basename(f));
const critJson = (img: string) => JSON.parse(readText('small-full-dump/crit', `${img}.json`)) as { magic: string; entries: Record<string, unknown>[] };

describe('images of a complete dump (small-full-dump) against crit show', () => {
  const framed = smallFiles.filter((f) => f.endsWith('.img') && !f.startsWith('pages-')).concat('stats-dump');

  it.each(framed)('%s: magic and entry count as crit saw them', (f) => {
    const img = readImage(readBytes(SMALL, f), f);
    const crit = critJson(f);
    expect(img.magicName).toBe(crit.magic);
    expect(img.entries).toHaveLength(crit.entries.length);
    expect(img.trailingBytes).toBe(0);
    expect(identifyImage(f, readBytes(SMALL, f)).magicName).toBe(crit.magic);
  });

  it('pages-1.img is raw memory: identified by name, refused by readImage (crit: "Unknown magic 0x8ec8348")', () => {
    const bytes = readBytes(SMALL, 'pages-1.img');
    expect(identifyImage('pages-1.img', bytes)).toEqual({ name: 'pages-1.img', kind: 'pages', format: 'raw' });
    expect(readText('small-full-dump/crit/pages-1.img.crit-show-error.txt')).toContain('0x8ec8348');
    try {
      readImage(bytes, 'pages-1.img');
      throw new Error('expected a FerryError');
    } catch (e) {
      expect(e).toBeInstanceOf(FerryError);
      expect((e as FerryError).code).toBe('image-invalid');
      expect((e as FerryError).message).toMatch(/0x08ec8348.*raw memory/);
    }
  });

  it('pagemap decodes to crit’s entries, and its pages fill pages-1.img exactly', () => {
    const pm = decodePagemap(readBytes(SMALL, 'pagemap-50600.img'));
    const [head, ...rest] = critJson('pagemap-50600.img').entries;
    expect(pm.pagesId).toBe(head!.pages_id);
    const bits: Record<string, number> = { PE_PARENT, PE_LAZY, PE_PRESENT };
    expect(
      pm.entries.map((e) => ({ vaddr: `0x${e.vaddr.toString(16)}`, nr_pages: e.nrPages, flags: e.flags })),
    ).toEqual(rest.map((e) => ({ vaddr: e.vaddr, nr_pages: e.nr_pages, flags: String(e.flags).split(' | ').reduce((s, n) => s | bits[n]!, 0) })));
    const s = summarizePagemap(pm);
    expect(s.pagesHere * 4096).toBe(readBytes(SMALL, 'pages-1.img').length);
    expect(s).toMatchObject({ totalPages: 30, pagesHere: 30, pagesInParent: 0 });
    expect(decodeStats(readBytes(SMALL, 'stats-dump'))).toMatchObject({ pagesWritten: 30 });
  });

  it('filesToCopyForRestore keeps the metadata only', () => {
    const files = smallFiles.map((name) => ({ name, head: readBytes(SMALL, name).subarray(0, 8) }));
    expect(filesToCopyForRestore(files)).toEqual(smallFiles.filter((f) => f.endsWith('.img') && f !== 'pages-1.img'));
    expect(identifyImage('dump.log').kind).toBe('log');
    expect(identifyImage('stats-dump', readBytes(SMALL, 'stats-dump')).kind).toBe('stats');
    expect(identifyImage('lazy-pages.socket').kind).toBe('socket');
  });
});

describe('other images in the fixtures', () => {
  it('cpuinfo.img is the CPUINFO image crit showed (check/18-crit-cpuinfo.txt)', () => {
    const img = readImage(readBytes('check/cpuinfo/cpuinfo.img'));
    expect(img.magicName).toBe('CPUINFO');
    expect(readText('check/18-crit-cpuinfo.txt')).toContain('"magic": "CPUINFO"');
    expect(img.entries).toHaveLength(1);
  });

  it('every image file in the fixtures is identified (no "other")', () => {
    const imgs = walk().filter((f) => /\.img$|\/stats-(dump|restore)$|\/irmap-cache$/.test(f));
    expect(imgs.length).toBeGreaterThan(100);
    for (const f of imgs) {
      const info = identifyImage(path.basename(f), readBytes(f).subarray(0, 8));
      expect(info.kind, f).not.toBe('other');
      if (info.format === 'common' || info.format === 'inventory') expect(info.magicName, f).toBeDefined();
    }
    expect(identifyImage('irmap-cache', readBytes('converging/source/1/irmap-cache'))).toMatchObject({ kind: 'cache', magicName: 'IRMAP_CACHE' });
  });

  it('page-server pagemaps: the final dir holds what the final dump wrote, the rest is in the parent chain', () => {
    for (const [dir, dumpStats, restoreStats] of [
      ['converging/target/4', 'converging/source/4/stats-dump', 'converging/target/4/stats-restore'],
      ['non-converging/target/5', 'non-converging/source/5/stats-dump', 'non-converging/target/5/stats-restore'],
    ] as const) {
      const name = walk(dir).map((f) => path.basename(f)).find((f) => f.startsWith('pagemap-'))!;
      const s = summarizePagemap(decodePagemap(readBytes(dir, name)));
      const d = decodeStats(readBytes(dumpStats));
      const r = decodeStats(readBytes(restoreStats));
      expect(d.kind === 'dump' && s.pagesHere, dir).toBe(d.kind === 'dump' && d.pagesWritten);
      expect(d.kind === 'dump' && s.pagesInParent, dir).toBe(d.kind === 'dump' && d.pagesSkippedParent);
      // restore counts each page once, wherever in the chain it lives
      expect(r.kind === 'restore' && r.pagesRestored, dir).toBeGreaterThanOrEqual(s.totalPages);
    }
  });

  it('a --lazy-pages dump keeps only the non-lazy pages; the daemon transfers the rest', () => {
    const s = summarizePagemap(decodePagemap(readBytes('lazy/source/pagemap-50200.img')));
    const restored = decodeStats(readBytes('lazy/target/stats-restore'));
    expect(restored.kind === 'restore' && restored.pagesRestored).toBe(s.pagesHere);
    const transferred = /UFFD transferred pages: \((\d+)\/(\d+)\)/.exec(readText('lazy/target/lazy-pages.log'));
    expect(s.pagesLazy).toBe(Number(transferred?.[2]));
    expect(s).toEqual({ totalPages: 33861, pagesHere: 314, pagesInParent: 0, pagesLazy: 33547 });
  });
});
