/**
 * The console API: the one contract between the engine and any face (Electron's preload
 * bridge, the web bridge, the CLI). Requests go in, results come back, and the engine
 * pushes a stream of events. Params are validated with zod wherever they cross a process
 * boundary: the renderer is untrusted.
 */
import { z } from 'zod';
import type { FerryErrorInfo } from './errors.ts';
import { interfaceNameProblem, serviceAddressProblem } from './service-address.ts';
import { bytesPerSecondProblem } from './bandwidth-cap.ts';
import type {
  DirtyRateProbe,
  DirtySample,
  DowntimeEstimate,
  HookHost,
  HookPhase,
  HostFacts,
  HostInfo,
  IterationStats,
  JournalSummary,
  LabProgress,
  LabStatus,
  MigrationPlan,
  Phase,
  PortRange,
  ProcessSelector,
  PreflightReport,
  ProcessDetail,
  ProcessInfo,
  Recommendation,
  RestoreStats,
  RollbackPreview,
  ServiceProbeResult,
  SessionState,
} from './domain.ts';
import { PROBE_LIMITS, probeTargetProblem } from './probe.ts';

// Host aliases end up in ssh config lookups, never in a shell; still, keep them to what
// OpenSSH itself accepts in a Host line so nothing odd reaches logs or file names.
const alias = z.string().min(1).max(255).regex(/^[A-Za-z0-9_[][A-Za-z0-9._@:\-[\]]*$/, 'not a valid host alias');
const pid = z.number().int().min(1).max(4_194_304);
const port = z.number().int().min(1).max(65_535);
const id = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'not a valid id');
const argv = z.array(z.string().max(4096).refine((s) => !s.includes('\0'), 'NUL in argument')).min(1).max(256);
const absPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => s.startsWith('/') && !s.includes('\0') && !s.includes('\n'), 'must be an absolute path');

const filePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((s) => !s.includes('\0') && !s.includes('\n'), 'not a file path');

export const healthCheckSchema = z.object({
  kind: z.enum(['none', 'command', 'tcp', 'http']),
  argv: argv.optional(),
  port: port.optional(),
  url: z.string().url().max(2048).optional(),
  expectStatus: z.number().int().min(100).max(599).optional(),
  timeoutMs: z.number().int().min(100).max(600_000).optional(),
});

/** The host name commands on this machine carry in the command log and the journal (local hooks). */
export const LOCAL_HOST = 'local';

/** A hook that hangs must not hold a cutover forever: every hook has a bounded timeout. */
export const HOOK_TIMEOUT = { defaultMs: 30_000, minMs: 100, maxMs: 600_000 } as const;

const envName = z.string().max(255).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name');

export const hookSchema = z
  .object({
    name: z.string().min(1).max(100).regex(/^[^\x00-\x1f\x7f]+$/, 'no control characters or line breaks'),
    on: z.enum(['source', 'target', 'local']),
    argv,
    timeoutMs: z.number().int().min(HOOK_TIMEOUT.minMs).max(HOOK_TIMEOUT.maxMs).default(HOOK_TIMEOUT.defaultMs),
    env: z.array(envName).max(64).optional(),
  })
  .refine((h) => !h.env?.length || h.on === 'local', { message: "only a local hook takes variables from Ferry's environment", path: ['env'] });

export const hooksSchema = z.object({
  beforeCutover: z.array(hookSchema).max(20),
  afterRestore: z.array(hookSchema).max(20),
  onRollback: z.array(hookSchema).max(20),
});

export const policySchema = z.object({
  downtimeBudgetMs: z.number().int().min(1).max(600_000),
  maxIterations: z.number().int().min(1).max(50),
  growthThreshold: z.number().min(0).max(10),
  minPages: z.number().int().min(0),
  onNotConverging: z.enum(['cutover', 'rollback']),
  // Cutover rule: optional, 'band' when absent (old plans stay valid).
  cutoverWhen: z.enum(['band', 'prediction']).optional(),
});

// Service probe (client-visible downtime): off unless given; its rate and life are bounded.
export const serviceProbeSchema = z
  .object({
    kind: z.enum(['tcp', 'http']),
    target: z.string().min(1).max(2048).regex(/^[^\s\x00-\x1f\x7f]+$/, 'no spaces or control characters'),
    // 'local' (this machine) or a host alias to run it on.
    from: alias.default(LOCAL_HOST),
    intervalMs: z.number().int().min(PROBE_LIMITS.intervalMs.min).max(PROBE_LIMITS.intervalMs.max).default(PROBE_LIMITS.intervalMs.default),
    timeoutMs: z.number().int().min(PROBE_LIMITS.timeoutMs.min).max(PROBE_LIMITS.timeoutMs.max).default(PROBE_LIMITS.timeoutMs.default),
  })
  .superRefine((p, ctx) => {
    const problem = probeTargetProblem(p.kind, p.target);
    if (problem) ctx.addIssue({ code: 'custom', path: ['target'], message: problem });
  });

