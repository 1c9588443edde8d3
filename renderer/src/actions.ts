import { createContext, useContext } from 'react';
import type { ConsoleApi, Method, Params, Results } from '../../shared/api.ts';
import type { MigrationAction, MigrationPlan, RollbackPreview } from '../../shared/domain.ts';
import { toErrorInfo, type FerryErrorInfo } from '../../shared/errors.ts';
import { planKey } from './state/plan.ts';
import { loading, useConsole, type Loadable } from './store.ts';

type Store = typeof useConsole;

/** Requests to the engine; each one records its result (or error) in the store. */
export function createActions(api: ConsoleApi, store: Store = useConsole) {
  const set = store.setState;
  const get = store.getState;

  async function load<M extends Method>(method: M, params: Params<M>): Promise<Loadable<Results[M]>> {
    try {
      return { status: 'ok', value: await api.request(method, params) };
    } catch (e) {
      return { status: 'error', error: toErrorInfo(e) };
    }
  }

  const self = {
    api,
    async listHosts() {
      // A refresh keeps the current list on screen until the new one arrives.
      if (get().hosts.status !== 'ok') set({ hosts: loading });
      set({ hosts: await load('hosts.list', {}) });
    },
    async connect(alias: string) {
      const r = await load('hosts.connect', { alias });
      // The session's state arrives as an event too; a request that failed outright is shown here.
      if (r.status === 'error') set((s) => ({ sessions: { ...s.sessions, [alias]: { kind: 'failed', error: r.error } } }));
    },
    async disconnect(alias: string) {
      const r = await load('hosts.disconnect', { alias });
      if (r.status === 'error') get().setError(r.error);
    },
    async answerTrust(alias: string, fingerprint: string, accept: boolean) {
      get().clearTrust();
      const r = await load('hosts.trust', { alias, fingerprint, accept });
      if (r.status === 'error') get().setError(r.error);
      // The key is known now: the hosts list says so.
      else if (accept) void self.listHosts();
    },
    async loadFacts(alias: string) {
      set((s) => ({ selectedHost: alias, facts: { ...s.facts, [alias]: loading } }));
      const r = await load('hosts.facts', { alias });
      set((s) => ({ facts: { ...s.facts, [alias]: r } }));
    },
    selectHost(alias: string | undefined) {
      set({ selectedHost: alias });
    },
    async listProcesses(alias: string) {
      set((s) => ({ processes: { ...s.processes, [alias]: loading } }));
      const r = await load('processes.list', { alias });
      set((s) => ({ processes: { ...s.processes, [alias]: r } }));
    },
    async inspect(alias: string, pid: number) {
      set({ inspected: { ...loading, alias, pid } });
      get().editDraft({ pid: String(pid) });
      const r = await load('processes.inspect', { alias, pid });
      // Only the latest selection counts.
      if (get().inspected.pid === pid && get().inspected.alias === alias) set({ inspected: { ...r, alias, pid } });
    },
    async preflight(plan: MigrationPlan) {
      const key = planKey(plan);
      set({ preflight: { ...loading, planKey: key } });
      const r = await load('preflight.run', { plan });
      if (get().preflight.planKey === key) set({ preflight: { ...r, planKey: key } });
    },
    async measureDirtyRate(alias: string, pid: number, seconds: number) {
      set({ dirtyProbe: { ...loading, alias, pid, seconds } });
      const r = await load('dirty.measure', { alias, pid, seconds });
      const cur = get().dirtyProbe;
      // Only the latest request counts.
      if (cur.alias === alias && cur.pid === pid && cur.seconds === seconds) set({ dirtyProbe: { ...r, alias, pid, seconds } });
    },
    setOverride(overrideBlockers: boolean) {
      set({ overrideBlockers });
    },
    async start(plan: MigrationPlan): Promise<FerryErrorInfo | undefined> {
      set({ starting: true });
      const r = await load('migration.start', { plan, overrideBlockers: get().overrideBlockers });
      set({ starting: false });
      if (r.status === 'error') return r.error;
      if (r.status === 'ok') get().watch(r.value.migrationId);
      return undefined;
    },
    async control(migrationId: string, action: MigrationAction): Promise<Loadable<Results['migration.control']>> {
      return load('migration.control', { migrationId, action });
    },
    async rollbackPreview(migrationId: string): Promise<Loadable<RollbackPreview>> {
      return load('migration.rollbackPreview', { migrationId });
    },
    async listJournals() {
      set({ journals: loading });
      set({ journals: await load('journals.list', {}) });
    },
    async openJournal(id: string) {
      set((s) => ({ selectedJournal: id, reports: { ...s.reports, [id]: loading }, runbooks: { ...s.runbooks, [id]: loading }, pictures: { ...s.pictures, [id]: loading } }));
      const [report, runbook, pictures] = await Promise.all([load('journals.report', { id }), load('journals.runbook', { id }), load('journals.pictures', { id })]);
      set((s) => ({
        pictures: { ...s.pictures, [id]: pictures },
        reports: { ...s.reports, [id]: report.status === 'ok' ? { status: 'ok', value: report.value.markdown } : report },
        runbooks: { ...s.runbooks, [id]: runbook.status === 'ok' ? { status: 'ok', value: runbook.value.script } : runbook },
      }));
    },
    async labStatus() {
      set({ lab: loading });
      set({ lab: await load('lab.status', {}) });
    },
    async labUpDown(which: 'up' | 'down') {
      set({ labBusy: which, labProgress: [] });
      const r = await load(which === 'up' ? 'lab.up' : 'lab.down', {});
      set({ labBusy: undefined, lab: r });
    },
  };
  return self;
}

export type Actions = ReturnType<typeof createActions>;

export const ActionsContext = createContext<Actions | null>(null);

export function useActions(): Actions {
  const a = useContext(ActionsContext);
  if (!a) throw new Error('useActions outside ActionsContext');
  return a;
}
