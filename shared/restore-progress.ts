/**
 * Progress of a `criu restore` while it runs, from its own log (-v4), and where the freeze
 * window stands against its prediction. Pure: the engine feeds the follower's output in.
 *
 * CRIU 3.17.1 logs every preadv of page images as
 *   "(00.085905)  50000: Read piov iovs 65, from 0, len 11137024, first 0x7f25154b4000:4096"
 * and the lens add up to pages_restored exactly (33861, 33862, 33863 pages in the converging,
 * non-converging and rollback fixtures), so pages loaded = Σ len / 4096.
 */

const PAGE_SIZE = 4096;

export class RestoreLogReader {
  private rest = '';
  private bytes = 0;
  private finished = false;

  /** Feed a chunk of the log (any split: partial lines are kept for the next chunk). */
  feed(chunk: string): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const m = /Read piov iovs \d+, from \d+, len (\d+)/.exec(line);
    if (m) this.bytes += Number(m[1]);
    else if (line.includes('Restore finished successfully')) this.finished = true;
  }

  get pagesLoaded(): number {
    return Math.floor(this.bytes / PAGE_SIZE);
  }

  get complete(): boolean {
    return this.finished;
  }
}

export type WindowState = 'within-prediction' | 'past-prediction' | 'past-band';

/** Where the freeze window stands, `elapsedMs` after it began, against the estimate made at cutover. */
export function windowState(elapsedMs: number, estimate: { predictedMs: number; highMs: number }): WindowState {
  if (elapsedMs > estimate.highMs) return 'past-band';
  if (elapsedMs > estimate.predictedMs) return 'past-prediction';
  return 'within-prediction';
}
