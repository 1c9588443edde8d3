/**
 * Ferry's domain, as the console shows it. Plain data only: these types cross IPC and
 * WebSocket and are written to journals, so nothing here holds a function or a class.
 */
import type { FerryErrorInfo } from './errors.ts';
import type { BandwidthCapPlan } from './bandwidth-cap.ts';

/** A host as the user names it: an alias from ~/.ssh/config or Ferry's own ssh_config. */
export interface HostInfo {
  alias: string;
  user: string;
  hostname: string;
  port: number;
  /** A jump chain from ProxyJump, outermost first. */
  proxyJump: string[];
  /** True when a host key for it is already in a known_hosts file. */
  keyKnown: boolean;
  /** True for the rehearsal lab's two VMs. */
  lab: boolean;
  /** Migration addresses: where other hosts reach it for migration traffic (FerryMigrationAddress in Ferry's ssh_config). */
  migrationAddress?: string;
}

export interface TrustPrompt {
  alias: string;
  host: string;
  port: number;
  keyType: string;
  /** Exactly as `ssh-keygen -lf` prints it: 'SHA256:' + unpadded base64. */
  fingerprint: string;
}

/** One SSH connection's life, as the session reports it. */
export type SessionState =
  | { kind: 'idle' }
  | { kind: 'connecting' }
  | { kind: 'awaiting-trust'; prompt: TrustPrompt }
  | { kind: 'ready' }
  | { kind: 'reconnecting'; attempt: number; delayMs: number; reason: string }
  | { kind: 'failed'; error: FerryErrorInfo }
  | { kind: 'closed' };

/** What Ferry learned about a host's readiness to run CRIU. */
export interface HostFacts {
  alias: string;
  kernel: string;
  criuVersion?: string;
  /** `criu check` ended with "Looks good." */
  criuCheckOk?: boolean;
  features: Record<string, 'supported' | 'unsupported' | 'unknown-feature'>;
  isRoot: boolean;
  /** Privilege Ferry will use for CRIU on this host. */
  privilege: 'root' | 'sudo' | 'none';
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  sid: number;
  user: string;
  /** Resident set size in KiB, as ps reports it. */
  rssKiB: number;
  state: string;
  command: string;
}

export interface ProcessDetail extends ProcessInfo {
  /** The process and its descendants, as CRIU will dump them. */
  tree: ProcessInfo[];
  openFiles: OpenFile[];
  sessionLeader: boolean;
}

export interface OpenFile {
  pid: number;
  fd: number;
  path: string;
  /** Regular files must exist on the target with the same size for CRIU to restore. */
  kind: 'regular' | 'socket' | 'pipe' | 'device' | 'anon' | 'other';
  size?: number;
}

/**
 * postcopy: freeze, move the metadata, run on the target at once; pages follow on demand
 * (CRIU lazy pages). Until the last page arrives the process is lost if the source dies.
 */
export type MigrationMode = 'precopy' | 'cold' | 'postcopy';

/** The modes whose process depends on the source until the last page arrived. */
export const POSTCOPY_MODES: readonly MigrationMode[] = ['postcopy'];

/** What the user must accept before a post-copy migration starts, in their words. */
export function postcopyRisk(source: string, target: string): string {
  return `Post-copy runs the process on ${target} before all its memory arrived: if ${source} dies or the link between them drops before the last page arrives, the process is lost on both hosts.`;
}

export interface HealthCheck {
  kind: 'none' | 'command' | 'tcp' | 'http';
  /** command: argv run on the target; tcp: port; http: url and expected status. */
  argv?: string[];
  port?: number;
  url?: string;
  expectStatus?: number;
  timeoutMs?: number;
}

export interface ConvergencePolicy {
  /** The freeze window the user accepts at cutover. */
  downtimeBudgetMs: number;
  maxIterations: number;
  /** Not converging when pages written grew by more than this fraction. */
  growthThreshold: number;
  /** Stop pre-copying when an iteration writes this few pages or fewer. */
  minPages: number;
  /**
   * What auto mode does when pre-copy stops converging: cut over anyway (the freeze
   * will exceed the budget) or roll back. Manual mode always waits for the user.
   */
  onNotConverging: 'cutover' | 'rollback';
  /**
   * Cutover rule: what must fit the budget before auto mode cuts over. 'band'
   * (default): the band's upper edge, so a cutover never blows the budget silently;
   * 'prediction': the point prediction, as QEMU compares its expected downtime.
   */
  cutoverWhen?: 'band' | 'prediction';
}

