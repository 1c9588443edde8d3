import type { MigrationAction, Phase, PreflightReport } from '../../../shared/domain.ts';

/**
 * Which controls make sense in a phase (the engine refuses the others anyway: Migration.control).
 * Before the final dump nothing is frozen, so stopping is an abort; from cutover on, the
 * source is frozen and stopping is a rollback that resumes it.
 */
export function availableActions(phase: Phase | undefined, finished: boolean): Set<MigrationAction> {
  if (!phase || finished) return new Set();
  switch (phase) {
    case 'precopy':
      return new Set(['one-more', 'cutover-now', 'abort', 'rollback']);
    case 'planned':
    case 'preflight':
      return new Set(['abort', 'rollback']);
    case 'cutover':
    case 'restore':
    case 'verify':
      return new Set(['rollback']);
    default:
      return new Set();
  }
}

/** The one stop button the top bar always shows while a migration runs. */
export function stopAction(phase: Phase | undefined, finished: boolean): 'abort' | 'rollback' | undefined {
  const a = availableActions(phase, finished);
  if (a.has('abort')) return 'abort';
  if (a.has('rollback')) return 'rollback';
  return undefined;
}

export type StartReadiness =
  | { ok: true; overridden: boolean }
  | { ok: false; reason: string };

/** Start is allowed for a valid plan whose preflight (for this very plan) found no blocker, or with the override ticked. */
export function startReadiness(input: {
  planOk: boolean;
  planKey?: string;
  preflight?: { status: string; planKey?: string; value?: PreflightReport };
  override: boolean;
  running: boolean;
}): StartReadiness {
  if (input.running) return { ok: false, reason: 'This process is being migrated; roll that migration back or wait for it to finish.' };
  if (!input.planOk) return { ok: false, reason: 'Complete the plan first.' };
  const pf = input.preflight;
  const current = pf && pf.planKey === input.planKey;
  if (input.override) return { ok: true, overridden: true };
  if (!current || pf.status === 'idle') return { ok: false, reason: 'Run preflight for this plan first.' };
  if (pf.status === 'loading') return { ok: false, reason: 'Preflight is running.' };
  if (pf.status !== 'ok' || !pf.value) return { ok: false, reason: 'Preflight did not finish; fix the error or override.' };
  if (pf.value.blockers > 0) return { ok: false, reason: `Preflight found ${pf.value.blockers} blocker(s).` };
  return { ok: true, overridden: false };
}
