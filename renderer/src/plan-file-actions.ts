import type { ConsoleApi } from '../../shared/api.ts';
import { toErrorInfo } from '../../shared/errors.ts';
import { planFilePicker } from './api/client.ts';
import { draftToPlan } from './state/plan.ts';
import { afterOpen, afterSave, type PlanFileState } from './state/plan-file.ts';
import { useConsole } from './store.ts';

/** Refusals the user may override by confirming (the file is replaced, its text lost). */
const OVERWRITABLE = new Set(['plan-file-not-a-plan', 'plan-file-has-problems']);

/** Plan file requests; each records its answer in the store's planFile. */
export function createPlanFileActions(api: ConsoleApi, store: typeof useConsole = useConsole, pick = planFilePicker()) {
  const set = store.setState;
  const get = store.getState;
  const patch = (p: Partial<PlanFileState>) => set((s) => ({ planFile: { ...s.planFile, ...p } }));

  const self = {
    /** The native dialog (desktop), or undefined in web mode, where the bar asks for a path. */
    pick,
    async loadRecent() {
      try {
        patch({ recent: await api.request('plan-file.recent', {}) });
      } catch {
        /* the list is a convenience */
      }
    },
    async open(path: string) {
      patch({ busy: 'open', error: undefined, note: undefined });
      try {
        const r = await api.request('plan-file.open', { path });
        set((s) => afterOpen(s.draft, s.planFile, r));
      } catch (e) {
        patch({ busy: undefined, error: toErrorInfo(e) });
      }
      void self.loadRecent();
    },
    /** Save the form to path. Returns false when the form has errors (nothing is sent). */
    async save(path: string, overwrite = false): Promise<boolean> {
      const sent = get().draft;
      const parsed = draftToPlan(sent);
      if (!parsed.ok) {
        patch({ error: { code: 'plan-invalid', message: 'The plan has errors: it was not saved', hint: 'Fix the fields marked in the form, then save again.' }, note: undefined });
        return false;
      }
      patch({ busy: 'save', error: undefined, note: undefined });
      try {
        const r = await api.request('plan-file.save', { path, plan: parsed.plan, overwrite });
        set((s) => ({ planFile: afterSave(sent, s.planFile, r) }));
      } catch (e) {
        const err = toErrorInfo(e);
        patch({ busy: undefined, error: OVERWRITABLE.has(err.code) ? { ...err, overwritePath: path } : err });
      }
      void self.loadRecent();
      return true;
    },
    /** Read the file again, dropping the form's changes. */
    async revert() {
      const p = get().planFile.path;
      if (p) await self.open(p);
    },
    dismiss() {
      patch({ error: undefined, rejected: undefined });
    },
  };
  return self;
}

export type PlanFileActions = ReturnType<typeof createPlanFileActions>;
