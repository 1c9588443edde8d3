/**
 * The plan form's draft (what the user typed) and its translation into a MigrationPlan,
 * validated with the same zod schema the engine uses, so an error shows next to its field
 * before anything is sent.
 */
import { defaultPolicy, planSchema } from '../../../shared/api.ts';
import type { HealthCheck, MigrationPlan } from '../../../shared/domain.ts';
import { draftHooks, type HookDraft } from './hooks.ts';
import { bandwidthProblem, parseBandwidth } from '../../../shared/bandwidth-cap.ts';
import { defaultProbeDraft, draftProbe, PROBE_FIELD_OF, type ProbeDraft } from './probe.ts';

/** The form's fields; the service probe's are in ProbeDraft (state/probe.ts). */
export interface PlanDraft extends ProbeDraft {
  source: string;
  target: string;
  pid: string;
  mode: MigrationPlan['mode'];
  downtimeBudgetMs: string;
  maxIterations: string;
  growthThreshold: string;
  minPages: string;
  onNotConverging: 'cutover' | 'rollback';
  /** Cutover rule: what must fit the budget before auto mode cuts over. */
  cutoverWhen: 'band' | 'prediction';
  auto: boolean;
  targetAddress: string;
  pageServerPort: string;
  workDir: string;
  shellJob: boolean;
  tcpEstablished: boolean;
  // Preflight inventory: criu --file-locks and --ext-unix-sk.
  fileLocks: boolean;
  extUnixSk: boolean;
  /** Page streams over TLS; on by default. */
  tls: boolean;
  /** One absolute path per line. */
  fileSync: string;
  healthKind: HealthCheck['kind'];
  /** One argument per line (command check). */
  healthArgv: string;
  healthPort: string;
  healthUrl: string;
  healthExpectStatus: string;
  healthTimeoutMs: string;
  retention: 'keep' | 'delete-on-commit';
  /** The plan opened from a file: fields the form does not show come from it unchanged. */
  base?: MigrationPlan;
  /** Traffic hooks, in phase order as listed (see HooksEditor). */
  hooks: HookDraft[];
  // --- service address: empty address = none; an empty target interface = the source's.
  serviceAddress: string;
  serviceSourceInterface: string;
  serviceTargetInterface: string;
  // --- many migrations at once: the process by systemd unit or pidfile; the port range ("" = default).
  processBy: 'pid' | 'unit' | 'pidfile';
  /** The unit name or the pidfile's path, as processBy says. */
  selectorValue: string;
  /** "27000-27099", or empty for the port and the 99 after it. */
  portRange: string;
  // --- bandwidth cap: empty = none ("20MiB/s"); the final dump is capped only when asked.
  maxBandwidth: string;
  capFinalDump: boolean;
}

export const DEFAULT_PAGE_SERVER_PORT = 27000;
export const DEFAULT_WORK_DIR = '/var/lib/ferry';

export function defaultDraft(): PlanDraft {
  return {
    source: '',
    target: '',
    pid: '',
    mode: 'precopy',
    downtimeBudgetMs: String(defaultPolicy.downtimeBudgetMs),
    maxIterations: String(defaultPolicy.maxIterations),
    growthThreshold: String(defaultPolicy.growthThreshold),
    minPages: String(defaultPolicy.minPages),
    onNotConverging: defaultPolicy.onNotConverging,
    cutoverWhen: 'band',
    auto: false,
    targetAddress: '',
    pageServerPort: String(DEFAULT_PAGE_SERVER_PORT),
    workDir: DEFAULT_WORK_DIR,
    shellJob: false,
    tcpEstablished: false,
    fileLocks: false,
    extUnixSk: false,
    tls: true,
    fileSync: '',
    healthKind: 'none',
    healthArgv: '',
    healthPort: '',
    healthUrl: '',
    healthExpectStatus: '200',
    healthTimeoutMs: '',
    retention: 'keep',
    hooks: [],
    ...defaultProbeDraft(),
    serviceAddress: '',
    serviceSourceInterface: '',
    serviceTargetInterface: '',
    processBy: 'pid',
    selectorValue: '',
    portRange: '',
    maxBandwidth: '',
    capFinalDump: false,
  };
}

export type DraftField = keyof PlanDraft;
export type PlanErrors = Partial<Record<DraftField, string>>;

