/**
 * Progress of a post-copy transfer, read from the `criu lazy-pages -v4` log on the target
 * (CRIU 3.17.1 wording, fixtures/criu/lazy/target/lazy-pages.log):
 *
 *   uffd: 50200-8: Found 33547 pages to be handled by UFFD      (per restored task: the total)
 *   uffd: 50200-8: uffd_copy: 0x7fe338281000/4096               (bytes placed, on demand or in the background)
 *   uffd: 50200-8: UFFD transferred pages: (33547/33547)        (per task, once all its pages arrived)
 *
 * 3.17.1 prints the "transferred" line only at the end, so progress comes from summing the
 * uffd_copy lengths (debug level: the log must be -v4). The sum matched the final line exactly
 * in the recorded run. The lazy dump's own stats-dump is garbage in 3.17.1: never read it.
 */

export const LAZY_PAGE_SIZE = 4096;

export interface LazyProgress {
  /** Pages the daemon has to transfer, over every task it has heard of so far. */
  totalPages: number;
  /** Pages placed so far. */
  donePages: number;
  /** Tasks whose transfer finished ("UFFD transferred pages"), out of `tasks`. */
  tasksDone: number;
  tasks: number;
}

const FOUND = /uffd: (\S+): Found (\d+) pages to be handled by UFFD/;
const COPY = /uffd: (\S+): uffd_copy: 0x[0-9a-f]+\/(\d+)/;
const TRANSFERRED = /uffd: (\S+): UFFD transferred pages: \((\d+)\/(\d+)\)/;

/**
 * Reads the log as it grows, chunk by chunk (a chunk may end mid-line). Pure: feed it text,
 * ask for the progress.
 */
export class LazyProgressReader {
  private rest = '';
  private readonly total = new Map<string, number>();
  private readonly copied = new Map<string, number>();
  private readonly finished = new Set<string>();
  /** Bytes consumed so far, so the caller can ask the host only for what follows. */
  offset = 0;

  feed(chunk: string): this {
    this.offset += Buffer.byteLength(chunk, 'utf8');
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
    return this;
  }

  private line(line: string): void {
    if (!line.includes('uffd: ')) return;
    let m = COPY.exec(line);
    if (m) {
      this.copied.set(m[1]!, (this.copied.get(m[1]!) ?? 0) + Number(m[2]) / LAZY_PAGE_SIZE);
      return;
    }
    if ((m = FOUND.exec(line))) {
      this.total.set(m[1]!, Number(m[2]));
      return;
    }
    if ((m = TRANSFERRED.exec(line))) {
      // CRIU's own count wins over the sum of copies.
      this.copied.set(m[1]!, Number(m[2]));
      this.total.set(m[1]!, Number(m[3]));
      this.finished.add(m[1]!);
    }
  }

  get progress(): LazyProgress {
    let totalPages = 0;
    let donePages = 0;
    for (const [task, n] of this.total) {
      totalPages += n;
      donePages += Math.min(n, Math.floor(this.copied.get(task) ?? 0));
    }
    return { totalPages, donePages, tasksDone: this.finished.size, tasks: this.total.size };
  }

  /** Every task the daemon heard of has all its pages. */
  get complete(): boolean {
    return this.total.size > 0 && this.finished.size === this.total.size;
  }
}

/** Progress of a whole log at once. */
export function parseLazyProgress(log: string): LazyProgress & { complete: boolean } {
  const r = new LazyProgressReader().feed(log.endsWith('\n') ? log : `${log}\n`);
  return { ...r.progress, complete: r.complete };
}

/** The log lines that say a side of a post-copy is ready for the next step. */
export const LAZY_READY = {
  /** The source's lazy dump froze the tree, wrote the metadata and serves pages. */
  dumpServing: 'Starting page server on port',
  /** The target's lazy-pages daemon waits for `criu restore --lazy-pages`. */
  daemonListening: 'Waiting for incoming connections on lazy-pages.socket',
} as const;
