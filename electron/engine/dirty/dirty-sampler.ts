/**
 * Running dirty.ts's programs on a host: the live sampler between pre-dumps and the
 * 'measure dirty rate' probe before any. Every command goes through the CommandRunner (so it
 * is journaled and in the runbook); the sampler's stdout is data, so it is quiet and parsed.
 */
import type { DirtyRateProbe } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import {
  DEFAULT_SAMPLE_INTERVAL_MS,
  LineSplitter,
  PROBE_SECONDS,
  SAMPLER_RUN_MS,
  clearArgv,
  parseSamplerLine,
  probeResult,
  samplerArgv,
  type SamplerLine,
} from './dirty.ts';
import { parsePs, processTree, psArgv } from '../hosts/ps.ts';
import { lastLine, type CommandRunner } from '../commands/runner.ts';
import type { ExecResult } from '../../ssh/index.ts';

export type Sample = Extract<SamplerLine, { kind: 'sample' }>;

/** python3 is not there (a shell's 127, or sudo's own words). */
export function pythonMissing(r: Pick<ExecResult, 'code' | 'stderr'>): boolean {
  return r.code === 127 || /python3.*(not found|No such file)/i.test(r.stderr);
}

const NO_PYTHON = 'python3 is not installed there (the sampler is a short python3 program); install it to see the live dirty set.';
const NO_SOFT_DIRTY = 'this kernel does not track soft-dirty pages (CONFIG_MEM_SOFT_DIRTY is off)';

export interface LiveSamplerOptions {
  run: CommandRunner;
  host: string;
  pids: number[];
  intervalMs?: number;
  /** One sampler command's bound; another starts after it while sampling is still wanted. */
  runMs?: number;
  onSample(s: Sample): void;
  /**
   * Sampling stopped by itself, with the reason in words (not a migration failure);
   * `lasting` when trying again later cannot help (no python3, no soft-dirty).
   */
  onOff(note: string, lasting: boolean): void;
}

/**
 * The live sampler: bounded commands, one after another, until stop(). stop() resolves once
 * the remote program has ended, so nothing reads pagemap when the caller goes on to CRIU.
 */
export class LiveSampler {
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  constructor(private readonly o: LiveSamplerOptions) {
    this.done = this.loop().catch((e) => {
      if (!this.abort.signal.aborted) o.onOff(`Live dirty-set sampling stopped on ${o.host}: the sampler could not run (${e instanceof Error ? e.message : String(e)}).`, false);
    });
  }

  private async loop(): Promise<void> {
    const { run, host, pids } = this.o;
    const intervalMs = this.o.intervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    const runMs = this.o.runMs ?? SAMPLER_RUN_MS;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const lines = new LineSplitter();
      let gone = false;
      let off: string | undefined;
      const r = await run.run(host, samplerArgv(pids, { intervalMs, count: Math.ceil(runMs / intervalMs), deadlineMs: runMs }), {
        quiet: true,
        signal,
        timeoutMs: runMs + 30_000,
        onStdout: (chunk) => {
          for (const raw of lines.push(chunk)) {
            const l = parseSamplerLine(raw);
            if (!l || signal.aborted) continue;
            if (l.kind === 'header' && !l.softDirty) {
              off = NO_SOFT_DIRTY;
              this.abort.abort();
            } else if (l.kind === 'sample') this.o.onSample(l);
            else if (l.kind === 'gone') gone = true;
          }
        },
      });
      if (off) return this.o.onOff(`Live dirty-set sampling is off on ${host}: ${off}.`, true);
      if (signal.aborted) return;
      if (r.code === 0) continue;
      if (gone) return this.o.onOff(`Live dirty-set sampling stopped on ${host}: the process tree exited.`, false);
      if (pythonMissing(r)) return this.o.onOff(`Live dirty-set sampling is off on ${host}: ${NO_PYTHON}`, true);
      return this.o.onOff(`Live dirty-set sampling stopped on ${host}: the sampler exited with ${r.code ?? `signal ${r.signal}`} (${lastLine(r.stderr) || 'no message'}).`, false);
    }
  }

  /** Stop sampling and wait until the remote program has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Parse one program's output; throw the FerryError a user can act on when it did not work. */
function expectLine<K extends SamplerLine['kind']>(host: string, r: ExecResult, kind: K, what: string): Extract<SamplerLine, { kind: K }> {
  if (pythonMissing(r)) throw new FerryError({ code: 'python-missing', host, message: `Cannot measure the dirty rate on ${host}: python3 is not installed there`, hint: 'Install python3 on the source (the probe is a short python3 program).' });
  const lines = r.stdout.split('\n').map(parseSamplerLine);
  const header = lines.find((l) => l?.kind === 'header');
  if (header?.kind === 'header' && !header.softDirty) {
    throw new FerryError({ code: 'soft-dirty-unsupported', host, message: `Cannot measure the dirty rate on ${host}: ${NO_SOFT_DIRTY}`, hint: 'CRIU pre-copy (--track-mem) needs it too: use a cold migration on this host, or a kernel built with CONFIG_MEM_SOFT_DIRTY.' });
  }
  const hit = lines.find((l) => l?.kind === kind);
  if (r.code !== 0 || !hit) {
    throw new FerryError({ code: 'dirty-probe-failed', host, message: `${what} failed on ${host} (exit ${r.code ?? `signal ${r.signal}`})`, evidence: lastLine(r.stderr) || lastLine(r.stdout), hint: 'Is the process still running, and does Ferry have root there?' });
  }
  return hit as Extract<SamplerLine, { kind: K }>;
}

/**
 * The probe: clear the tree's soft-dirty bits, wait `seconds`, count. The caller (the
 * MigrationService) has checked that no pre-dump of this PID has run: the clear would erase
 * CRIU's tracking.
 */
export async function measureDirtyRate(run: CommandRunner, host: string, pid: number, seconds: number, signal?: AbortSignal): Promise<DirtyRateProbe> {
  if (!Number.isInteger(seconds) || seconds < PROBE_SECONDS.min || seconds > PROBE_SECONDS.max) {
    throw new FerryError({ code: 'bad-request', host, message: `The probe waits ${PROBE_SECONDS.min}–${PROBE_SECONDS.max} s, not ${seconds}` });
  }
  const tree = processTree(parsePs((await run.run(host, psArgv, { quiet: true, check: true, what: 'listing processes' })).stdout), pid);
  if (tree.length === 0) throw new FerryError({ code: 'no-such-process', host, message: `No process ${pid} on ${host}`, hint: 'Pick a running process from the list.' });
  const pids = tree.map((p) => p.pid);
  const cleared = expectLine(host, await run.run(host, clearArgv(pids), { quiet: true, timeoutMs: 30_000, signal }), 'cleared', 'Clearing the soft-dirty bits');
  await sleep(seconds * 1000, signal);
  const counted = expectLine(host, await run.run(host, samplerArgv(pids, { count: 1 }), { quiet: true, timeoutMs: 60_000, signal }), 'sample', 'Counting the dirty pages');
  return probeResult({ host, pid, pids, clearedAtMonoMs: cleared.monoMs, sample: counted });
}
