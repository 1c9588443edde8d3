import type { EngineEvent } from '../../shared/api.ts';
import type { IterationStats } from '../../shared/domain.ts';
import { describeGap } from '../../shared/probe.ts';

const ms = (us?: number) => (us === undefined ? '-' : `${Math.round(us / 1000)} ms`);
const fmtMs = (v?: number) => (v === undefined ? '-' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const rate = (v?: number) => (v === undefined ? '-' : `${Math.round(v)}/s`);
const mbps = (v?: number) => (v === undefined ? '-' : `${(v / 1e6).toFixed(1)} MB/s`);

export const ITERATION_HEADER = ['iter', 'kind', 'pages written', 'skipped', 'frozen', 'dirty rate', 'bandwidth'];

export function iterationRow(it: IterationStats): string[] {
  return [String(it.index), it.kind, String(it.pagesWritten), String(it.pagesSkippedParent), ms(it.frozenTimeUs), rate(it.dirtyPagesPerSec), mbps(it.bandwidthBytesPerSec)];
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * The CLI's live view of a migration: one line per meaningful event, so it reads the same
 * in a terminal, a CI log, or a maintenance-window screen share.
 */
export function describeEvent(e: EngineEvent, opts: { verbose?: boolean } = {}): string | undefined {
  switch (e.type) {
    case 'phase':
      return `== ${e.phase}${e.note ? `: ${e.note}` : ''}`;
    case 'iteration': {
      const s = e.stats;
      return `   ${s.kind} ${s.index}: ${s.pagesWritten} pages written, ${s.pagesSkippedParent} unchanged, frozen ${ms(s.frozenTimeUs)}, dirty ${rate(s.dirtyPagesPerSec)}, bandwidth ${mbps(s.bandwidthBytesPerSec)}`;
    }
    case 'estimate': {
      // Redone every second between pre-dumps from the live dirty set: only when asked.
      if (e.live && !opts.verbose) return undefined;
      const x = e.estimate;
      return `   estimate: freeze ${fmtMs(x.predictedMs)} (${fmtMs(x.lowMs)}–${fmtMs(x.highMs)}) vs budget ${fmtMs(x.budgetMs)} → ${e.recommendation.kind}: ${e.recommendation.reason}`;
    }
    case 'decision':
      return e.action.startsWith('preflight') ? `   ${e.action.replace('preflight ', '').padEnd(4)} ${e.reason}` : `   decision (${e.by}): ${e.action} — ${e.reason}`;
    case 'plan-resolved':
      return `   ${e.note}`;
    case 'rollback-plan':
      return `   rollback will: ${e.steps.join('; ')}`;
    case 'command-started':
      return opts.verbose ? `   $ [${e.host}] ${e.argv.join(' ')}${e.pipeTo ? ` | [${e.pipeTo.host}] ${e.pipeTo.argv.join(' ')}` : ''}` : undefined;
    case 'command-finished':
      return opts.verbose && e.code !== 0 ? `     exit ${e.code ?? e.signal}${e.timedOut ? ' (timed out)' : ''} after ${e.durationMs} ms` : undefined;
    case 'error':
      return `!! ${e.error.host ? `${e.error.host}: ` : ''}${e.error.message}${e.error.evidence ? `\n     why:  ${e.error.evidence}` : ''}${e.error.hint ? `\n     next: ${e.error.hint}` : ''}`;
    case 'transfer':
      // Post-copy's pages, and the restore's (its elapsed time against the prediction is in the label).
      return e.totalBytes && (e.label.startsWith('post-copy') || e.label.startsWith('restore')) ? `   ${e.label}: ${Math.round(e.doneBytes / 4096)} of ${Math.round(e.totalBytes / 4096)} pages (${Math.floor((100 * e.doneBytes) / e.totalBytes)}%)` : undefined;
    case 'outcome':
      return `== ${e.outcome}: ${e.summary}`;
    case 'hook':
      return `   hook (${e.phase}) "${e.name}" on ${e.on}: ${e.outcome}${e.detail ? ` (${e.detail})` : ''}, ${e.durationMs} ms`;
    case 'service-probe':
      // Live views are for the console; the terminal gets the final word.
      return e.live ? undefined : `   service probe: ${describeGap(e.result)}${e.result.note ? ` (${e.result.note})` : ''}`;
    default:
      return undefined;
  }
}
