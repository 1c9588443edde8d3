/**
 * The plan form tied to a plan file: a plan from a file as the form's draft, whether the
 * form has changes the file does not, and what opening or saving does to the form. Pure
 * functions; the requests are in plan-file-actions.ts.
 */
import { hooksToDrafts } from './hooks.ts';
import { probeToDraft } from './probe.ts';
import { formatBandwidth } from '../../../shared/bandwidth-cap.ts';
import type { PlanFileOpened, PlanFileProblem, RecentPlanFile } from '../../../shared/api.ts';
import type { MigrationPlan } from '../../../shared/domain.ts';
import type { FerryErrorInfo } from '../../../shared/errors.ts';
import { defaultDraft, type PlanDraft } from './plan.ts';

export interface PlanFileState {
  /** The file the form was last opened from or saved to. */
  path?: string;
  /** The draft as it was when opened or saved: the unsaved-changes marker compares against it. */
  saved: PlanDraft;
  busy?: 'open' | 'save';
  /** The last file that could not be opened as a plan, with every problem; the form is untouched. */
  rejected?: { path: string; problems: PlanFileProblem[]; text?: string };
  /** The last request's error; `overwrite` offers to repeat a refused save over the file. */
  error?: FerryErrorInfo & { overwritePath?: string };
  /** What just happened, for a status line ("Saved …"). */
  note?: string;
  recent: RecentPlanFile[];
}

export function initialPlanFileState(): PlanFileState {
  return { saved: defaultDraft(), recent: [] };
}

const str = (n: number | undefined) => (n === undefined ? '' : String(n));

/**
 * A plan as the form shows it. Every form field is set from the plan; the plan itself is kept
 * as the draft's base, so fields the form does not show are saved back unchanged.
 */
export function planToDraft(plan: MigrationPlan): PlanDraft {
  const hc = plan.healthCheck;
  const d = defaultDraft();
  const draft: PlanDraft = {
    source: plan.source,
    target: plan.target,
    pid: String(plan.pid),
    mode: plan.mode,
    downtimeBudgetMs: String(plan.policy.downtimeBudgetMs),
    maxIterations: String(plan.policy.maxIterations),
    growthThreshold: String(plan.policy.growthThreshold),
    minPages: String(plan.policy.minPages),
    onNotConverging: plan.policy.onNotConverging,
    cutoverWhen: plan.policy.cutoverWhen ?? 'band',
    auto: plan.auto,
    targetAddress: plan.targetAddress,
    pageServerPort: String(plan.pageServerPort),
    workDir: plan.workDir,
    shellJob: plan.shellJob,
    tcpEstablished: plan.tcpEstablished,
    fileLocks: plan.fileLocks ?? false,
    extUnixSk: plan.extUnixSk ?? false,
    tls: plan.tls !== false,
    fileSync: plan.fileSync.join('\n'),
    healthKind: hc.kind,
    healthArgv: (hc.argv ?? []).join('\n'),
    healthPort: str(hc.port),
    healthUrl: hc.url ?? '',
    // An http check without a status keeps none; other kinds keep the form's default for a switch to http.
    healthExpectStatus: hc.kind === 'http' ? str(hc.expectStatus) : d.healthExpectStatus,
    healthTimeoutMs: str(hc.timeoutMs),
    retention: plan.retention,
    hooks: hooksToDrafts(plan.hooks),
    ...probeToDraft(plan.serviceProbe),
    serviceAddress: plan.serviceAddress?.address ?? '',
    serviceSourceInterface: plan.serviceAddress?.sourceInterface ?? '',
    serviceTargetInterface: plan.serviceAddress?.targetInterface ?? '',
    processBy: plan.select ? plan.select.kind : 'pid',
    selectorValue: plan.select ? (plan.select.kind === 'unit' ? plan.select.unit : plan.select.path) : '',
    portRange: plan.portRange ? `${plan.portRange.first}-${plan.portRange.last}` : '',
    maxBandwidth: plan.bandwidthCap ? formatBandwidth(plan.bandwidthCap.bytesPerSecond) : '',
    capFinalDump: plan.bandwidthCap?.during === 'precopy-and-dump',
    base: plan,
  };
  return draft;
}

/** Same form contents (the base plan compared by value). */
export function sameDraft(a: PlanDraft, b: PlanDraft): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof PlanDraft)[]);
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (k === 'hooks') {
      // A hook's key is only its identity in the form; what it does is the rest.
      const content = (hs: PlanDraft['hooks']) => JSON.stringify(hs.map(({ key: _key, ...h }) => h));
      if (content(a.hooks) !== content(b.hooks)) return false;
      continue;
    }
    if (typeof x === 'object' || typeof y === 'object') {
      if (JSON.stringify(x) !== JSON.stringify(y)) return false;
    } else return false;
  }
  return true;
}

export function hasUnsavedChanges(draft: PlanDraft, f: PlanFileState): boolean {
  return !sameDraft(draft, f.saved);
}

/** "web.yaml" for "/home/me/plans/web.yaml". */
export function fileName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The state after an open answered. A valid plan replaces the form and ties it to the file;
 * a bad one only reports its problems and leaves the form and its file as they were.
 */
export function afterOpen(draft: PlanDraft, f: PlanFileState, r: PlanFileOpened): { draft: PlanDraft; planFile: PlanFileState } {
  const base = { ...f, busy: undefined, error: undefined };
  if (!r.plan || r.problems.length) {
    return { draft, planFile: { ...base, rejected: { path: r.path, problems: r.problems, ...(r.text !== undefined ? { text: r.text } : {}) }, note: undefined } };
  }
  const next = planToDraft(r.plan);
  return { draft: next, planFile: { ...base, path: r.path, saved: next, rejected: undefined, note: `Opened ${r.path}` } };
}

/** The plan file state after a save of `sent` (the draft when Save was pressed): the form is tied to that file. */
export function afterSave(sent: PlanDraft, f: PlanFileState, r: { path: string; created: boolean }): PlanFileState {
  return { ...f, busy: undefined, error: undefined, rejected: undefined, path: r.path, saved: sent, note: `${r.created ? 'Saved new file' : 'Saved'} ${r.path}` };
}

/** "7:18" and the field, as a problem is listed next to the file's text. */
export function problemWhere(p: PlanFileProblem): string {
  return `line ${p.line}:${p.column}${p.field ? ` ${p.field}` : ''}`;
}

/** A path typed into the path field, checked before it is sent: absolute, ending in .yaml or .yml. */
export function checkTypedPath(raw: string): { ok: true; path: string } | { ok: false; message: string } {
  const p = raw.trim();
  if (p === '') return { ok: false, message: 'Type the full path of a .yaml file' };
  if (!p.startsWith('/')) return { ok: false, message: 'Give the full path, starting with /' };
  if (!/\.ya?ml$/i.test(p)) return { ok: false, message: 'Plan files end in .yaml or .yml' };
  return { ok: true, path: p };
}