/** Where a traffic hook runs: on a migration host (with Ferry's privilege there) or on this machine. */
export type HookHost = 'source' | 'target' | 'local';

/** A user's command at a phase boundary (drain a load balancer, switch DNS, undo). */
export interface Hook {
  /** The user's name for it, shown in the command log, the report and the runbook. */
  name: string;
  on: HookHost;
  /** The program and its arguments, never a shell string (write ['sh', '-c', '...'] for a shell). */
  argv: string[];
  /** The hook is stopped (TERM, then KILL) and counts as failed after this long. */
  timeoutMs: number;
  /** Local hooks only: names of variables of Ferry's own environment passed to it (values are never journaled). */
  env?: string[];
}

/** When a hook runs: before the final dump, after the target is verified, during a rollback. */
export type HookPhase = 'before-cutover' | 'after-restore' | 'on-rollback';

export interface PlanHooks {
  beforeCutover: Hook[];
  afterRestore: Hook[];
  onRollback: Hook[];
}

export interface MigrationPlan {
  source: string;
  target: string;
  pid: number;
  mode: MigrationMode;
  shellJob: boolean;
  tcpEstablished: boolean;
  policy: ConvergencePolicy;
  /** auto: cut over when the policy says so; manual: wait for the user. */
  auto: boolean;
  pageServerPort: number;
  /** Address of the target as the source reaches it (the page server link). */
  targetAddress: string;
  /** Work directory on both hosts; each migration gets its own subdirectory. */
  workDir: string;
  fileSync: string[];
  healthCheck: HealthCheck;
  retention: 'keep' | 'delete-on-commit';
  /** Traffic hooks at phase boundaries; absent means none. */
  hooks?: PlanHooks;
  /** Client-visible downtime: a probe of the service through the cutover; absent means none. */
  serviceProbe?: ServiceProbe;
  // Preflight inventory: what CRIU needs carried; absent = false / 'auto'.
  /** CRIU --file-locks: dump and restore the file locks the tree holds. */
  fileLocks?: boolean;
  /** CRIU --ext-unix-sk: datagram sockets talking to a named socket outside the tree. */
  extUnixSk?: boolean;
  /** How CRIU locks TCP connections during the freeze; auto picks what both hosts can run. */
  networkLock?: 'auto' | 'iptables' | 'nftables';
  /**
   * TLS: page streams (page server, lazy pages) encrypted and both ends
   * authenticated by a per-migration CA. Absent means on; false only on a network you trust.
   */
  tls?: boolean;
  // --- service address ---
  /** An address clients use, moved from the source's interface to the target's inside the freeze window; absent means none. */
  serviceAddress?: ServiceAddress;
  // --- many migrations at once: selectors and the port range ---
  /**
   * Which process, when not by PID: a systemd unit's MainPID or the PID in a pidfile, read on
   * the source at preflight (journaled); `pid` is then 0 until it is resolved. Absent: by `pid`.
   */
  select?: ProcessSelector;
  /**
   * Ports the page server (post-copy: the lazy dump) may listen on. Ferry takes a free pair
   * (port and port + 1, the cutover guard's) on the listening host and reserves it there, so
   * concurrent migrations never meet on one port. Absent: pageServerPort to pageServerPort + 99.
   */
  portRange?: PortRange;
  // --- bandwidth cap ---
  /**
   * The page stream's rate capped on the source (kernel traffic control) during pre-copy, and
   * during the final dump too when `during` says so (that lengthens the freeze); absent means no cap.
   */
  bandwidthCap?: BandwidthCapPlan;
}

/** A process chosen by what names it on the source rather than by PID. */
export type ProcessSelector = { kind: 'unit'; unit: string } | { kind: 'pidfile'; path: string };

export interface PortRange {
  first: number;
  last: number;
}

/** The ports a plan may use: its range, or its page-server port and the 99 after it. */
export function portRangeOf(plan: Pick<MigrationPlan, 'pageServerPort' | 'portRange'>): PortRange {
  return plan.portRange ?? { first: plan.pageServerPort, last: Math.min(65_535, plan.pageServerPort + 99) };
}

