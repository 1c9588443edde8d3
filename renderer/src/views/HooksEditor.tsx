import { useId, type ReactNode } from 'react';
import { HOOK_TIMEOUT } from '../../../shared/api.ts';
import type { HookPhase } from '../../../shared/domain.ts';
import { draftHooks, HOOK_PHASE_LABELS, newHookDraft, type HookDraft, type HookField } from '../state/hooks.ts';
import { useConsole } from '../store.ts';

const PHASES: HookPhase[] = ['before-cutover', 'after-restore', 'on-rollback'];

function HookRow({ hook, errors, update, remove }: { hook: HookDraft; errors: Partial<Record<HookField, string>>; update: (patch: Partial<HookDraft>) => void; remove: () => void }) {
  const id = useId();
  const field = (f: HookField, label: string, input: ReactNode, hint?: string) => (
    <div className={`field${errors[f] ? ' invalid' : ''}`} data-hook-field={f}>
      <label htmlFor={`${id}-${f}`}>{label}</label>
      {input}
      {errors[f] ? (
        <span className="field-error" role="alert">
          {errors[f]}
        </span>
      ) : (
        hint && <span className="field-hint">{hint}</span>
      )}
    </div>
  );
  const label = hook.name.trim() || 'new hook';
  return (
    <li className="hook" data-testid="hook-draft" data-phase={hook.phase} role="group" aria-label={`${HOOK_PHASE_LABELS[hook.phase].title} hook ${label}`}>
      {field('name', 'Hook name', <input id={`${id}-name`} aria-invalid={!!errors.name} value={hook.name} placeholder="drain load balancer" onChange={(e) => update({ name: e.target.value })} />)}
      {field(
        'on',
        'Runs on',
        <select id={`${id}-on`} value={hook.on} onChange={(e) => update({ on: e.target.value as HookDraft['on'] })}>
          <option value="local">This machine (local)</option>
          <option value="source">Source host</option>
          <option value="target">Target host</option>
        </select>,
        hook.on === 'local' ? 'As the user running Ferry' : 'With Ferry’s privilege on that host',
      )}
      {field(
        'argv',
        'Command (one argument per line)',
        <textarea id={`${id}-argv`} className="mono" rows={3} aria-invalid={!!errors.argv} value={hook.argv} placeholder={'curl\n-fsS\nhttps://lb.example/drain'} onChange={(e) => update({ argv: e.target.value })} />,
        'No shell: for one, write sh, -c and the script on three lines',
      )}
      {field(
        'timeoutMs',
        'Timeout (ms)',
        <input id={`${id}-timeoutMs`} type="number" aria-invalid={!!errors.timeoutMs} value={hook.timeoutMs} onChange={(e) => update({ timeoutMs: e.target.value })} />,
        `Stopped and counted as failed after this; ${HOOK_TIMEOUT.minMs}–${HOOK_TIMEOUT.maxMs}`,
      )}
      {hook.on === 'local' &&
        field(
          'env',
          'Variables from Ferry’s environment',
          <input id={`${id}-env`} className="mono" aria-invalid={!!errors.env} value={hook.env} placeholder="LB_TOKEN" onChange={(e) => update({ env: e.target.value })} />,
          'Names only; their values are never journaled',
        )}
      <div className="hook-actions">
        <button type="button" className="link" onClick={remove}>
          Remove hook
        </button>
      </div>
    </li>
  );
}

/** The plan's traffic hooks, per phase: add, edit, remove. */
export function HooksEditor({ showErrors }: { showErrors: boolean }) {
  const hooks = useConsole((s) => s.draft.hooks);
  const edit = useConsole((s) => s.editDraft);
  const checked = draftHooks(hooks);
  const errors = showErrors && !checked.ok ? checked.errors : {};
  const set = (list: HookDraft[]) => edit({ hooks: list });
  return (
    <fieldset className="hooks-editor" data-testid="hooks-editor">
      <legend>Traffic hooks</legend>
      {PHASES.map((phase) => {
        const mine = hooks.filter((h) => h.phase === phase);
        const { title, when } = HOOK_PHASE_LABELS[phase];
        return (
          <section key={phase} className="hook-phase" data-testid="hook-phase" data-phase={phase} aria-label={`${title} hooks`}>
            <h3>{title}</h3>
            <p className="field-hint">{when}</p>
            {mine.length > 0 && (
              <ol className="hooks">
                {mine.map((h) => (
                  <HookRow
                    key={h.key}
                    hook={h}
                    errors={errors[h.key] ?? {}}
                    update={(patch) => set(hooks.map((x) => (x.key === h.key ? { ...x, ...patch } : x)))}
                    remove={() => set(hooks.filter((x) => x.key !== h.key))}
                  />
                ))}
              </ol>
            )}
            <button type="button" onClick={() => set([...hooks, newHookDraft(phase)])}>
              Add {title.toLowerCase()} hook
            </button>
          </section>
        );
      })}
    </fieldset>
  );
}
