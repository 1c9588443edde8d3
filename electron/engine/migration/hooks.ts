/**
 * Traffic hooks: the user's commands at a migration's phase boundaries (drain a load
 * balancer before cutover, switch it after restore, undo on rollback), run through the same
 * CommandRunner as Ferry's own commands, on the source, the target or this machine.
 * Each run is recorded twice: as a command (marked with its hook) and as a 'hook' event with
 * its outcome, so the journal, report, runbook and command log tell hooks apart.
 */
import { LOCAL_HOST, type EngineEvent } from '../../../shared/api.ts';
import type { Hook, HookPhase, MigrationPlan, PlanHooks } from '../../../shared/domain.ts';
import { FerryError, toErrorInfo } from '../../../shared/errors.ts';
import { quoteArgv } from '../../ssh/quote.ts';
import { lastLine, type CommandRunner } from '../commands/runner.ts';

export const HOOK_PHASES: readonly HookPhase[] = ['before-cutover', 'after-restore', 'on-rollback'];

const KEY: Record<HookPhase, keyof PlanHooks> = {
  'before-cutover': 'beforeCutover',
  'after-restore': 'afterRestore',
  'on-rollback': 'onRollback',
};

/** The plan's hooks of one phase, in order (none when the plan has no hooks). */
export function hooksOf(plan: MigrationPlan, phase: HookPhase): Hook[] {
  return plan.hooks?.[KEY[phase]] ?? [];
}

/** The host alias a hook runs on ('local' for this machine). */
export function hookHost(plan: MigrationPlan, hook: Hook): string {
  return hook.on === 'local' ? LOCAL_HOST : hook.on === 'source' ? plan.source : plan.target;
}

/** "the on-rollback hook "undrain" on local: curl -X POST ..." (rollback previews, errors). */
export function describeHook(plan: MigrationPlan, phase: HookPhase, hook: Hook): string {
  return `the ${phase} hook "${hook.name}" on ${hookHost(plan, hook)}: ${quoteArgv(hook.argv)}`;
}

export interface HookRun {
  hook: Hook;
  host: string;
  outcome: 'ok' | 'failed' | 'timed-out';
  durationMs: number;
  /** For a failed run: why, in words. */
  detail?: string;
  /** The last line of its stderr (or stdout), for errors. */
  evidence?: string;
}

export interface HookContext {
  plan: MigrationPlan;
  migrationId: string;
  run: CommandRunner;
  record(e: EngineEvent): void;
  /** Ferry's own environment, where a local hook's `env` names are looked up. */
  env: NodeJS.ProcessEnv;
}

/** Run one hook; never throws: a hook that cannot start is a failed run. */
export async function runHook(ctx: HookContext, phase: HookPhase, hook: Hook): Promise<HookRun> {
  const host = hookHost(ctx.plan, hook);
  const started = Date.now();
  let run: HookRun;
  let commandId: string | undefined;
  const missing = (hook.env ?? []).filter((n) => ctx.env[n] === undefined);
  if (missing.length) {
    run = { hook, host, outcome: 'failed', durationMs: 0, detail: `${missing.join(', ')} not set in Ferry's environment` };
  } else {
    const env = hook.on === 'local' && hook.env?.length ? Object.fromEntries(hook.env.map((n) => [n, ctx.env[n]!])) : undefined;
    try {
      const r = await ctx.run.run(host, hook.argv, {
        timeoutMs: hook.timeoutMs,
        env,
        onStart: (id) => (commandId = id),
        hook: { phase, name: hook.name, on: hook.on, ...(hook.env?.length ? { env: hook.env } : {}) },
      });
      const outcome = r.timedOut ? 'timed-out' : r.code === 0 ? 'ok' : 'failed';
      run = {
        hook,
        host,
        outcome,
        durationMs: r.durationMs,
        ...(outcome === 'ok'
          ? {}
          : {
              detail: r.timedOut ? `did not finish within ${formatSeconds(hook.timeoutMs)} and was stopped` : r.code !== null ? `exit ${r.code}` : `killed by signal ${r.signal}`,
              evidence: lastLine(r.stderr) || lastLine(r.stdout) || undefined,
            }),
      };
    } catch (e) {
      run = { hook, host, outcome: 'failed', durationMs: Date.now() - started, detail: toErrorInfo(e).message };
    }
  }
  ctx.record({
    type: 'hook',
    migrationId: ctx.migrationId,
    phase,
    name: hook.name,
    on: hook.on,
    ...(commandId ? { commandId } : {}),
    outcome: run.outcome,
    durationMs: run.durationMs,
    at: new Date().toISOString(),
    ...(run.detail ? { detail: run.detail } : {}),
  });
  return run;
}

/**
 * Run a phase's hooks in order. 'stop' ends at the first failure (before cutover and after
 * restore: what follows would act on a state the failed hook did not reach); 'all' runs
 * every hook whatever happens (on rollback: each undoes its own part).
 */
export async function runHooks(ctx: HookContext, phase: HookPhase, mode: 'stop' | 'all'): Promise<HookRun[]> {
  const runs: HookRun[] = [];
  for (const hook of hooksOf(ctx.plan, phase)) {
    const r = await runHook(ctx, phase, hook);
    runs.push(r);
    if (r.outcome !== 'ok' && mode === 'stop') break;
  }
  return runs;
}

/** A failed run as the error a user can act on; `then` says what Ferry does about it. */
export function hookError(phase: HookPhase, r: HookRun, then: string): FerryError {
  return new FerryError({
    code: r.outcome === 'timed-out' ? 'hook-timeout' : 'hook-failed',
    host: r.host,
    message: `The ${phase} hook "${r.hook.name}" failed on ${r.host}: ${r.detail ?? r.outcome}`,
    evidence: r.evidence,
    hint: then,
  });
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
