import { create } from 'zustand';
import type { EngineEvent, JournalPictures } from '../../shared/api.ts';
import type {
  DirtyRateProbe,
  HostFacts,
  HostInfo,
  JournalSummary,
  LabStatus,
  MigrationAction,
  PreflightReport,
  ProcessDetail,
  ProcessInfo,
} from '../../shared/domain.ts';
import type { FerryErrorInfo } from '../../shared/errors.ts';
import { applyEvent, emptyEngineState, type EngineState } from './state/engine.ts';
import { defaultDraft, type PlanDraft } from './state/plan.ts';
import { initialPlanFileState, type PlanFileState } from './state/plan-file.ts';

/** A request's result as the UI holds it. */
export type Loadable<T> =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'ok'; value: T }
  | { status: 'error'; error: FerryErrorInfo };

export const idle = { status: 'idle' } as const;
export const loading = { status: 'loading' } as const;

export type View = 'hosts' | 'migrate' | 'history' | 'lab';
export type ThemeChoice = 'system' | 'light' | 'dark';

/** State fed by request results (the event-fed part is EngineState). */
export interface RequestState {
  hosts: Loadable<HostInfo[]>;
  /** The host whose facts the hosts view shows. */
  selectedHost?: string;
  facts: Record<string, Loadable<HostFacts>>;
  processes: Record<string, Loadable<ProcessInfo[]>>;
  inspected: Loadable<ProcessDetail> & { alias?: string; pid?: number };
  draft: PlanDraft;
  /** The plan file the form is tied to (open, save, unsaved changes). */
  planFile: PlanFileState;
  /** The preflight report and the plan (planKey) it was run for. */
  preflight: Loadable<PreflightReport> & { planKey?: string };
  overrideBlockers: boolean;
  starting: boolean;
  journals: Loadable<JournalSummary[]>;
  selectedJournal?: string;
  reports: Record<string, Loadable<string>>;
  runbooks: Record<string, Loadable<string>>;
  /** History with pictures: a past migration's events and freeze phases, by journal id. */
  pictures: Record<string, Loadable<JournalPictures>>;
  lab: Loadable<LabStatus>;
  labBusy?: 'up' | 'down';
  /** The last 'measure dirty rate' probe and what it was asked for. */
  dirtyProbe: Loadable<DirtyRateProbe> & { alias?: string; pid?: number; seconds?: number };
}

export interface UiState {
  view: View;
  theme: ThemeChoice;
  /** The control waiting in its confirmation dialog. */
  confirm?: MigrationAction | 'start';
  /** The engine's answer to the last control request. */
  controlNote?: { action: MigrationAction; accepted: boolean; note: string };
  /** The plan form is shown even though a migration is being followed. */
  planning: boolean;
}

export interface ConsoleState extends EngineState, RequestState, UiState {
  apply(event: EngineEvent): void;
  setError(error?: FerryErrorInfo): void;
  clearTrust(): void;
  setView(view: View): void;
  setTheme(theme: ThemeChoice): void;
  editDraft(patch: Partial<PlanDraft>): void;
  watch(migrationId: string | undefined): void;
  askConfirm(what: MigrationAction | 'start' | undefined): void;
}

export const initialRequestState = (): RequestState => ({
  hosts: idle,
  facts: {},
  processes: {},
  inspected: idle,
  draft: defaultDraft(),
  planFile: initialPlanFileState(),
  preflight: idle,
  overrideBlockers: false,
  starting: false,
  journals: idle,
  reports: {},
  runbooks: {},
  pictures: {},
  lab: idle,
  dirtyProbe: idle,
});

function savedTheme(): ThemeChoice {
  try {
    const t = globalThis.localStorage?.getItem('ferry.theme');
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

/** Console state: fed only by the engine's event stream (apply) and request results (actions.ts). */
export const useConsole = create<ConsoleState>((set) => ({
  ...emptyEngineState(),
  ...initialRequestState(),
  view: 'hosts',
  theme: savedTheme(),
  planning: false,
  apply: (event) => set((s) => applyEvent(s, event)),
  setError: (lastError) => set({ lastError }),
  clearTrust: () => set({ trustPrompt: undefined }),
  setView: (view) => set({ view }),
  setTheme: (theme) => {
    try {
      globalThis.localStorage?.setItem('ferry.theme', theme);
    } catch {
      /* private mode: the choice lasts this session */
    }
    set({ theme });
  },
  editDraft: (patch) => set((s) => ({ draft: { ...s.draft, ...patch } })),
  watch: (watchedMigrationId) => set({ watchedMigrationId, planning: false, controlNote: undefined }),
  askConfirm: (confirm) => set({ confirm }),
}));