/** How the user named the process: "PID 123", "unit redis.service", "pidfile /run/x.pid". */
export function describeSelector(plan: Pick<MigrationPlan, 'pid' | 'select'>): string {
  if (!plan.select) return `PID ${plan.pid}`;
  return plan.select.kind === 'unit' ? `unit ${plan.select.unit}` : `pidfile ${plan.select.path}`;
}

/** Whether a plan's page streams use TLS (on unless the plan says false). */
export function planUsesTls(plan: Pick<MigrationPlan, 'tls'>): boolean {
  return plan.tls !== false;
}

/** The service address that moves with the process: "10.0.0.100/24" and the interface it lives on at each host. */
export interface ServiceAddress {
  /** IPv4 or IPv6 address with its prefix length. */
  address: string;
  sourceInterface: string;
  targetInterface: string;
}

export type Phase =
  | 'planned'
  | 'preflight'
  | 'precopy'
  | 'cutover'
  | 'restore'
  /** Post-copy: the process runs on the target while its pages still come from the source. */
  | 'postcopy'
  | 'verify'
  | 'committed'
  | 'rolling-back'
  | 'rolled-back'
  | 'failed';

/** One pre-dump or the final dump, with CRIU's own numbers from stats-dump. */
export interface IterationStats {
  index: number;
  kind: 'pre-dump' | 'dump';
  pagesWritten: number;
  pagesSkippedParent: number;
  frozenTimeUs: number;
  freezingTimeUs: number;
  memdumpTimeUs: number;
  memwriteTimeUs: number;
  /** Host clock, the whole CRIU command. */
  wallMs: number;
  /** Host clock (ms since epoch) when the command started; rates are measured between these. */
  startedAtMs?: number;
  /** Derived: pages dirtied per second since the previous iteration started. */
  dirtyPagesPerSec?: number;
  /** Derived: bytes per second the page server accepted. */
  bandwidthBytesPerSec?: number;
}

/** CRIU's own stats-restore, read from the target after `criu restore`. */
export interface RestoreStats {
  restoreTimeUs?: number;
  forkingTimeUs?: number;
  pagesRestored?: number;
  pagesCompared?: number;
  pagesSkippedCow?: number;
}

export interface DowntimeEstimate {
  predictedMs: number;
  lowMs: number;
  highMs: number;
  budgetMs: number;
  fits: boolean;
  /** What the estimate rests on, in words: measured numbers and defaults. */
  basis: string;
}

export type Recommendation =
  | { kind: 'continue'; reason: string }
  | { kind: 'cutover'; reason: string }
  | { kind: 'not-converging'; reason: string };