// 'local' names this machine in hooks and the command log: not a migration host.
const migrationHost = alias.refine((a) => a !== LOCAL_HOST, `'${LOCAL_HOST}' is Ferry's name for this machine (local hooks); give the host another alias`);

// --- service address ---
const interfaceName = z.string().superRefine((v, ctx) => {
  const p = interfaceNameProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});
export const serviceAddressSchema = z.object({
  address: z.string().superRefine((v, ctx) => {
    const p = serviceAddressProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
  sourceInterface: interfaceName,
  targetInterface: interfaceName,
});

// --- many migrations at once: selectors and the port range ---
/** A systemd unit name as systemctl takes it (never a shell word): letters, digits, :-_.\@ */
export const unitName = z.string().min(1).max(255).regex(/^[A-Za-z0-9:_.@\\-]+$/, 'not a systemd unit name').refine((s) => !s.startsWith('-'), 'must not start with -');
export const processSelectorSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('unit'), unit: unitName }),
  z.object({ kind: z.literal('pidfile'), path: absPath }),
]) satisfies z.ZodType<ProcessSelector>;
export const portRangeSchema = z
  .object({ first: port, last: port })
  .refine((r) => r.last >= r.first + 1, { message: 'must hold at least two ports (the page server and the guard take a pair)', path: ['last'] }) satisfies z.ZodType<PortRange>;
