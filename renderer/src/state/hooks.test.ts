import { describe, expect, it } from 'vitest';
import { draftHooks, newHookDraft, type HookDraft } from './hooks.ts';
import { defaultDraft, draftToPlan } from './plan.ts';

const draft = (over: Partial<HookDraft>): HookDraft => ({ ...newHookDraft('before-cutover'), name: 'drain', argv: 'curl\n-fsS\nhttps://lb/drain', ...over });

describe('hook drafts -> plan hooks', () => {
  it('no drafts: no hooks field; drafts: one list per phase, arguments kept whole, default timeout, env only for local', () => {
    expect(draftHooks([])).toEqual({ ok: true, hooks: undefined });
    const r = draftHooks([
      draft({ env: 'LB_TOKEN, OTHER' }),
      draft({ phase: 'on-rollback', name: 'undo', on: 'target', argv: 'sh\n-c\necho "a b"  \n\n', timeoutMs: '', env: 'IGNORED' }),
    ]);
    expect(r).toEqual({
      ok: true,
      hooks: {
        beforeCutover: [{ name: 'drain', on: 'local', argv: ['curl', '-fsS', 'https://lb/drain'], timeoutMs: 30_000, env: ['LB_TOKEN', 'OTHER'] }],
        afterRestore: [],
        onRollback: [{ name: 'undo', on: 'target', argv: ['sh', '-c', 'echo "a b"  '], timeoutMs: 30_000 }],
      },
    });
  });

  it('names the wrong field of the wrong hook, and the plan is refused until fixed', () => {
    const bad = draft({ name: ' ', argv: '', timeoutMs: '700000' });
    const good = draft({ name: 'ok' });
    const r = draftHooks([good, bad]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors).toEqual({ [bad.key]: { name: 'Give the hook a name', argv: 'Give the command, one argument per line', timeoutMs: 'From 100 to 600000 ms' } });
    const env = draft({ env: 'not-a-name' });
    expect(!draftHooks([env]).ok && (draftHooks([env]) as { errors: Record<string, { env?: string }> }).errors[env.key]?.env).toMatch(/environment variable name/);

    const d = { ...defaultDraft(), source: 'a', target: 'b', pid: '42', targetAddress: '10.0.0.2' };
    expect(draftToPlan(d)).toMatchObject({ ok: true });
    expect(draftToPlan(d).ok && (draftToPlan(d) as { plan: object }).plan).not.toHaveProperty('hooks');
    expect(draftToPlan({ ...d, hooks: [bad] })).toEqual({ ok: false, errors: { hooks: 'Fix the hooks marked below' } });
    const withHook = draftToPlan({ ...d, hooks: [good] });
    expect(withHook.ok && withHook.plan.hooks?.beforeCutover.map((h) => h.name)).toEqual(['ok']);
  });
});