export interface CheckResult {
  id: string;
  host?: string;
  title: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

/** The maker of one preflight check's results: its id and title fixed, a fix only when given. */
export function checkOf(id: string, title: string) {
  return (status: CheckResult['status'], host: string | undefined, detail: string, fix?: string): CheckResult => ({
    id,
    host,
    title,
    status,
    detail,
    ...(fix ? { fix } : {}),
  });
}

/** The three outcomes with the id and title given each time, for files that make many checks. */
export const passCheck = (id: string, host: string | undefined, title: string, detail: string): CheckResult => checkOf(id, title)('pass', host, detail);
export const warnCheck = (id: string, host: string | undefined, title: string, detail: string, fix?: string): CheckResult => checkOf(id, title)('warn', host, detail, fix);
export const failCheck = (id: string, host: string | undefined, title: string, detail: string, fix: string): CheckResult => checkOf(id, title)('fail', host, detail, fix);

export interface PreflightReport {
  checks: CheckResult[];
  blockers: number;
}

export type MigrationAction = 'one-more' | 'cutover-now' | 'abort' | 'rollback';

export interface RollbackPreview {
  migrationId: string;
  phase: Phase;
  steps: string[];
  /** Set past a post-copy's point of no return: why a rollback is no longer clean. */
  pointOfNoReturn?: string;
}

export interface JournalSummary {
  id: string;
  source: string;
  target: string;
  pid: number;
  /** The process in the user's words: "PID 4242", or the selector ("unit redis-server.service") when it never resolved. */
  process: string;
  startedAt: string;
  lastPhase: Phase;
  finished: boolean;
  outcome?: 'committed' | 'rolled-back' | 'failed';
  /** For an unfinished migration: what Ferry thinks is safe to do next. */
  nextStep?: string;
  /** Cutover guards: how the hosts settled without the console (e.g. 'source resumed by guard'). */
  settled?: string;
}

export interface LabStatus {
  image: { path: string; builtAt?: string; sizeBytes?: number; ready: boolean };
  accel: 'kvm' | 'tcg';
  /** problem: lab status, what a connection said when not reachable (e.g. a changed host key). */
  vms: Array<{ name: 'source' | 'target'; alias: string; running: boolean; pid?: number; sshPort?: number; reachable: boolean; problem?: FerryErrorInfo }>;
}

export interface LabProgress {
  step: string;
  message: string;
  fraction?: number;
}

/**
 * One live count of the source's dirty set between pre-dumps: soft-dirty pages read
 * (read-only) from /proc/PID/pagemap over the whole tree since pre-dump `sinceIteration`.
 */
export interface DirtySample {
  /** Console clock when the sample arrived (ISO and ms since epoch). */
  at: string;
  atMs: number;
  /** The pre-dump whose end these pages were dirtied since. */
  sinceIteration: number;
  dirtyPages: number;
  /** Resident pages of the tree (present in RAM). */
  presentPages: number;
  /** Growth of the dirty set over the last seconds; undefined for the first sample. */
  ratePagesPerSec?: number;
  /** The sampler's own CPU time for this sample, on the source. */
  samplerCpuMs?: number;
}

/** The 'measure dirty rate' probe: clear soft-dirty, wait, count (before any pre-dump). */
export interface DirtyRateProbe {
  host: string;
  pid: number;
  /** The tree whose pages were counted. */
  pids: number[];
  /** Measured between the clear and the count, on the host's clock. */
  seconds: number;
  dirtyPages: number;
  presentPages: number;
  pagesPerSec: number;
  bytesPerSec: number;
  /** What the rate means for pre-copy, in plain words. */
  verdict: string;
}

// --- Service probe (client-visible downtime) ---------------------------------------------------

/**
 * A probe of the migrated service through the cutover, as a client sees it: a TCP connect or
 * an HTTP GET on a fresh connection, every intervalMs, from this machine or from a host.
 */
export interface ServiceProbe {
  kind: 'tcp' | 'http';
  /** tcp: host:port; http: an http:// URL (any status 200-399 counts as an answer). */
  target: string;
  /** 'local' (this machine, in the engine) or a host alias the probe runs on over SSH. */
  from: string;
  intervalMs: number;
  /** An attempt with no answer by then counts as failed. */
  timeoutMs: number;
}

/** One attempt, on the probe's own monotonic clock (ms since the probe started). */
export interface ProbeAttempt {
  startMs: number;
  endMs: number;
  ok: boolean;
  /** Why it failed, short (ECONNREFUSED, timeout, HTTP 503). */
  error?: string;
}

/** Consecutive attempts with the same outcome. */
export interface ProbeRun {
  ok: boolean;
  startMs: number;
  endMs: number;
  attempts: number;
  /** The first failure's reason, for a failure run. */
  error?: string;
}

/** A time clients got no answer: from the last ok attempt's start to the next ok attempt's end. */
export interface ProbeGap {
  startMs: number;
  endMs: number;
  ms: number;
  failures: number;
  /** False when no attempt succeeded after it: the service did not come back while probed. */
  recovered: boolean;
  /** True when the probe failed from its first attempt (nothing answered before). */
  fromStart: boolean;
}

/** What the probe saw, as the journal, the report and --json keep it (never every attempt). */
export interface ServiceProbeResult {
  probe: ServiceProbe;
  /** Console clock when the probe started; the times below are ms after it. */
  startedAt: string;
  durationMs: number;
  attempts: number;
  successes: number;
  failures: number;
  longestGap?: ProbeGap;
  runs: ProbeRun[];
  /** Runs past the kept timeline's length. */
  runsLeftOut?: number;
  /** The freeze window on the probe's clock (local probes: the engine's clock too). */
  freeze?: { startMs: number; endMs?: number };
  /** Why the probe stopped early or could not run (it never fails a migration). */
  note?: string;
}