// --- bandwidth cap ---
export const bandwidthCapSchema = z.object({
  bytesPerSecond: z.number().superRefine((v, ctx) => {
    const p = bytesPerSecondProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
  during: z.enum(['precopy', 'precopy-and-dump']).optional(), // absent means precopy
});

export const planSchema = z.object({
  source: migrationHost,
  target: migrationHost,
  // 0: not known yet, the plan's selector names the process (checked by the engine).
  pid: z.number().int().min(0).max(4_194_304),
  mode: z.enum(['precopy', 'cold', 'postcopy']),
  shellJob: z.boolean(),
  tcpEstablished: z.boolean(),
  policy: policySchema,
  auto: z.boolean(),
  pageServerPort: port,
  targetAddress: z.string().min(1).max(255).regex(/^[A-Za-z0-9.:\-]+$/, 'not an address'),
  workDir: absPath,
  fileSync: z.array(absPath).max(1000),
  healthCheck: healthCheckSchema,
  retention: z.enum(['keep', 'delete-on-commit']),
  hooks: hooksSchema.optional(),
  serviceProbe: serviceProbeSchema.optional(),
  // Preflight inventory.
  fileLocks: z.boolean().optional(),
  extUnixSk: z.boolean().optional(),
  networkLock: z.enum(['auto', 'iptables', 'nftables']).optional(),
  tls: z.boolean().optional(), // absent means on
  serviceAddress: serviceAddressSchema.optional(),
  // Many migrations at once: a process named by unit or pidfile (pid 0 until resolved), the port range.
  select: processSelectorSchema.optional(),
  portRange: portRangeSchema.optional(),
  bandwidthCap: bandwidthCapSchema.optional(),
})
  .superRefine((p, ctx) => {
    if (p.pid === 0 && !p.select) ctx.addIssue({ code: 'custom', path: ['pid'], message: 'must be at least 1 (or name the process by unit or pidfile)' });
  }) satisfies z.ZodType<MigrationPlan>;

/** Every request the UI can make: method name -> params schema. */
export const requestSchemas = {
  'hosts.list': z.object({}),
  'hosts.connect': z.object({ alias }),
  'hosts.disconnect': z.object({ alias }),
  'hosts.trust': z.object({ alias, fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/), accept: z.boolean() }),
  'hosts.facts': z.object({ alias }),
  'processes.list': z.object({ alias }),
  'processes.inspect': z.object({ alias, pid }),
  'preflight.run': z.object({ plan: planSchema }),
  'migration.start': z.object({ plan: planSchema, overrideBlockers: z.boolean().default(false) }),
  'migration.control': z.object({ migrationId: id, action: z.enum(['one-more', 'cutover-now', 'abort', 'rollback']) }),
  'migration.rollbackPreview': z.object({ migrationId: id }),
  // Writes clear_refs on the source: the engine refuses it once a pre-dump of that PID ran.
  'dirty.measure': z.object({ alias, pid, seconds: z.number().int().min(1).max(60) }),
  'journals.list': z.object({}),
  'journals.report': z.object({ id }),
  'journals.runbook': z.object({ id }),
  // History with pictures: a past migration's events (for the dashboard's charts) and its freeze window by phase.
  'journals.pictures': z.object({ id }),
  'lab.status': z.object({}),
  'lab.up': z.object({}),
  'lab.down': z.object({}),
  // Plan files: the engine checks that a path is absolute and a .yaml/.yml file, with a hint.
  'plan-file.open': z.object({ path: filePath }),
  'plan-file.save': z.object({ path: filePath, plan: planSchema, overwrite: z.boolean().default(false) }),
  'plan-file.recent': z.object({}),
} as const;

export type Method = keyof typeof requestSchemas;
export type Params<M extends Method> = z.input<(typeof requestSchemas)[M]>;
export type ParsedParams<M extends Method> = z.output<(typeof requestSchemas)[M]>;

/** History with pictures: the freeze window's phases (ms), measured and as predicted at cutover. */
export interface FreezePhases {
  dump?: number;
  copy?: number;
  restore?: number;
}

/** History with pictures: what the History view draws for a past migration. */
export interface JournalPictures {
  /** The journal's events in order: the renderer reduces them as it does live ones. */
  events: EngineEvent[];
  freeze?: {
    measured: FreezePhases;
    measuredMs?: number;
    /** From the terms of the estimate the cutover was decided on. */
    predicted?: FreezePhases;
    predictedMs?: number;
    budgetMs?: number;
  };
}

/** What each request resolves to. Results flow engine -> face and are trusted. */
export interface Results {
  'hosts.list': HostInfo[];
  'hosts.connect': SessionState;
  'hosts.disconnect': SessionState;
  'hosts.trust': SessionState;
  'hosts.facts': HostFacts;
  'processes.list': ProcessInfo[];
  'processes.inspect': ProcessDetail;
  'preflight.run': PreflightReport;
  'migration.start': { migrationId: string };
  'migration.control': { accepted: boolean; note: string };
  'migration.rollbackPreview': RollbackPreview;
  'dirty.measure': DirtyRateProbe;
  'journals.list': JournalSummary[];
  'journals.report': { markdown: string };
  'journals.runbook': { script: string };
  'journals.pictures': JournalPictures;
  'lab.status': LabStatus;
  'lab.up': LabStatus;
  'lab.down': LabStatus;
  'plan-file.open': PlanFileOpened;
  'plan-file.save': PlanFileSaved;
  'plan-file.recent': RecentPlanFile[];
}

/** One problem in a plan file, where it is (1-based) and the field in the file's words ("" for syntax). */
export interface PlanFileProblem {
  line: number;
  column: number;
  field: string;
  message: string;
  hint?: string;
  /** The file's line the problem is on, verbatim. */
  source?: string;
}

/** A plan file as opened: the plan when it is valid, else its problems (never both). */
export interface PlanFileOpened {
  path: string;
  plan?: MigrationPlan;
  /** The file's text; left out when the file is not a Ferry plan at all. */
  text?: string;
  problems: PlanFileProblem[];
}

export interface PlanFileSaved {
  path: string;
  plan: MigrationPlan;
  text: string;
  /** The file did not exist before. */
  created: boolean;
}

export interface RecentPlanFile {
  path: string;
  /** When it was last opened or saved (ISO time). */
  at: string;
}

/** A command Ferry ran on a host, exactly as it ran: the runbook is built from these. */
export interface CommandRecord {
  commandId: string;
  migrationId?: string;
  host: string;
  argv: string[];
  sudo: boolean;
  startedAt: string;
  /** Set when this command's stdout was piped into a command on another host (image copy). */
  pipeTo?: { host: string; argv: string[]; sudo: boolean };
  /** Set when this command is a user's traffic hook, not one of Ferry's own. */
  hook?: { phase: HookPhase; name: string; on: HookHost; env?: string[] };
}

/** The event stream. Every event a migration produces is journaled before it is emitted. */
export type Outcome = 'committed' | 'rolled-back' | 'failed';

export type EngineEvent =
  | { type: 'session-state'; alias: string; state: SessionState }
  | { type: 'migration-started'; migrationId: string; plan: MigrationPlan; at: string }
  | { type: 'decision'; migrationId: string; by: 'user' | 'policy'; action: string; reason: string; at: string }
  | { type: 'rollback-plan'; migrationId: string; steps: string[]; at: string }
  | {
      type: 'outcome';
      migrationId: string;
      outcome: Outcome;
      at: string;
      /** Host clock, start of the final dump to restore done. */
      freezeWindowMs?: number;
      /** The estimate shown when cutover was decided. */
      predictedMs?: number;
      summary: string;
    }
  | ({ type: 'command-started' } & CommandRecord)
  | { type: 'command-output'; commandId: string; migrationId?: string; stream: 'stdout' | 'stderr'; text: string }
  | {
      type: 'command-finished';
      commandId: string;
      migrationId?: string;
      code: number | null;
      signal: string | null;
      durationMs: number;
      timedOut: boolean;
      endedAt: string;
    }
  | { type: 'phase'; migrationId: string; phase: Phase; at: string; note?: string }
  | { type: 'iteration'; migrationId: string; stats: IterationStats }
  | { type: 'restore-stats'; migrationId: string; stats: RestoreStats }
  | {
      type: 'estimate';
      migrationId: string;
      estimate: DowntimeEstimate;
      recommendation: Recommendation;
      /** Redone between pre-dumps from the live dirty set (not after an iteration). */
      live?: boolean;
    }
  /** Between pre-dumps, a few per second; the journal keeps at most one a second. */
  | ({ type: 'dirty-sample'; migrationId: string } & DirtySample)
  | { type: 'transfer'; migrationId: string; label: string; doneBytes: number; totalBytes?: number }
  | {
      /** One traffic hook run, after its command finished (or could not start). */
      type: 'hook';
      migrationId: string;
      phase: HookPhase;
      name: string;
      on: HookHost;
      /** The command-started record of its run, when it started. */
      commandId?: string;
      outcome: 'ok' | 'failed' | 'timed-out';
      durationMs: number;
      at: string;
      /** Why it failed, in words (exit code, signal, could not start). */
      detail?: string;
    }
  | {
      /**
       * What the service probe saw (client-visible downtime). The journal keeps the final one
       * (summary and runs, never every attempt); live ones go to the UI only.
       */
      type: 'service-probe';
      migrationId: string;
      result: ServiceProbeResult;
      live?: boolean;
      at: string;
    }
  /**
   * Many migrations at once: what preflight fixed on the hosts before anything was dumped: the
   * PID the plan's selector named (and the process lock taken on the source), the page-server
   * port reserved. Replay applies it to the plan.
   */
  | { type: 'plan-resolved'; migrationId: string; pid: number; pageServerPort: number; at: string; note: string }
  | { type: 'lab-progress'; progress: LabProgress }
  | { type: 'error'; error: FerryErrorInfo; migrationId?: string };

export type Unsubscribe = () => void;

/** The one interface every transport implements. */
export interface ConsoleApi {
  request<M extends Method>(method: M, params: Params<M>): Promise<Results[M]>;
  subscribe(listener: (event: EngineEvent) => void): Unsubscribe;
}

/** Wire shape of a reply, shared by the IPC and WebSocket transports. */
export type Reply<T = unknown> = { ok: true; value: T } | { ok: false; error: FerryErrorInfo };

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(requestSchemas, name);
}

