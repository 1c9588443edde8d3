import type { Phase } from '../../../shared/domain.ts';
import { isFinished, type MigrationState } from './engine.ts';

export const MAIN_PATH: readonly Phase[] = ['planned', 'preflight', 'precopy', 'cutover', 'restore', 'verify', 'committed'];
/** Post-copy: no pre-dumps; the process runs on the target while its pages still arrive. */
export const POSTCOPY_PATH: readonly Phase[] = ['planned', 'preflight', 'cutover', 'restore', 'postcopy', 'verify', 'committed'];
export const ROLLBACK_PATH: readonly Phase[] = ['rolling-back', 'rolled-back'];

export const PHASE_LABEL: Record<Phase, string> = {
  planned: 'Planned',
  preflight: 'Preflight',
  precopy: 'Pre-copy',
  cutover: 'Cutover',
  restore: 'Restore',
  postcopy: 'Post-copy',
  verify: 'Verify',
  committed: 'Committed',
  'rolling-back': 'Rolling back',
  'rolled-back': 'Rolled back',
  failed: 'Failed',
};

export type StepStatus = 'done' | 'current' | 'pending' | 'skipped';

export interface TimelineStep {
  phase: Phase;
  label: string;
  status: StepStatus;
  /** When the migration entered this phase (engine clock, ISO), if it did. */
  at?: string;
  note?: string;
}

/**
 * The phase timeline as the dashboard draws it: the main path, and once the migration left
 * it (rollback or failure) the branch it took. Times are the engine's phase event times.
 */
export function timeline(m: MigrationState): TimelineStep[] {
  const reached = new Map<Phase, { at: string; note?: string }>();
  for (const mark of m.phases) reached.set(mark.phase, { at: mark.at, note: mark.note });
  const finished = isFinished(m);
  const branched = m.phases.some((p) => ROLLBACK_PATH.includes(p.phase) || p.phase === 'failed');
  const main = m.plan?.mode === 'postcopy' ? POSTCOPY_PATH : MAIN_PATH;
  const lastMain = Math.max(-1, ...main.map((p, i) => (reached.has(p) ? i : -1)));
  const step = (phase: Phase, i: number, path: readonly Phase[]): TimelineStep => {
    const r = reached.get(phase);
    let status: StepStatus;
    if (r) status = phase === m.phase && !finished ? 'current' : 'done';
    else if (path === main && (i < lastMain || branched)) status = 'skipped';
    else status = 'pending';
    return { phase, label: PHASE_LABEL[phase], status, at: r?.at, note: r?.note };
  };
  const steps = main.map((p, i) => step(p, i, main));
  if (branched) {
    if (reached.has('rolling-back')) steps.push(step('rolling-back', 0, ROLLBACK_PATH));
    if (reached.has('failed')) steps.push(step('failed', 1, ROLLBACK_PATH));
    else steps.push(step('rolled-back', 1, ROLLBACK_PATH));
  }
  return steps;
}
