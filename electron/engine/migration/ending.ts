/**
 * How a migration ended, in the user's words: where the process runs now (the source, the
 * target, or "check both hosts by hand" when a rollback could not finish) and the one-sentence
 * summary the journal's outcome, the report and `ferry migrate --json` show. Both are read
 * from one derived ending, so the sentence and the summary's runsOn/unit cannot disagree.
 * Pure: it reads the facts the migration gathered and runs nothing.
 */
import type { Outcome } from '../../../shared/api.ts';
import type { IterationStats, MigrationPlan, Phase, ServiceProbeResult } from '../../../shared/domain.ts';
import type { FerryErrorInfo } from '../../../shared/errors.ts';
import { describeGap } from '../../../shared/probe.ts';
import { commitSummary, type JournaledCutover } from '../journal/recovered.ts';
import type { PostcopyCutover } from './postcopy.ts';

/** What the ending is read from: the migration's state when the outcome is known. */
export interface EndingFacts {
  plan: Pick<MigrationPlan, 'source' | 'target' | 'pid' | 'healthCheck'>;
  phase: Phase;
  /** Post-copy only: its cutover (the point of no return, the pages that followed). */
  postcopy?: Pick<PostcopyCutover, 'pastPointOfNoReturn' | 'pages' | 'lastPageMs'>;
  /** What the last rollback could not undo. */
  rollbackProblems: string[];
  sourceFrozen: boolean;
  /** The systemd scope the restore ran in on the target. */
  scope?: string;
  freezeWindowMs?: number;
  predictedAtCutover?: number;
  /** Recovered commit: what the journal of the interrupted run says about its cutover. */
  recoveredCutover?: JournaledCutover;
  iterations: IterationStats[];
}

export type Ending = 'committed-postcopy' | 'only-on-target' | 'committed' | 'rolled-back' | 'rollback-incomplete' | 'rollback-unchecked' | 'unchanged';

/** Where the process ended, as one state. */
export function ending(f: EndingFacts, outcome: Outcome): Ending {
  if (outcome === 'committed' && f.postcopy) return 'committed-postcopy';
  if (f.postcopy?.pastPointOfNoReturn) return 'only-on-target';
  if (outcome === 'committed') return 'committed';
  if (outcome === 'rolled-back') return 'rolled-back';
  if (f.phase === 'failed' && f.rollbackProblems.length) return 'rollback-incomplete';
  if (f.phase === 'failed' && f.sourceFrozen) return 'rollback-unchecked';
  return 'unchanged';
}

// Evacuating a host: where the process runs at the end (nothing when Ferry cannot tell).
export function whereItRuns(f: EndingFacts, outcome: Outcome): { runsOn?: string; unit?: string } {
  const { source, target } = f.plan;
  switch (ending(f, outcome)) {
    case 'committed':
      return { runsOn: target, ...(f.scope ? { unit: `${f.scope}.scope` } : {}) };
    case 'committed-postcopy':
    case 'only-on-target':
      return { runsOn: target };
    case 'rollback-incomplete':
    case 'rollback-unchecked':
      return {};
    case 'rolled-back':
    case 'unchanged':
      return { runsOn: source };
  }
}

/** A commit without a health check proves only that the process exists. */
function presenceOnly(f: EndingFacts): string {
  return f.plan.healthCheck.kind === 'none' ? " No health check in the plan: only the process's presence on the target was checked." : '';
}

/** The outcome's sentence; with a service probe's result, what clients saw follows it. */
export function endingSummary(f: EndingFacts, outcome: Outcome, error?: FerryErrorInfo, probe?: ServiceProbeResult): string {
  return endingSentence(f, outcome, error) + (probe ? ` ${capitalize(describeGap(probe))}.` : '');
}

function endingSentence(f: EndingFacts, outcome: Outcome, error?: FerryErrorInfo): string {
  const { source, target, pid } = f.plan;
  const why = error ? ` (${error.message})` : '';
  switch (ending(f, outcome)) {
    case 'committed-postcopy':
      return `PID ${pid} now runs on ${target}; freeze window ${f.freezeWindowMs} ms (post-copy: ${f.postcopy!.pages?.total ?? '?'} pages followed, the last ${f.postcopy!.lastPageMs} ms after the freeze began).${presenceOnly(f)}`;
    case 'only-on-target':
      return `Failed${why} after every page arrived: PID ${pid} exists only on ${target}; check it there.`;
    case 'committed':
      // Recovered commit: what the journal knows of the cutover, never "undefined".
      return commitSummary({ pid, target, freezeWindowMs: f.freezeWindowMs, predictedMs: f.predictedAtCutover, preDumps: f.recoveredCutover?.preDumps ?? f.iterations.filter((i) => i.kind === 'pre-dump').length, recovered: !!f.recoveredCutover, unit: f.scope && `${f.scope}.scope` }) + presenceOnly(f);
    case 'rolled-back':
      return `Rolled back${why}: PID ${pid} runs on ${source}; nothing runs on ${target}.`;
    case 'rollback-incomplete':
      return `Failed${why}; rollback incomplete: ${f.rollbackProblems.join('; ')}.`;
    case 'rollback-unchecked':
      return `Failed${why}; rollback incomplete: check ${source} and ${target} by hand.`;
    case 'unchanged':
      return `Failed${why}. Nothing was changed on ${source} or ${target}.`;
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