/**
 * Validate an untrusted request. Returns the parsed params or a FerryErrorInfo naming
 * the field that is wrong; never throws.
 */
export function parseRequest(
  method: unknown,
  params: unknown,
): { ok: true; method: Method; params: ParsedParams<Method> } | { ok: false; error: FerryErrorInfo } {
  if (!isMethod(method)) {
    return { ok: false, error: { code: 'bad-request', message: `Unknown request ${JSON.stringify(String(method)).slice(0, 80)}` } };
  }
  const parsed = requestSchemas[method].safeParse(params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'params';
    return {
      ok: false,
      error: { code: 'bad-request', message: `Invalid ${method} request: ${where}: ${issue?.message ?? 'invalid'}` },
    };
  }
  return { ok: true, method, params: parsed.data as ParsedParams<Method> };
}

/** Defaults a new plan starts from; documented in the README. */
export const defaultPolicy = {
  downtimeBudgetMs: 300,
  maxIterations: 8,
  growthThreshold: 0.1,
  minPages: 64,
  onNotConverging: 'rollback',
} as const;

/**
 * A plan with Ferry's documented defaults for everything not given: pre-copy, the page
 * server on 27000 at the target's own address, images under /var/lib/ferry (deleted on
 * commit), manual decisions, no health check, no hooks.
 */
export function newPlan(p: Pick<MigrationPlan, 'source' | 'target' | 'pid'> & Partial<MigrationPlan>): MigrationPlan {
  return {
    mode: 'precopy',
    shellJob: false,
    tcpEstablished: false,
    policy: { ...defaultPolicy },
    auto: false,
    pageServerPort: 27000,
    targetAddress: p.target,
    workDir: '/var/lib/ferry',
    fileSync: [],
    healthCheck: { kind: 'none' },
    retention: 'delete-on-commit',
    hooks: { beforeCutover: [], afterRestore: [], onRollback: [] },
    ...p,
  };
}
