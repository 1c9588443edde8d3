import { describe, expect, it } from 'vitest';
import { LazyProgressReader, parseLazyProgress } from './lazy.ts';
import { readText } from './test-fixtures.ts';

const LOG = readText('lazy/target/lazy-pages.log');

describe('post-copy progress from the lazy-pages log (fixtures/criu/lazy)', () => {
  it('reads the whole recorded run: every page arrived', () => {
    expect(parseLazyProgress(LOG)).toEqual({ totalPages: 33547, donePages: 33547, tasksDone: 1, tasks: 1, complete: true });
  });

  it('sums the uffd_copy lengths before the final line: part-way through the run', () => {
    const cut = LOG.indexOf('UFFD transferred pages');
    const part = parseLazyProgress(LOG.slice(0, LOG.lastIndexOf('\n', cut)));
    expect(part.complete).toBe(false);
    expect(part.totalPages).toBe(33547);
    // Everything was copied before CRIU printed its summary; the sum says so too.
    expect(part.donePages).toBe(33547);
    const early = parseLazyProgress(LOG.slice(0, LOG.indexOf('\n', LOG.indexOf('uffd_copy')) + 1));
    expect(early.donePages).toBe(1);
    expect(early.totalPages).toBe(33547);
  });

  it('knows nothing before the daemon heard of a task', () => {
    expect(parseLazyProgress(LOG.slice(0, LOG.indexOf('Found')))).toEqual({ totalPages: 0, donePages: 0, tasksDone: 0, tasks: 0, complete: false });
  });

  it('gives the same answer fed in arbitrary chunks (lines cut in the middle)', () => {
    const r = new LazyProgressReader();
    const checkpoints: number[] = [];
    for (let i = 0; i < LOG.length; i += 7919) {
      r.feed(LOG.slice(i, i + 7919));
      checkpoints.push(r.progress.donePages);
    }
    expect(r.progress).toEqual({ totalPages: 33547, donePages: 33547, tasksDone: 1, tasks: 1 });
    expect(r.complete).toBe(true);
    expect(r.offset).toBe(Buffer.byteLength(LOG));
    // Monotone: progress never goes back.
    expect(checkpoints.every((v, i) => i === 0 || v >= checkpoints[i - 1]!)).toBe(true);
  });
});
