/**
 * A migration's live dirty set: runs the read-only sampler on the source while the migration
 * waits between pre-dumps, turns its lines into 'dirty-sample' events (the journal gets at
 * most one a second, the UI all of them) and asks for a fresh estimate at most once a second.
 */
import type { EngineEvent } from '../../../shared/api.ts';
import { liveRate, type TimedCount } from './dirty.ts';
import { LiveSampler, type Sample } from './dirty-sampler.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** The journal keeps one sample per this many ms; the estimate is redone as often. */
export const JOURNAL_SAMPLE_EVERY_MS = 1000;

export interface LiveDirtyDeps {
  migrationId: string;
  run: CommandRunner;
  host: string;
  /** Journal, then UI. */
  record(e: EngineEvent): void;
  /** UI only. */
  emit(e: EngineEvent): void;
  reestimate(): void;
  intervalMs?: number;
}

export class LiveDirty {
  private sampler?: LiveSampler;
  private since?: number;
  private samples: TimedCount[] = [];
  private last?: { pages: number; atMs: number; since: number };
  private journaledAt = 0;
  private estimatedAt = 0;
  /** Sampling said why it is off once: not again on every iteration. */
  private offNoted = false;
  private off = false;

  constructor(private readonly d: LiveDirtyDeps) {}

  /** Start sampling the tree's dirty set since pre-dump `sinceIteration` ended. */
  start(sinceIteration: number, pids: number[]): void {
    if (this.sampler || this.off) return;
    this.since = sinceIteration;
    this.samples = [];
    this.sampler = new LiveSampler({
      run: this.d.run,
      host: this.d.host,
      pids,
      intervalMs: this.d.intervalMs,
      onSample: (s) => this.onSample(sinceIteration, s),
      onOff: (note, lasting) => {
        // python3 missing or no soft-dirty: the same on every later iteration.
        if (lasting) this.off = true;
        if (this.offNoted) return;
        this.offNoted = true;
        this.d.record({ type: 'decision', migrationId: this.d.migrationId, by: 'policy', action: 'live dirty sampling off', reason: note, at: new Date().toISOString() });
      },
    });
  }

  /** Stop and wait until the remote sampler has ended (before any CRIU step). */
  async stop(): Promise<void> {
    const s = this.sampler;
    this.sampler = undefined;
    await s?.stop();
  }

  /** The latest count, when it is of the dirty set since pre-dump `iteration`. */
  latest(iteration: number | undefined): { pages: number; atMs: number } | undefined {
    if (!this.last || iteration === undefined || this.last.since !== iteration) return undefined;
    return { pages: this.last.pages, atMs: this.last.atMs };
  }

  private onSample(since: number, s: Sample): void {
    if (this.since !== since || !this.sampler) return;
    const atMs = Date.now();
    this.samples.push({ monoMs: s.monoMs, dirtyPages: s.dirtyPages });
    // Only the rate's window is needed; keep the list short on a long wait.
    if (this.samples.length > 64) this.samples.splice(0, this.samples.length - 64);
    const rate = liveRate(this.samples);
    this.last = { pages: s.dirtyPages, atMs, since };
    const e: EngineEvent = {
      type: 'dirty-sample',
      migrationId: this.d.migrationId,
      at: new Date(atMs).toISOString(),
      atMs,
      sinceIteration: since,
      dirtyPages: s.dirtyPages,
      presentPages: s.presentPages,
      ...(rate !== undefined ? { ratePagesPerSec: Math.round(rate * 10) / 10 } : {}),
      samplerCpuMs: s.cpuMs,
    };
    if (atMs - this.journaledAt >= JOURNAL_SAMPLE_EVERY_MS) {
      this.journaledAt = atMs;
      this.d.record(e);
    } else {
      this.d.emit(e);
    }
    if (atMs - this.estimatedAt >= JOURNAL_SAMPLE_EVERY_MS) {
      this.estimatedAt = atMs;
      this.d.reestimate();
    }
  }
}
