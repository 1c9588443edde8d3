/**
 * The plan form's traffic hooks as the user types them, and their translation into the
 * plan's hooks, checked with the same zod schema the engine uses (errors per hook field).
 */
import { HOOK_TIMEOUT, hookSchema } from '../../../shared/api.ts';
import type { Hook, HookPhase, PlanHooks } from '../../../shared/domain.ts';

export interface HookDraft {
  /** Stable identity for React lists and error lookup. */
  key: string;
  phase: HookPhase;
  name: string;
  on: Hook['on'];
  /** One argument per line. */
  argv: string;
  /** Milliseconds; empty means the default. */
  timeoutMs: string;
  /** Variable names (local hooks), separated by spaces, commas or lines. */
  env: string;
}

export type HookField = 'name' | 'on' | 'argv' | 'timeoutMs' | 'env';
export type HookErrors = Record<string, Partial<Record<HookField, string>>>;

export const HOOK_PHASE_LABELS: Record<HookPhase, { title: string; when: string }> = {
  'before-cutover': {
    title: 'Before cutover',
    when: 'After the decision to cut over, before the final dump (the source still runs). One failing aborts the cutover and rolls back.',
  },
  'after-restore': {
    title: 'After restore',
    when: 'Once the target is verified, before commit. One failing rolls back (the target was never in service).',
  },
  'on-rollback': {
    title: 'On rollback',
    when: 'In a rollback after any hook started, once the process runs on the source again. All run; failures are reported.',
  },
};

const PLAN_KEY: Record<HookPhase, keyof PlanHooks> = { 'before-cutover': 'beforeCutover', 'after-restore': 'afterRestore', 'on-rollback': 'onRollback' };

let next = 0;
export function newHookDraft(phase: HookPhase): HookDraft {
  next += 1;
  return { key: `hook-${Date.now().toString(36)}-${next}`, phase, name: '', on: 'local', argv: '', timeoutMs: String(HOOK_TIMEOUT.defaultMs), env: '' };
}

/** A plan's hooks as the form shows them, in phase order. */
export function hooksToDrafts(hooks: PlanHooks | undefined): HookDraft[] {
  if (!hooks) return [];
  return (Object.keys(PLAN_KEY) as HookPhase[]).flatMap((phase) =>
    hooks[PLAN_KEY[phase]].map((h) => ({
      ...newHookDraft(phase),
      name: h.name,
      on: h.on,
      argv: h.argv.join('\n'),
      timeoutMs: String(h.timeoutMs),
      env: (h.env ?? []).join(' '),
    })),
  );
}

function lines(s: string): string[] {
  // Arguments keep their inner spaces; only empty lines are dropped.
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** The drafts as the plan's hooks (undefined when there are none), or the errors per hook field. */
export function draftHooks(drafts: readonly HookDraft[]): { ok: true; hooks: PlanHooks | undefined } | { ok: false; errors: HookErrors } {
  if (!drafts.length) return { ok: true, hooks: undefined };
  const hooks: PlanHooks = { beforeCutover: [], afterRestore: [], onRollback: [] };
  const errors: HookErrors = {};
  for (const d of drafts) {
    const env = d.env.split(/[\s,]+/).filter(Boolean);
    const t = d.timeoutMs.trim();
    const candidate = {
      name: d.name.trim(),
      on: d.on,
      argv: lines(d.argv),
      timeoutMs: t === '' ? HOOK_TIMEOUT.defaultMs : Number(t),
      ...(d.on === 'local' && env.length ? { env } : {}),
    };
    const mine: Partial<Record<HookField, string>> = {};
    if (!candidate.name) mine.name = 'Give the hook a name';
    if (!candidate.argv.length) mine.argv = 'Give the command, one argument per line';
    const parsed = hookSchema.safeParse(candidate);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const f = issue.path[0] === 'argv' ? 'argv' : (issue.path[0] as HookField | undefined);
        if (f && !mine[f]) mine[f] = f === 'timeoutMs' ? `From ${HOOK_TIMEOUT.minMs} to ${HOOK_TIMEOUT.maxMs} ms` : issue.message;
      }
    }
    if (Object.keys(mine).length || !parsed.success) errors[d.key] = mine;
    else hooks[PLAN_KEY[d.phase]].push(parsed.data);
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, hooks };
}