/** A number field: empty or not a number stays NaN so zod names the field. */
function num(s: string): number {
  return s.trim() === '' ? Number.NaN : Number(s.trim());
}
function optNum(s: string): number | undefined {
  return s.trim() === '' ? undefined : Number(s.trim());
}
function lines(s: string): string[] {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The schema path of an issue -> the form field that holds it. */
const FIELD_OF: Record<string, DraftField> = {
  source: 'source',
  target: 'target',
  pid: 'pid',
  mode: 'mode',
  'policy.downtimeBudgetMs': 'downtimeBudgetMs',
  'policy.maxIterations': 'maxIterations',
  'policy.growthThreshold': 'growthThreshold',
  'policy.minPages': 'minPages',
  'policy.onNotConverging': 'onNotConverging',
  'policy.cutoverWhen': 'cutoverWhen',
  targetAddress: 'targetAddress',
  pageServerPort: 'pageServerPort',
  workDir: 'workDir',
  fileSync: 'fileSync',
  'healthCheck.argv': 'healthArgv',
  'healthCheck.port': 'healthPort',
  'healthCheck.url': 'healthUrl',
  'healthCheck.expectStatus': 'healthExpectStatus',
  'healthCheck.timeoutMs': 'healthTimeoutMs',
  retention: 'retention',
  ...PROBE_FIELD_OF,
  'serviceAddress.address': 'serviceAddress',
  'serviceAddress.sourceInterface': 'serviceSourceInterface',
  'serviceAddress.targetInterface': 'serviceTargetInterface',
  'select.unit': 'selectorValue',
  'select.path': 'selectorValue',
  portRange: 'portRange',
  'portRange.first': 'portRange',
  'portRange.last': 'portRange',
  'bandwidthCap.bytesPerSecond': 'maxBandwidth',
  bandwidthCap: 'maxBandwidth',
};

function healthCheck(d: PlanDraft): HealthCheck {
  const timeoutMs = optNum(d.healthTimeoutMs);
  const base = timeoutMs === undefined ? {} : { timeoutMs };
  switch (d.healthKind) {
    case 'none':
      return { kind: 'none' };
    case 'command':
      return { kind: 'command', argv: lines(d.healthArgv), ...base };
    case 'tcp':
      return { kind: 'tcp', port: num(d.healthPort), ...base };
    case 'http': {
      // No status key rather than an undefined one: the plan compares equal to the same plan from a file.
      const expectStatus = optNum(d.healthExpectStatus);
      return { kind: 'http', url: d.healthUrl.trim(), ...(expectStatus === undefined ? {} : { expectStatus }), ...base };
    }
  }
}

export function draftToPlan(d: PlanDraft): { ok: true; plan: MigrationPlan } | { ok: false; errors: PlanErrors } {
  const candidate = {
    ...d.base,
    source: d.source,
    target: d.target,
    // With a selector the PID is found on the source at preflight (a number kept from the file stays).
    pid: d.processBy === 'pid' ? num(d.pid) : Number(d.pid) > 0 ? Number(d.pid) : 0,
    mode: d.mode,
    shellJob: d.shellJob,
    tcpEstablished: d.tcpEstablished,
    // Written when on, or when the plan already had them: older plans stay as they were.
    ...(d.fileLocks || d.base?.fileLocks !== undefined ? { fileLocks: d.fileLocks } : {}),
    ...(d.extUnixSk || d.base?.extUnixSk !== undefined ? { extUnixSk: d.extUnixSk } : {}),
    policy: {
      ...d.base?.policy,
      downtimeBudgetMs: num(d.downtimeBudgetMs),
      maxIterations: num(d.maxIterations),
      growthThreshold: num(d.growthThreshold),
      minPages: num(d.minPages),
      onNotConverging: d.onNotConverging,
      // Absent means 'band': only the user's other choice is written into the plan.
      ...(d.cutoverWhen === 'prediction' ? { cutoverWhen: 'prediction' as const } : {}),
    },
    auto: d.auto,
    pageServerPort: num(d.pageServerPort),
    targetAddress: d.targetAddress.trim(),
    workDir: d.workDir.trim(),
    fileSync: lines(d.fileSync),
    healthCheck: healthCheck(d),
    retention: d.retention,
  };
  const errors: PlanErrors = {};
  const hooks = draftHooks(d.hooks);
  // TLS: absent means on, so a plan opened without the key round-trips unchanged.
  delete (candidate as { tls?: boolean }).tls;
  if (!d.tls || d.base?.tls === true) Object.assign(candidate, { tls: d.tls });
  if (!hooks.ok) errors.hooks = 'Fix the hooks marked below';
  else if (hooks.hooks) Object.assign(candidate, { hooks: hooks.hooks });
  // The form is the truth for hooks: removing the last one removes an opened file's hooks too.
  else delete (candidate as { hooks?: unknown }).hooks;
  // Service probe: the form is the truth, like for hooks (off removes an opened file's probe).
  const probe = draftProbe(d);
  if (probe) Object.assign(candidate, { serviceProbe: probe });
  else delete (candidate as { serviceProbe?: unknown }).serviceProbe;
  if (d.probeKind !== 'none' && d.probeTarget.trim() === '') errors.probeTarget = d.probeKind === 'tcp' ? 'Give host:port to probe' : 'Give the URL to probe';
  // --- service address: the form is the truth, like for hooks.
  if (d.serviceAddress.trim()) {
    const src = d.serviceSourceInterface.trim();
    Object.assign(candidate, { serviceAddress: { address: d.serviceAddress.trim(), sourceInterface: src, targetInterface: d.serviceTargetInterface.trim() || src } });
  } else delete (candidate as { serviceAddress?: unknown }).serviceAddress;
  // --- many migrations at once: the form is the truth for the selector and the range.
  if (d.processBy === 'pid') delete (candidate as { select?: unknown }).select;
  else {
    const v = d.selectorValue.trim();
    if (!v) errors.selectorValue = d.processBy === 'unit' ? 'Give the systemd unit, like redis-server.service' : 'Give the pidfile’s absolute path';
    Object.assign(candidate, { select: d.processBy === 'unit' ? { kind: 'unit', unit: v } : { kind: 'pidfile', path: v } });
  }
  const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(d.portRange);
  if (range) Object.assign(candidate, { portRange: { first: Number(range[1]), last: Number(range[2]) } });
  else {
    delete (candidate as { portRange?: unknown }).portRange;
    if (d.portRange.trim()) errors.portRange = 'Two ports with a dash, like 27000-27099';
  }
  // --- bandwidth cap: the form is the truth; an opened plan's implicit 'precopy' stays implicit.
  delete (candidate as { bandwidthCap?: unknown }).bandwidthCap;
  if (d.maxBandwidth.trim()) {
    const bytesPerSecond = parseBandwidth(d.maxBandwidth);
    if (bytesPerSecond === undefined) errors.maxBandwidth = bandwidthProblem(d.maxBandwidth);
    else {
      const implicit = !d.capFinalDump && d.base?.bandwidthCap !== undefined && d.base.bandwidthCap.during === undefined;
      Object.assign(candidate, { bandwidthCap: { bytesPerSecond, ...(implicit ? {} : { during: d.capFinalDump ? 'precopy-and-dump' : 'precopy' }) } });
    }
  }
  if (d.source && d.source === d.target) errors.target = 'Target must be another host than the source';
  if (d.healthKind === 'command' && lines(d.healthArgv).length === 0) errors.healthArgv = 'Give the command, one argument per line';
  if (d.healthKind === 'tcp' && d.healthPort.trim() === '') errors.healthPort = 'Give the port to check';
  if (d.healthKind === 'http' && d.healthUrl.trim() === '') errors.healthUrl = 'Give the URL to check';
  const parsed = planSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.filter((p) => typeof p === 'string').join('.');
      const field = FIELD_OF[key] ?? FIELD_OF[key.split('.').slice(0, 2).join('.')];
      if (field && !errors[field]) errors[field] = issue.message.startsWith('Invalid input: expected number') ? 'Enter a number' : issue.message;
    }
    if (Object.keys(errors).length === 0) errors.source = parsed.error.issues[0]?.message ?? 'Invalid plan';
  }
  if (Object.keys(errors).length > 0 || !parsed.success) return { ok: false, errors };
  return { ok: true, plan: parsed.data };
}

/** A stable key for "the plan this preflight was run for". */
export function planKey(plan: MigrationPlan): string {
  return JSON.stringify(plan);
}
