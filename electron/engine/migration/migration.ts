import { randomBytes } from 'node:crypto';
import type { EngineEvent, Outcome } from '../../../shared/api.ts';
import type {
  DowntimeEstimate,
  IterationStats,
  MigrationAction,
  MigrationPlan,
  Phase,
  ProcessDetail,
  Recommendation,
  RollbackPreview,
} from '../../../shared/domain.ts';
import { FerryError, toErrorInfo, type FerryErrorInfo } from '../../../shared/errors.ts';
import { buildIteration, estimateDowntime, type CutoverCosts, type TreeShape } from '../../../shared/estimate.ts';
import { recommend } from '../../../shared/policy.ts';
import { dump, pageServer, preDump, restore, type CriuCommandName } from '../../criu/index.ts';
import { PostcopyCutover } from './postcopy.ts';
import { dropTls, setUpTls } from './tls.ts';
import type { CriuTlsOptions } from '../../criu/argv.ts';
import { describeHook, hookError, hooksOf, runHooks, type HookContext } from './hooks.ts';
import { LocalHost } from '../commands/local.ts';
import { criuTreeFlags, type NetworkLock } from '../hosts/inventory-policy.ts';
import { runPreflight, type PreflightFacts } from '../hosts/preflight.ts';
// Restore probe: the restore's cost measured on the target during pre-copy.
import type { RestoreProbe } from '../../../shared/restore-cost.ts';
import { parsePs, processTree, psArgv } from '../hosts/ps.ts';
import { CommandRunner, type Privilege } from '../commands/runner.ts';
import { LiveDirty } from '../dirty/live-dirty.ts';
import { ServiceProbeRun } from './service-probe.ts';
import type { ServiceProbeResult } from '../../../shared/domain.ts';
import type { JournaledCutover } from '../journal/recovered.ts';
import { withMigrationAddress } from '../hosts/addresses.ts';
import { deleteImagesArgv, oursOn, rollbackSteps, type RollbackView } from './rollback.ts';
import { absentPathsArgv, inScope, parseAbsent, removeCreatedArgv, scopeUnit, systemdProbeArgv } from './leftovers.ts';
import { ServiceAddressMove } from './service-address.ts';
import { BandwidthCapOnSource } from './bandwidth-cap.ts';
import { watchRestore } from './restore-watch.ts';
import { runHealthCheck } from './health-check.ts';
import { explainCriuFailure, refusedPeerFailure, tailLog } from './criu-failure.ts';
import { endingSummary, whereItRuns, type EndingFacts } from './ending.ts';
import { measureCopy, measureLinkBeforeCap, measureRestore, readDumpStats, recordRestoreStats } from './measurements.ts';
import type { LinkMeasure } from '../../../shared/bandwidth-cap.ts';
import type { HostSession } from '../../ssh/index.ts';
// Many migrations at once: the process by selector, its claim on the source, a reserved port pair.
import { Claims, localClaimContext, type ClaimContext } from './claims.ts';
import { resolveSelector } from '../hosts/candidates.ts';
import { describeSelector, portRangeOf } from '../../../shared/domain.ts';
// Cutover guards: the hosts settle on their own if the console is lost (guard/README.md).
import { GuardedCutover, guardDir, journalGuards } from './guard/cutover.ts';
import { LAZY_READY } from '../../criu/index.ts'; // post-copy guard: the lazy dump's "serving" line
import { STEP_TIMEOUTS, withLogLimit } from './limits.ts';

// Bounds for every step (limits.ts), importable from here as before.
export { LOG_LIMIT_BLOCKS, STEP_TIMEOUTS } from './limits.ts';
// Restore probe's bounds (measurements.ts), importable from here as before.
export { RESTORE_PROBE_MIB, RESTORE_PROBE_TIMEOUT_S } from './measurements.ts';
/** Live copy progress: at most one 'transfer' event per this many ms (journal and UI stay light). */
const TRANSFER_EVENT_INTERVAL_MS = 250;

export interface MigrationDeps {
  /** The session for a host alias (shared with the console: one connection per host). */
  session(alias: string): HostSession;
  /** Journal first, then the UI: called for every event. */
  record(event: EngineEvent): void;
  /** Ferry's own environment: local hooks get their `env` names from it (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The UI only, not the journal: for frequent samples the journal keeps only some of. */
  emit?(event: EngineEvent): void;
  /** Migration addresses: where other hosts reach a host (its FerryMigrationAddress), if it says. */
  addressOf?(alias: string): Promise<string | undefined>;
  /** Many migrations at once: who this engine is and its journals, to judge other claims' holders. */
  claims?: ClaimContext;
}

export interface MigrationResult {
  migrationId: string;
  outcome: Outcome;
  iterations: IterationStats[];
  freezeWindowMs?: number;
  predictedMs?: number;
  /** The estimate the cutover was decided on (its terms, basis and what it learned from). */
  estimateAtCutover?: DowntimeEstimate;
  bytesThroughConsole: number;
  /** Resident memory of the migrated tree at preflight (ps RSS), for ratios. */
  residentBytes?: number;
  /** Post-copy: pages that followed the process, and when the last one arrived (ms after the freeze began). */
  postcopy?: { pagesDone: number; pagesTotal: number; lastPageMs?: number; lastPageAt?: string };
  /** Service probe: what clients saw through the cutover (the plan asked for it). */
  serviceProbe?: ServiceProbeResult;
  error?: FerryErrorInfo;
  /** Many migrations at once: the PID migrated (a selector's, once resolved) and the page-server port reserved. */
  pid?: number;
  pageServerPort?: number;
  // Evacuating a host: where the process runs at the end, for a playbook's summary.
  /** The host the process runs on now; undefined when a rollback was incomplete (check both hosts by hand). */
  runsOn?: string;
  /** The systemd scope the restored tree runs in on the target (committed, target with systemd). */
  unit?: string;
}

/** Where the page server of an image directory writes its PID (the guards stop it on a rollback). */
const pageServerPidfile = (dir: string) => `${dir}/page-server.pid`;

export function newMigrationId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Where the process is, on each host: the invariant is exactly one 'running'. */
export type Presence = 'running' | 'frozen' | 'absent';

/**
 * One live migration of a process tree from source to target. Its phases are visible
 * states; every command and decision goes through `record` (journal, then UI). Rollback is
 * possible from every phase and is announced (steps) before it runs.
 *
 * The protocol reads top to bottom: `execute` → `drive` (claims, preflight, TLS) →
 * `precopyIteration` and `decideAfterIteration` in a loop → `cutover` (or `cutoverPostcopy`)
 * → `verifyAndCommit` → `commit`, or `rollback` from any point (`settledByGuards` when the
 * guards took over); `recover` finishes a run an earlier engine left. The helpers follow them.
 */
export class Migration {
  readonly id: string;
  phase: Phase = 'planned';
  readonly iterations: IterationStats[] = [];
  private readonly run: CommandRunner;
  private readonly privilege: Record<string, Privilege> = {};
  private readonly pending: MigrationAction[] = [];
  private wake?: () => void;
  private process?: ProcessDetail;
  private filesToSync: string[] = [];
  private pageServerPidFile?: string;
  // How far the migration got: what rollback, its preview, recovery and the ending read.
  // Not one stage value: they do not form one progression. sourceFrozen goes back to false
  // (commit kills the frozen copy, rollback resumes it); recovery sets restoreStarted without
  // sourceFrozen once a guard resumed the source; hooksStarted only if the plan has hooks;
  // keepLogs can be set at any CRIU step. `phase` is the visible progression.
  /** Set once the PID and the port are fixed on the hosts (plan-resolved journaled). */
  private resolved = false;
  /** Set when the first pre-dump starts: from then on nothing may write clear_refs. */
  private _preDumpStarted = false;
  /** Set once a traffic hook started: from then on a rollback runs the on-rollback hooks. */
  private hooksStarted = false;
  /** Set once the final dump froze the source tree (--leave-stopped); cleared once it is resumed or killed. */
  private sourceFrozen = false;
  /** Set once criu restore was started on the target. */
  private restoreStarted = false;
  /** Set when a CRIU step failed: the rollback keeps CRIU's logs (the error points at them). */
  private keepLogs = false;
  /** Tree PIDs already taken on the target before restore: never ours to kill. */
  private takenBeforeRestore = new Set<number>();
  private lastEstimate?: DowntimeEstimate;
  /** Measured duration of the copy path (source tar → target), once per migration. */
  private copyMs?: number;
  /** Cutover costs past migrations between these hosts measured (restore, dump overhead). */
  private readonly learned?: CutoverCosts;
  private lastRecommendation?: Recommendation;
  /** Restore probe: page images read on the target after the first pre-dump, and its MemAvailable. */
  private restoreProbe?: RestoreProbe;
  private bytesThroughConsole = 0;
  private freezeWindowMs?: number;
  private predictedAtCutover?: number;
  /** Post-copy only: its cutover, and where the target reaches the source. */
  private postcopy?: PostcopyCutover;
  private sourceAddress?: string;
  /** The network lock preflight chose for both hosts. */
  private networkLock?: NetworkLock;
  /** Tree shape from preflight's inventory (the estimate's per-process, per-socket, shared-memory terms). */
  private treeShape?: TreeShape;
  // Leftovers (remove copied files, restore scope; keepLogs above): see leftovers.ts.
  /** Files to sync (and their directories) that did not exist on the target before the copy. */
  private createdOnTarget?: { files: string[]; dirs: string[] };
  /** The systemd scope the restore runs in, when the target runs systemd. */
  private scope?: string;
  /** Recovered commit: what the journal of the interrupted run says about its cutover. */
  private recoveredCutover?: JournaledCutover;
  /** What the last rollback could not undo (for the summary). */
  private rollbackProblems: string[] = [];
  /** The live dirty set between pre-dumps (read-only pagemap sampling on the source). */
  private readonly live: LiveDirty;
  /** Service probe: runs from just before the final dump until a settle time after the outcome. */
  private serviceProbe?: ServiceProbeRun;
  /** TLS: the criu options for this migration's page streams, once its keys are on both hosts. */
  private tls?: CriuTlsOptions;
  // --- service address: where the plan's address is, and its moves.
  private readonly serviceAddress?: ServiceAddressMove;
  /** Many migrations at once: the process claim and port pair this migration holds on the hosts. */
  private claims?: Claims;
  // --- bandwidth cap: tc on the source's interface toward the target, for the page stream only.
  private readonly bandwidthCap?: BandwidthCapOnSource;
  /** Bandwidth cap: the link measured uncapped before the cap went on (the uncapped final dump's rate). */
  private link?: LinkMeasure;
  /** Cutover guards: from just before the final dump until commit or rollback (pre-copy and cold). */
  private guard?: GuardedCutover;

  constructor(
    public plan: MigrationPlan,
    private readonly deps: MigrationDeps,
    opts: { id?: string; overrideBlockers?: boolean; learned?: CutoverCosts } = {},
  ) {
    this.id = opts.id ?? newMigrationId();
    this.learned = opts.learned;
    this.overrideBlockers = opts.overrideBlockers ?? false;
    this.run = new CommandRunner(
      (e) => this.deps.record(e),
      (alias) => this.deps.session(alias),
      (alias) => this.privilege[alias] ?? 'root',
      this.id,
      new LocalHost({ env: deps.env }),
    );
    this.live = new LiveDirty({
      migrationId: this.id,
      run: this.run,
      host: this.plan.source,
      record: (e) => this.deps.record(e),
      emit: (e) => (this.deps.emit ?? (() => undefined))(e),
      // Not while the cutover prepares: the estimate made as the final dump starts counts then.
      reestimate: () => (this.phase === 'cutover' ? undefined : this.estimate(Date.now(), true)),
    });
    if (plan.serviceAddress) this.serviceAddress = new ServiceAddressMove({ plan, run: this.run });
    if (plan.bandwidthCap) {
      const migration = this;
      this.bandwidthCap = new BandwidthCapOnSource({
        // The plan as resolved: the page server's port is the reserved one, known only after the claims.
        get plan() {
          return migration.plan;
        },
        run: this.run,
        decide: (action, reason) => this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action, reason, at: this.now() }),
      });
    }
  }
  private readonly overrideBlockers: boolean;

  get preDumpStarted(): boolean {
    return this._preDumpStarted;
  }

  /** Whether `pid` is this migration's process or one of its tree. */
  covers(pid: number): boolean {
    return this.plan.pid === pid || this.pids.includes(pid);
  }

  /** What the steps in the files beside this one need of the migration (they never get `this`). */
  private get context(): { run: CommandRunner; plan: MigrationPlan; migrationId: string; record(event: EngineEvent): void } {
    return { run: this.run, plan: this.plan, migrationId: this.id, record: (e) => this.deps.record(e) };
  }

  private get dir(): string {
    return `${this.plan.workDir}/${this.id}`;
  }
  private iterDir(i: number): string {
    return `${this.dir}/${i}`;
  }
  private get pids(): number[] {
    return this.process?.tree.map((p) => p.pid) ?? [this.plan.pid];
  }

  private now(): string {
    return new Date().toISOString();
  }

  private setPhase(phase: Phase, note?: string): void {
    this.phase = phase;
    this.deps.record({ type: 'phase', migrationId: this.id, phase, at: this.now(), note });
  }

  /** A user's request; applied at the next safe point (never in the middle of a CRIU step). */
  control(action: MigrationAction): { accepted: boolean; note: string } {
    const terminal = ['committed', 'rolled-back', 'failed', 'rolling-back'].includes(this.phase);
    if (terminal) return { accepted: false, note: `the migration is ${this.phase}` };
    if ((action === 'one-more' || action === 'cutover-now') && this.phase !== 'precopy' && this.phase !== 'preflight' && this.phase !== 'planned') {
      return { accepted: false, note: `${action} only applies during pre-copy (now: ${this.phase})` };
    }
    if (this.postcopy?.pastPointOfNoReturn && (action === 'abort' || action === 'rollback')) {
      return { accepted: false, note: `past the point of no return: ${this.postcopy.pointOfNoReturn()}` };
    }
    if (this.phase === 'cutover' || this.phase === 'restore' || this.phase === 'postcopy' || this.phase === 'verify') {
      // Past the final dump, abort and rollback mean the same: resume the frozen source.
      this.pending.push('rollback');
    } else {
      this.pending.push(action);
    }
    this.deps.record({ type: 'decision', migrationId: this.id, by: 'user', action, reason: `requested during ${this.phase}`, at: this.now() });
    this.wake?.();
    return { accepted: true, note: `${action} will be applied at the next safe point` };
  }

  /** What a rollback would do right now, in the order it would do it. */
  rollbackPreview(): RollbackPreview {
    return { migrationId: this.id, phase: this.phase, steps: rollbackSteps(this.rollbackView), pointOfNoReturn: this.postcopy?.pointOfNoReturn() };
  }

  /** What a rollback must undo, as far as this migration got (rollback.ts). */
  private get rollbackView(): RollbackView {
    return {
      plan: this.plan,
      migrationId: this.id,
      dir: this.dir,
      pids: this.pids,
      postcopy: this.postcopy,
      restoreStarted: this.restoreStarted,
      pageServerRunning: !!this.pageServerPidFile,
      createdOnTarget: this.createdOnTarget,
      keepLogs: this.keepLogs,
      tls: !!this.tls,
      serviceAddress: this.serviceAddress,
      bandwidthCap: this.bandwidthCap,
      sourceFrozen: this.sourceFrozen,
      hooksStarted: this.hooksStarted,
    };
  }

  /** Past the decision to cut over, only abort and rollback still mean something. */
  private rollbackRequested(): boolean {
    const want = this.pending.some((a) => a === 'abort' || a === 'rollback');
    this.pending.length = 0;
    return want;
  }

  private takeAction(): MigrationAction | undefined {
    return this.pending.shift();
  }

  private waitForAction(): Promise<MigrationAction> {
    const a = this.takeAction();
    if (a) return Promise.resolve(a);
    return new Promise((resolve) => {
      this.wake = () => {
        const next = this.takeAction();
        if (next) {
          this.wake = undefined;
          resolve(next);
        }
      };
    });
  }

  /** Run the whole migration; resolves with its outcome, never leaves the process in two places. */
  async execute(): Promise<MigrationResult> {
    // Migration addresses: the default page-server address (the target's alias) becomes the
    // address the target carries in Ferry's ssh_config, before anything is journaled.
    if (this.deps.addressOf) this.plan = await withMigrationAddress(this.plan, this.deps.addressOf);
    this.deps.record({ type: 'migration-started', migrationId: this.id, plan: this.plan, at: this.now() });
    let outcome: Outcome;
    let error: FerryErrorInfo | undefined;
    try {
      outcome = await this.drive();
    } catch (e) {
      error = toErrorInfo(e, 'migration-failed');
      this.deps.record({ type: 'error', migrationId: this.id, error });
      if (this.phase === 'preflight') {
        // Nothing was dumped or started: there is nothing to roll back.
        this.setPhase('failed', error.message);
        outcome = 'failed';
      } else if (this.postcopy?.pastPointOfNoReturn) {
        // The only copy runs on the target: keep it, never kill it to "roll back".
        this.setPhase('failed', `after the last page arrived: ${error.message}`);
        outcome = 'failed';
      } else {
        outcome = await this.rollback(`after an error: ${error.message}`);
      }
    }
    await this.live.stop();
    const probe = await this.finishServiceProbe();
    await this.releaseClaims();
    const summary = endingSummary(this.endingFacts, outcome, error, probe);
    this.deps.record({
      type: 'outcome',
      migrationId: this.id,
      outcome,
      at: this.now(),
      freezeWindowMs: this.freezeWindowMs,
      predictedMs: this.predictedAtCutover,
      summary,
    });
    return {
      migrationId: this.id,
      outcome,
      iterations: this.iterations,
      freezeWindowMs: this.freezeWindowMs,
      predictedMs: this.predictedAtCutover,
      estimateAtCutover: this.predictedAtCutover !== undefined ? this.lastEstimate : undefined,
      bytesThroughConsole: this.bytesThroughConsole,
      residentBytes: this.process ? this.process.tree.reduce((sum, p) => sum + p.rssKiB * 1024, 0) : undefined,
      postcopy: this.postcopy?.pages
        ? { pagesDone: this.postcopy.pages.done, pagesTotal: this.postcopy.pages.total, lastPageMs: this.postcopy.lastPageMs, lastPageAt: this.postcopy.lastPageAt }
        : undefined,
      ...(probe ? { serviceProbe: probe } : {}),
      error,
      ...(this.plan.pid > 0 ? { pid: this.plan.pid } : {}),
      ...(this.resolved ? { pageServerPort: this.plan.pageServerPort } : {}),
      ...whereItRuns(this.endingFacts, outcome),
    };
  }

  /** Preflight, then pre-copy's iterations until the user or the policy decides, then the cutover. */
  private async drive(): Promise<Outcome> {
    const { source, target } = this.plan;
    this.setPhase('preflight');
    await this.claimHosts();
    const facts: PreflightFacts = await runPreflight(this.plan, this.run, {
      // Beside the migration's directory, not inside it: a failed preflight leaves nothing.
      scratchDir: `${this.dir}.preflight`,
      setPrivilege: (h, p) => (this.privilege[h] = p),
      costs: this.learned, // budgets under emulation: the fixed costs the estimate will use
    });
    this.process = facts.process;
    this.sourceAddress = facts.sourceAddress;
    this.networkLock = facts.networkLock;
    this.treeShape = facts.treeShape; // tree shape: the estimate's fixed costs per process, socket, shared memory
    this.filesToSync = [...new Set([...facts.filesToSync, ...this.plan.fileSync])];
    for (const c of facts.report.checks) {
      this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action: `preflight ${c.status}`, reason: `${c.host ? `${c.host}: ` : ''}${c.title}: ${c.detail}`, at: this.now() });
    }
    if (facts.report.blockers > 0 && !this.overrideBlockers) {
      const first = facts.report.checks.find((c) => c.status === 'fail')!;
      throw new FerryError({
        code: 'preflight-failed',
        host: first.host,
        message: `Preflight found ${facts.report.blockers} blocker(s); nothing was dumped. First: ${first.title}: ${first.detail}`,
        hint: first.fix,
      });
    }
    // An abort asked for during preflight wins; other requests wait for the first iteration.
    if (this.pending.some((a) => a === 'abort' || a === 'rollback')) return this.rollback('aborted by the user before pre-copy');

    await this.run.run(source, ['mkdir', '-p', '--', this.dir], { check: true, what: 'creating the work directory' });
    await this.run.run(target, ['mkdir', '-p', '--', this.dir], { check: true, what: 'creating the work directory' });
    await setUpTls(this.context, this.dir, this.sourceAddress, (tls) => (this.tls = tls));

    let i = 0;
    if (this.plan.mode === 'precopy') {
      this.setPhase('precopy');
      // Bandwidth cap: the uncapped link, for the final dump's estimate.
      this.link = await measureLinkBeforeCap(this.context, !!this.bandwidthCap?.applies, this.tls);
      await this.bandwidthCap?.apply(); // bandwidth cap: on before the first pre-dump
      for (;;) {
        i += 1;
        await this.precopyIteration(i);
        const next = await this.decideAfterIteration();
        if (next === 'continue') continue;
        if (next === 'rollback') return this.rollback('pre-copy stopped: rolling back');
        break;
      }
    }
    return this.cutover(i + 1);
  }

  private async precopyIteration(i: number): Promise<void> {
    const { source } = this.plan;
    await this.live.stop();
    this._preDumpStarted = true;
    await this.startPageServer(i);
    const dir = this.iterDir(i);
    await this.run.run(source, ['mkdir', '-p', '--', dir], { check: true, what: 'creating the image directory' });
    const started = Date.now();
    const r = await this.run.run(
      source,
      preDump({
        pid: this.plan.pid,
        imagesDir: dir,
        trackMem: true,
        prevImagesDir: i > 1 ? `../${i - 1}` : undefined,
        pageServer: { address: this.plan.targetAddress, port: this.plan.pageServerPort },
        ...criuTreeFlags(this.plan, this.networkLock),
        tls: this.tls,
        log: 'pre-dump.log',
        verbosity: 4,
      }),
      { timeoutMs: STEP_TIMEOUTS.preDump },
    );
    const ended = Date.now();
    this.pageServerPidFile = undefined; // one-shot: it exits when the pre-dump disconnects
    if (r.code !== 0) await this.explainRefusedPeer(dir);
    if (r.code !== 0) await this.fail('pre-dump', source, r.code, r.signal, r.stdout, r.stderr, `${dir}/pre-dump.log`);
    const stats = await readDumpStats(this.run, source, dir);
    const it = buildIteration({ index: i, kind: 'pre-dump', stats, startedAtMs: started, endedAtMs: ended }, this.iterations[this.iterations.length - 1]);
    this.iterations.push(it);
    this.deps.record({ type: 'iteration', migrationId: this.id, stats: it });
    // Measured once, outside any freeze (measurements.ts): the copy path and the restore's reads.
    if (i === 1) {
      await measureCopy(this.run, this.plan, `${this.dir}/copy-probe`, this.copyArgv(dir), (r) => {
        this.bytesThroughConsole += r.bytes;
        this.copyMs = r.durationMs;
      });
      this.restoreProbe = await measureRestore(this.run, this.plan.target, dir);
    }
    this.estimate(Date.now());
  }

  /** After each pre-dump: the user's word first, then (in auto mode) the policy's. */
  private async decideAfterIteration(): Promise<'continue' | 'cutover' | 'rollback'> {
    const rec = this.lastRecommendation!;
    const fromUser = (a: MigrationAction): 'continue' | 'cutover' | 'rollback' =>
      a === 'one-more' ? 'continue' : a === 'cutover-now' ? 'cutover' : 'rollback';
    const queued = this.takeAction();
    if (queued) return fromUser(queued);
    if (this.plan.auto) {
      if (rec.kind === 'continue') return 'continue';
      const action = rec.kind === 'cutover' ? 'cutover' : this.plan.policy.onNotConverging;
      this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action, reason: rec.reason, at: this.now() });
      return action;
    }
    // Waiting for the user: watch the dirty set grow until they decide (never inside a CRIU step).
    this.live.start(this.iterations[this.iterations.length - 1]!.index, this.pids);
    try {
      return fromUser(await this.waitForAction());
    } finally {
      await this.live.stop();
    }
  }

  private async cutover(last: number): Promise<Outcome> {
    const { source, target } = this.plan;
    await this.live.stop();
    this.setPhase('cutover');
    // Outside the freeze window: the source runs on while traffic is drained.
    await this.hookPhase('before-cutover', `Ferry did not cut over: nothing was dumped and the process still runs on ${source}; the on-rollback hooks undo what the hooks before it did. Fix the hook and start again.`);
    if (this.rollbackRequested()) return this.rollback('rolled back by the user before the final dump');
    await this.startServiceProbe();
    if (this.plan.mode === 'postcopy') return this.cutoverPostcopy(last);
    // Bandwidth cap, outside the freeze: off for the final dump, unless the plan caps it too.
    await this.bandwidthCap?.beforeFinalDump();
    const dir = this.iterDir(last);
    const incremental = this.plan.mode === 'precopy' && last > 1;
    // Pages always travel source -> target over the page server, never through the console;
    // only a pre-copy's final dump is incremental (--track-mem, parent images).
    // The preparation runs side by side: the process dirties pages until the final dump starts,
    // and each second here is pages the freeze window carries (7-8 s one after another in the lab).
    const restoredPidfile = `${dir}/restored.pid`;
    const guard = this.newGuard();
    // Meanwhile the dirty set is counted on the source (soft-dirty bits, read-only), so the
    // prediction made as the dump starts rests on the pages dirtied, not on a rate: under load a
    // process dirties at its own pace (in the lab, 338 pages/s here against 600 measured before).
    const lastPreDump = this.iterations[this.iterations.length - 1]?.index;
    if (incremental && lastPreDump !== undefined) this.live.start(lastPreDump, this.pids);
    let armed = false;
    const prepared = await Promise.allSettled([
      // --- cutover guards: armed outside the freeze, once the final dump's page server runs
      // (a page server that cannot start fails the cutover before any guard is up).
      this.startPageServer(last).then(async () => {
        await guard.arm({ pids: this.pids, images: this.dir, restoredPidfile, pageServerPidfile: pageServerPidfile(dir) });
        armed = true;
      }),
      this.run.run(source, ['mkdir', '-p', '--', dir], { check: true, what: 'creating the image directory' }),
      this.inspectTargetBeforeRestore(),
    ]);
    await this.live.stop(); // never inside a CRIU step
    // Armed guards are released by a rollback like any other time; a failed arm cleaned up after itself.
    if (armed) this.guard = guard;
    const failed = prepared.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (this.iterations.length) {
      // The prediction that counts is the one made now, as the final dump starts: in manual
      // mode it may come long after the last pre-dump, and the preparation above took seconds
      // in which the process dirtied more pages.
      this.estimate(Date.now(), false, true);
      this.predictedAtCutover = Math.round(this.lastEstimate!.predictedMs);
    }
    const freezeStart = Date.now();
    this.serviceProbe?.markFreeze(freezeStart);
    const r = await this.run.run(
      source,
      dump({
        pid: this.plan.pid,
        imagesDir: dir,
        leaveStopped: true,
        pageServer: { address: this.plan.targetAddress, port: this.plan.pageServerPort },
        tls: this.tls,
        ...(incremental ? { trackMem: true, prevImagesDir: `../${last - 1}` } : {}),
        ...criuTreeFlags(this.plan, this.networkLock),
        log: 'dump.log',
        verbosity: 4,
      }),
      { timeoutMs: STEP_TIMEOUTS.dump },
    );
    this.pageServerPidFile = undefined;
    // Whatever the exit code, the tree may be stopped now; rollback checks and resumes it.
    this.sourceFrozen = true;
    if (r.code !== 0) await this.explainRefusedPeer(dir);
    if (r.code !== 0) await this.fail('dump', source, r.code, r.signal, r.stdout, r.stderr, `${dir}/dump.log`);
    const dumpEnded = Date.now();
    if (this.rollbackRequested()) return this.rollback('rolled back by the user during cutover');

    // Metadata images (and, for a cold dump, the pages) and the files to sync, straight from
    // source to target in one stream: one round trip less inside the freeze window.
    const label = `images and open files, ${source} → ${target}`;
    let shownAt = 0;
    const copy = await this.run.pipe(source, this.copyArgv(dir), target, ['tar', '-C', '/', '-xpf', '-'], {
      timeoutMs: STEP_TIMEOUTS.copy,
      what: 'copying the images and open files',
      // Live progress, a few times a second: the size is known only at the end of the stream.
      onBytes: (doneBytes) => {
        const now = Date.now();
        if (now - shownAt < TRANSFER_EVENT_INTERVAL_MS) return;
        shownAt = now;
        this.deps.record({ type: 'transfer', migrationId: this.id, label, doneBytes });
      },
    });
    this.bytesThroughConsole += copy.bytes;
    this.deps.record({ type: 'transfer', migrationId: this.id, label, doneBytes: copy.bytes, totalBytes: copy.bytes });
    if (this.rollbackRequested()) return this.rollback('rolled back by the user during cutover');

    // --- service address: the dump locked the network; the address moves
    // now, guarded on the target until the restored sockets exist.
    if (this.serviceAddress) await this.serviceAddress.moveToTarget();

    this.setPhase('restore');
    this.restoreStarted = true;
    const restoreArgv = withLogLimit('ferry-restore', restore({ imagesDir: dir, detach: true, ...criuTreeFlags(this.plan, this.networkLock), log: 'restore.log', verbosity: 4, ignoreCgroups: !!this.scope, pidfile: restoredPidfile }));
    // Restore scope: the tree lands in ferry-<id>.scope, not in sshd's cgroup.
    const scoped = this.scope ? inScope(this.scope, `Ferry: PID ${this.plan.pid} migrated from ${source} (${this.id})`, restoreArgv) : restoreArgv;
    // Cutover guards: the target guard runs the restore, so it knows it started, ended, and what runs.
    const restoring = guard.restore(scoped, STEP_TIMEOUTS.restore);
    const { result: rr, endedAtMs } = await watchRestore(this.context, this.lastEstimate, restoring, dir, freezeStart);
    // The window ends when `criu restore -d` returned (the tree runs), not when the follower stopped;
    // with a service address, when clients can reach it (the target's guard rule is gone).
    let windowEndMs = endedAtMs;
    if (rr.code === 0 && this.serviceAddress) {
      await this.serviceAddress.openOnTarget(); // service address
      windowEndMs = Date.now();
    }
    this.freezeWindowMs = windowEndMs - freezeStart;
    this.serviceProbe?.markFreeze(freezeStart, freezeStart + this.freezeWindowMs);
    if (rr.code !== 0) await this.fail('restore', target, rr.code, rr.signal, rr.stdout, rr.stderr, `${dir}/restore.log`);
    // CRIU's own numbers for the final dump and the restore, read once the process runs
    // again (not inside the window). A missing restore stats file is reported, not fatal.
    await recordRestoreStats(this.context, dir);
    const stats = await readDumpStats(this.run, source, dir);
    const it = buildIteration({ index: last, kind: 'dump', stats, startedAtMs: freezeStart, endedAtMs: dumpEnded }, this.iterations[this.iterations.length - 1]);
    this.iterations.push(it);
    this.deps.record({ type: 'iteration', migrationId: this.id, stats: it });

    return this.verifyAndCommit();
  }

  /** Post-copy: the cutover lives in postcopy.ts; here only what it shares with pre-copy. */
  private async cutoverPostcopy(last: number): Promise<Outcome> {
    const { source, target } = this.plan;
    const dir = this.iterDir(last);
    await this.run.run(source, ['mkdir', '-p', '--', dir], { check: true, what: 'creating the image directory' });
    await this.run.run(target, ['mkdir', '-p', '--', dir], { check: true, what: 'creating the image directory' });
    await this.noteTakenOnTarget();
    if (!this.sourceAddress) {
      throw new FerryError({ code: 'postcopy-no-address', host: source, message: `Preflight found no address on ${source} that ${target} can reach it by`, hint: 'Check the route between the hosts (ip route get TARGET-ADDRESS on the source).' });
    }
    // --- post-copy guard: armed before the lazy dump freezes the tree; the restore runs through the target guard.
    const restoredPidfile = `${dir}/restored.pid`;
    const daemonPidfile = `${dir}/lazy-pages.pid`;
    this.guard = this.newGuard();
    await this.guard.arm({ pids: this.pids, images: this.dir, restoredPidfile, lazy: { dumpLog: `${dir}/dump.log`, ready: LAZY_READY.dumpServing, daemonPidfile } });
    const guard = this.guard;
    // --- end post-copy guard
    this.postcopy = new PostcopyCutover({
      restoreVia: (argv, timeoutMs) => guard.restore(argv, timeoutMs), // post-copy guard
      restoredPidfile, // post-copy guard
      daemonPidfile, // post-copy guard
      plan: this.plan,
      migrationId: this.id,
      dir,
      sourceAddress: this.sourceAddress,
      networkLock: this.networkLock,
      tls: this.tls,
      run: this.run,
      record: (e) => this.deps.record(e),
      setPhase: (p, note) => this.setPhase(p, note),
      copyArgv: (d) => this.copyArgv(d),
      limitLog: (argv) => withLogLimit('ferry-criu', argv),
      fail: async (command, host, r, logPath) => {
        // The lazy dump is post-copy's TLS listener; a stranger that reached it first is named.
        if (command === 'dump' || command === 'lazy-pages') await this.explainRefusedPeer(dir, 'lazy dump');
        return this.fail(command, host, r.code, r.signal, r.stdout, r.stderr, logPath);
      },
      rollbackRequested: () => this.rollbackRequested(),
      onSourceFrozen: () => (this.sourceFrozen = true),
      onRestoreStarted: () => (this.restoreStarted = true),
      onConsoleBytes: (n) => (this.bytesThroughConsole += n),
    });
    const r = await this.postcopy.run();
    this.freezeWindowMs = this.postcopy.freezeWindowMs;
    if (r === 'rollback') return this.rollback('rolled back by the user during cutover');
    return this.verifyAndCommit();
  }

  private async verifyAndCommit(): Promise<Outcome> {
    const { source, target } = this.plan;
    this.setPhase('verify');
    const where = await this.whereIsIt();
    if (where.target !== 'running') {
      throw new FerryError({ code: 'verify-failed', host: target, message: `After restore the process is ${where.target} on ${target}`, hint: 'Ferry resumed the source; read restore.log on the target.' });
    }
    await runHealthCheck(this.run, this.plan);
    if (this.rollbackRequested() && !this.refusedPastPointOfNoReturn()) return this.rollback('rolled back by the user before commit');
    // The target is verified but not yet in service: a failing hook rolls back to the source.
    await this.hookPhase('after-restore', `Ferry rolled back: the process runs on ${source} again and the on-rollback hooks ran to undo the traffic changes. Fix the hook and start again.`);
    if (this.rollbackRequested() && !this.refusedPastPointOfNoReturn()) return this.rollback('rolled back by the user before commit');
    return this.commit();
  }

  private async commit(): Promise<Outcome> {
    const { source, target } = this.plan;
    // Cutover guards: the commit point is the target guard's; refused, the source stays frozen.
    if (this.guard?.active) await this.guard.commit();
    // The frozen copy on the source goes only after the target is verified.
    await this.run.run(source, ['kill', '-KILL', '--', ...this.pids.map(String)]);
    this.sourceFrozen = false;
    await this.guard?.release(); // cutover guards: both exit, their logs journaled
    await dropTls(this.context, this.dir);
    // Bandwidth cap: off at the latest now (a failure is reported, never fatal: the process moved).
    await this.bandwidthCap?.remove().catch((e) =>
      this.deps.record({ type: 'error', migrationId: this.id, error: { ...toErrorInfo(e), hint: `Remove the cap on ${source} by hand: tc qdisc del dev IFACE root handle fe77:` } }),
    );
    // --- service address: CRIU's connection locks on the source are dead rules now.
    await this.serviceAddress?.cleanUpSource().catch(() => undefined);
    if (this.plan.retention === 'delete-on-commit') {
      await this.run.run(source, ['rm', '-rf', '--', this.dir]);
      await this.run.run(target, ['rm', '-rf', '--', this.dir]);
    }
    this.setPhase('committed', `the process runs on ${target}`);
    return 'committed';
  }

  /** Undo whatever this migration did, in the order announced (rollbackSteps, rollback.ts); ends with the source running. */
  async rollback(reason: string): Promise<Outcome> {
    const { source, target } = this.plan;
    await this.live.stop();
    // --- cutover guards: the target guard rolls back first; if it cannot, the hosts settle without the console.
    // Post-copy guard: first the copy on the target is paused and the lazy dump stopped (below),
    // since the target guard's kill of that copy would end the dump as done; unless the console
    // already lost a host, then the guards settle all of it.
    const guardFirst = !this.postcopy || !!this.guard?.lost;
    if (guardFirst && this.guard?.active && (await this.guard.rollback()) === 'handed-over') return this.settledByGuards(reason);
    this.deps.record({ type: 'rollback-plan', migrationId: this.id, steps: rollbackSteps(this.rollbackView), at: this.now() });
    this.setPhase('rolling-back', reason);
    // Each undo step runs whatever the others did; what failed is collected for the summary.
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        problems.push(`${what}: ${toErrorInfo(e).message}`);
      }
    };
    const oursOnTarget = () => oursOn(this.run, target, this.pids, this.takenBeforeRestore);
    if (this.postcopy) {
      // Order matters. The lazy dump takes a clean disconnect of the target's daemon (its copy
      // exited, or every page sent) as success and then kills the source tree. So: pause the
      // copy on the target (one running copy at any moment), kill the dump (CRIU lets the source
      // tree go, memory as at the freeze), and only then kill the copy and the daemon.
      let dumpDone = false;
      await attempt(`pausing the copy on ${target} and stopping the lazy dump on ${source}`, async () => {
        const ours = this.restoreStarted ? await oursOnTarget() : [];
        if (ours.length) await this.run.run(target, ['kill', '-STOP', '--', ...ours]);
        const r = await this.postcopy!.stopDump();
        dumpDone = r?.code === 0;
        if (dumpDone && ours.length) await this.run.run(target, ['kill', '-CONT', '--', ...ours]);
      });
      if (dumpDone) {
        // Every page arrived meanwhile and CRIU killed the source: the copy on the target is the only one.
        this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action: 'rollback refused', reason: this.postcopy.pointOfNoReturn() ?? 'the last page arrived before the rollback could stop it', at: this.now() });
        return this.verifyAndCommit();
      }
      // --- post-copy guard: the copy is paused and the dump stopped: now the target guard kills the copy and aborts.
      if (!guardFirst && this.guard?.active && (await this.guard.rollback()) === 'handed-over') return this.settledByGuards(reason);
    }
    if (this.restoreStarted) {
      await attempt(`stopping the restored tree on ${target}`, async () => {
        const ours = await oursOnTarget();
        if (ours.length) await this.run.run(target, ['kill', '-KILL', '--', ...ours]);
      });
    }
    if (this.postcopy) await attempt(`stopping criu lazy-pages on ${target}`, () => this.postcopy!.stop());
    // A page server still waiting for a pre-dump: stop it by its pidfile.
    await attempt(`stopping the page server on ${target}`, () =>
      this.run.run(target, ['sh', '-c', 'for f in "$1"/*/page-server.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; exit 0', 'ferry-stop-page-server', this.dir]),
    );
    // Leftovers: what the cutover's copy created on the target (nothing that was there before).
    const created = this.createdOnTarget;
    if (created && (created.files.length || created.dirs.length)) {
      await attempt(`removing the files Ferry copied to ${target}`, () => this.run.run(target, removeCreatedArgv(created), { check: true, what: 'removing the copied files' }));
    }
    await attempt(`deleting images on ${target}`, () => this.run.run(target, this.deleteImagesArgv(), { check: true, what: 'deleting the images' }));
    if (this.bandwidthCap) await attempt(`removing the bandwidth cap on ${source}`, () => this.bandwidthCap!.remove()); // bandwidth cap
    // --- service address: back on the source, announced, before it resumes.
    if (this.serviceAddress) await attempt('moving the service address back to the source', () => this.serviceAddress!.moveBack());
    const beforeResume = problems.length;
    if (this.sourceFrozen) {
      await attempt(`resuming the source on ${source}`, () => this.run.run(source, ['kill', '-CONT', '--', ...this.pids.map(String)], { check: true, what: 'resuming the source' }));
    }
    const resumed = problems.length === beforeResume;
    await attempt(`deleting images on ${source}`, () => this.run.run(source, this.deleteImagesArgv(), { check: true, what: 'deleting the images' }));
    // With the process running on the source again, undo the traffic changes (all of them,
    // whatever fails: each hook undoes its own part).
    const hookProblems: string[] = [];
    if (this.hooksStarted && !resumed) {
      // Undoing a drain would send traffic to a process that is not running.
      hookProblems.push(`the on-rollback hooks were not run: the process could not be resumed on ${source}`);
    } else if (this.hooksStarted) {
      for (const r of await runHooks(this.hookContext, 'on-rollback', 'all')) {
        if (r.outcome !== 'ok') hookProblems.push(`${describeHook(this.plan, 'on-rollback', r.hook)} failed (${r.detail ?? r.outcome})`);
      }
    }
    problems.push(...hookProblems);
    const where = await this.whereIsIt().catch(() => undefined);
    // A PID that was taken on the target before restore belongs to someone else.
    const targetClear = where?.target === 'absent' || this.takenBeforeRestore.has(this.plan.pid);
    const ok = where?.source === 'running' && targetClear;
    if (!ok) {
      problems.push(`after rollback the process is ${where?.source ?? 'unknown'} on ${source} and ${where?.target ?? 'unknown'} on ${target}`);
    }
    if (problems.length) {
      // Cutover guards: the console could not finish; the guards still can (the source guard resumes what it finds frozen).
      await this.guard?.handOver(`the console's rollback did not finish (${problems.join('; ')}): the guards settle the rest`);
      this.rollbackProblems = problems;
      this.setPhase('failed', `rollback incomplete: ${problems.join('; ')}`);
      const onlyHooks = resumed && hookProblems.length === problems.length;
      this.deps.record({
        type: 'error',
        migrationId: this.id,
        error: {
          code: 'rollback-incomplete',
          message: `Rollback did not finish cleanly: ${problems.join('; ')}`,
          hint: onlyHooks
            ? `The process runs on ${source} again and nothing of it on ${target}, but traffic may still be drained: run the failed on-rollback hook(s) by hand; \`ferry journal show\` has their output.`
            : 'Check both hosts by hand; `ferry journal show` lists every command that ran.',
        },
      });
      return 'failed';
    }
    this.sourceFrozen = false;
    await this.guard?.release(); // cutover guards
    this.setPhase('rolled-back', reason);
    return 'rolled-back';
  }

  // --- cutover guards: the console handed over; wait for the hosts, journal what the guards did.
  private async settledByGuards(reason: string): Promise<Outcome> {
    const { source, target } = this.plan;
    this.setPhase('rolling-back', `${reason}; handed over to the guards`);
    const waited = await this.guard!.waitSettled();
    const settled = (await this.guard!.release().catch(() => undefined)) ?? waited;
    if (settled === 'source resumed by guard') {
      this.sourceFrozen = false;
      await this.run.run(source, this.deleteImagesArgv()).catch(() => undefined);
      // The guards move the process, not the traffic: undo that here, as a rollback does.
      if (this.serviceAddress) await this.serviceAddress.moveBack().catch(() => undefined);
      if (this.hooksStarted) await runHooks(this.hookContext, 'on-rollback', 'all').catch(() => undefined);
      this.setPhase('rolled-back', `${reason}; the guards settled: the source resumed`);
      return 'rolled-back';
    }
    if (settled === 'target kept by guard') {
      this.sourceFrozen = false;
      if (this.plan.retention === 'delete-on-commit') for (const h of [source, target]) await this.run.run(h, ['rm', '-rf', '--', this.dir]).catch(() => undefined);
      this.rollbackProblems = [`the guards kept the restored copy on ${target} and killed the source copy; the health check and after-restore hooks did not run`];
      this.setPhase('failed', `${reason}; the guards settled: the process runs on ${target}`);
      return 'failed';
    }
    this.rollbackProblems = [`the guards ${settled === 'held by guards' ? 'hold the safe state (source frozen, target as it is)' : 'did not settle while the console waited'}: run \`ferry journal recover ${this.id}\``];
    this.setPhase('failed', `${reason}; ${this.rollbackProblems[0]}`);
    return 'failed';
  }

  /**
   * Finish a migration an earlier engine left unfinished (it crashed or was killed), from
   * what its journal says happened. 'auto' rolls back whenever that is unambiguous; when a
   * restore had started and the process runs on the target, only the user can say whether
   * to keep it (commit) or go back (rollback).
   */
  async recover(state: { finalDumpStarted: boolean; restoreStarted: boolean; hooksStarted?: boolean; cutover?: JournaledCutover; guarded?: boolean }, choice: 'auto' | 'rollback' | 'commit'): Promise<MigrationResult> {
    const { source, target } = this.plan;
    // --- cutover guards: journal what they decided on each host first, and never undo it.
    const settled = state.guarded ? await journalGuards(this.run, (e) => this.deps.record(e), this.id, { source, target }, guardDir(this.plan.workDir, this.id)) : undefined;
    if ((settled === 'source resumed by guard' && choice === 'commit') || (settled === 'target kept by guard' && choice === 'rollback')) {
      throw new FerryError({
        code: 'guard-decided',
        host: settled === 'source resumed by guard' ? source : target,
        message: `The hosts already settled without the console: ${settled}; --${choice} would undo it`,
        hint: `Run \`ferry journal recover ${this.id}\` without --${choice}: it finishes from where the guards left it.`,
      });
    }
    if (settled === 'source resumed by guard') state = { ...state, finalDumpStarted: false };
    // Recovered commit: the journal's numbers for the summary.
    this.recoveredCutover = state.cutover ?? { preDumps: 0 };
    this.freezeWindowMs = state.cutover?.freezeWindowMs;
    this.predictedAtCutover = state.cutover?.predictedMs;
    this.scope = state.cutover?.unit;
    const srcPs = parsePs((await this.run.run(source, psArgv, { quiet: true })).stdout);
    // --- post-copy guard: a lazy dump still holds the source tree (ptrace, state t). Commit would cut
    // the target copy off its missing pages; rollback must stop that dump first. Neither is the console's to do blind.
    if (this.plan.mode === 'postcopy' && srcPs.find((p) => p.pid === this.plan.pid)?.state.startsWith('t')) {
      throw new FerryError({
        code: 'postcopy-still-serving',
        host: source,
        message: `PID ${this.plan.pid} on ${source} is still held by criu's lazy dump${state.restoreStarted ? `, which still sends pages to the copy on ${target}` : ''}`,
        hint: state.restoreStarted
          ? `Wait for the dump to send the last page (it then ends the source copy; \`pgrep -a criu\` on ${source}), then run \`ferry journal recover ${this.id}\` again.`
          : `No restore started: stop the lazy dump on ${source} (\`kill -TERM\` the PID that \`grep TracerPid /proc/${this.plan.pid}/status\` names; CRIU lets the tree go), then run \`ferry journal recover ${this.id}\` again.`,
      });
    }
    // --- end post-copy guard
    const tree = processTree(srcPs, this.plan.pid);
    if (tree.length) this.process = { ...tree[0]!, tree, openFiles: [], sessionLeader: tree[0]!.sid === tree[0]!.pid };
    this.sourceFrozen = state.finalDumpStarted;
    this.restoreStarted = state.restoreStarted;
    this.hooksStarted = state.hooksStarted ?? false;
    this.bandwidthCap?.recovering(); // bandwidth cap: may still be on
    const where = await this.whereIsIt();
    this.deps.record({ type: 'decision', migrationId: this.id, by: 'user', action: `recover (${choice})`, reason: `found the process ${where.source} on ${source} and ${where.target} on ${target}`, at: this.now() });
    let outcome: Outcome;
    if (choice === 'commit' || (choice === 'auto' && where.target === 'running' && where.source === 'absent')) {
      if (where.target !== 'running') {
        throw new FerryError({ code: 'cannot-commit', host: target, message: `The process is ${where.target} on ${target}: there is nothing to commit`, hint: 'Recover with --rollback instead.' });
      }
      outcome = await this.commit();
    } else if (choice === 'auto' && this.restoreStarted && where.target !== 'absent') {
      throw new FerryError({
        code: 'recovery-needs-decision',
        host: target,
        message: `A restore had started and PID ${this.plan.pid} is ${where.target} on ${target} while the source is ${where.source}`,
        hint: `Check the copy on ${target}; then run recovery again with --commit (keep it, kill the frozen source) or --rollback (kill it, resume the source).`,
      });
    } else {
      outcome = await this.rollback('recovered from the journal of an interrupted migration');
    }
    // Many migrations at once: the interrupted engine's claims on both hosts go with it.
    await Claims.releaseAll(this.run, [source, target], this.id);
    const summary = endingSummary(this.endingFacts, outcome);
    const committed = outcome === 'committed';
    this.deps.record({ type: 'outcome', migrationId: this.id, outcome, at: this.now(), summary, ...(committed ? { freezeWindowMs: this.freezeWindowMs, predictedMs: this.predictedAtCutover } : {}) });
    return { migrationId: this.id, outcome, iterations: this.iterations, bytesThroughConsole: 0, ...(committed ? { freezeWindowMs: this.freezeWindowMs, predictedMs: this.predictedAtCutover } : {}) };
  }

  /** Is the tree running, frozen or absent on each host? (the one-place invariant) */
  async whereIsIt(): Promise<{ source: Presence; target: Presence }> {
    const presence = async (host: string): Promise<Presence> => {
      const r = await this.run.run(host, psArgv, { quiet: true });
      const p = parsePs(r.stdout).find((x) => x.pid === this.plan.pid);
      if (!p || p.state.startsWith('Z')) return 'absent';
      // T: stopped (--leave-stopped); t: held by a tracer (a lazy dump serving its pages).
      return /^[Tt]/.test(p.state) ? 'frozen' : 'running';
    };
    const [source, target] = await Promise.all([presence(this.plan.source), presence(this.plan.target)]);
    return { source, target };
  }

  // --- What the protocol above calls ------------------------------------------------------------
  // Each names the concern it serves; the bigger concerns live in the files beside this one
  // (measurements, restore-watch, rollback, ending, criu-failure, health-check, tls, ...).

  /** What the ending and its summary are read from (ending.ts). */
  private get endingFacts(): EndingFacts {
    return {
      plan: this.plan,
      phase: this.phase,
      postcopy: this.postcopy,
      rollbackProblems: this.rollbackProblems,
      sourceFrozen: this.sourceFrozen,
      scope: this.scope,
      freezeWindowMs: this.freezeWindowMs,
      predictedAtCutover: this.predictedAtCutover,
      recoveredCutover: this.recoveredCutover,
      iterations: this.iterations,
    };
  }

  // --- Many migrations at once -----------------------------------------------------------------
  /**
   * Before preflight: resolve the plan's selector on the source, claim the process there (one
   * migration of a PID at a time) and reserve a free port pair on the host that will listen.
   * Journaled as 'plan-resolved'; everything after uses the resolved PID and port.
   */
  private async claimHosts(): Promise<void> {
    const { source, target } = this.plan;
    const listener = this.plan.mode === 'postcopy' ? source : target;
    for (const host of new Set([source, target])) {
      // Claims live under /run: root's. Preflight checks privilege in full right after.
      if (this.privilege[host]) continue;
      const id = await this.run.run(host, ['id', '-u'], { quiet: true, check: true, what: 'checking the user' });
      this.privilege[host] = id.stdout.trim() === '0' ? 'root' : 'sudo';
    }
    const pid = await resolveSelector(this.run, this.plan);
    this.claims = new Claims({
      run: this.run,
      migrationId: this.id,
      ctx: this.deps.claims ?? localClaimContext(() => undefined),
      note: (action, reason) => this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action, reason, at: this.now() }),
    });
    await this.claims.claimProcess(source, pid);
    // Post-copy: the lazy dump listens on the source, the target guard on the target (P + 1).
    const port =
      this.plan.mode === 'postcopy'
        ? await this.claims.reservePortsOnBoth(source, target, portRangeOf(this.plan))
        : await this.claims.reservePorts(listener, portRangeOf(this.plan));
    this.plan = { ...this.plan, pid, pageServerPort: port };
    this.resolved = true;
    const range = portRangeOf(this.plan);
    this.deps.record({
      type: 'plan-resolved',
      migrationId: this.id,
      pid,
      pageServerPort: port,
      at: this.now(),
      note: `${this.plan.select ? `${describeSelector({ pid: 0, select: this.plan.select })} is PID ${pid} on ${source}; ` : ''}PID ${pid} claimed on ${source}; ports ${port}-${port + 1} (of ${range.first}-${range.last}) reserved on ${this.plan.mode === 'postcopy' ? `${source} for the lazy dump and ${target} for the cutover guard` : `${listener} for the page server`}`,
    });
  }

  /** At the end (commit, rollback, error): give the claims back. A failure is journaled, never fatal. */
  private async releaseClaims(): Promise<void> {
    if (!this.claims) return;
    const problems = await this.claims.release();
    this.claims = undefined;
    if (problems.length) {
      this.deps.record({
        type: 'error',
        migrationId: this.id,
        error: { code: 'claim-release-failed', message: `Could not release this migration's claims: ${problems.join('; ')}`, hint: `Remove the files naming ${this.id} under /run/ferry/pids and /run/ferry/ports on those hosts (another migration of the process is refused while they stay).` },
      });
    }
  }
  // --- end many migrations at once ---

  private async startPageServer(i: number): Promise<void> {
    const { target } = this.plan;
    const dir = this.iterDir(i);
    // The parent is the previous pre-dump; a cold dump (or the first pre-dump) has none.
    const hasParent = i > 1 && this.iterations.length > 0;
    this.pageServerPidFile = pageServerPidfile(dir);
    await this.run.run(target, ['mkdir', '-p', '--', dir], { check: true, what: 'creating the image directory' });
    const r = await this.run.run(
      target,
      pageServer({ imagesDir: dir, port: this.plan.pageServerPort, prevImagesDir: hasParent ? `../${i - 1}` : undefined, daemon: true, pidfile: this.pageServerPidFile, log: 'page-server.log', verbosity: 4, tls: this.tls }),
      { timeoutMs: STEP_TIMEOUTS.pageServer },
    );
    if (r.code !== 0) await this.fail('page-server', target, r.code, r.signal, r.stdout, r.stderr, `${dir}/page-server.log`);
  }

  /**
   * Predict the cutover as if it started at `atMs`, and tell the policy's view.
   * `prepared`: the cutover's preparation (page server, checks, guards) is done and the final
   * dump starts now; until then the estimate adds the time it takes, dirtying included.
   */
  private estimate(atMs: number, live = false, prepared = false): void {
    // This link's copy cost, timed now, beats a past run's; the rest comes from history.
    const costs: CutoverCosts | undefined =
      this.learned || this.copyMs !== undefined ? { samples: 1, ...this.learned, ...(this.copyMs !== undefined ? { copyMs: this.copyMs } : {}) } : undefined;
    const liveDirty = this.live.latest(this.iterations[this.iterations.length - 1]?.index);
    this.lastEstimate = estimateDowntime({ iterations: this.iterations, budgetMs: this.plan.policy.downtimeBudgetMs, nowMs: atMs, costs, liveDirty, restoreProbe: this.restoreProbe, prepare: !prepared, mode: this.plan.mode, tree: this.treeShape, movesAddress: !!this.plan.serviceAddress, bandwidthCap: this.plan.bandwidthCap, link: this.link });
    this.lastRecommendation = recommend({ iterations: this.iterations, estimate: this.lastEstimate, policy: this.plan.policy });
    this.deps.record({ type: 'estimate', migrationId: this.id, estimate: this.lastEstimate, recommendation: this.lastRecommendation, ...(live ? { live } : {}) });
  }

  /** The cutover's copy command: files to sync first, then the image dir (tar's --exclude is positional). */
  private copyArgv(imagesDir: string): string[] {
    const rel = (p: string) => p.replace(/^\/+/, '');
    return ['tar', '-C', '/', '-cf', '-', ...this.filesToSync.map(rel), '--exclude=*.log', '--exclude=stats-dump', '--exclude=*.pid', rel(imagesDir)];
  }

  /**
   * The target just before the final dump, outside the freeze: tree PIDs already taken there
   * are someone else's (rollback must spare them); which files to sync the copy will create
   * (a rollback removes those, and only those); whether the restore gets a scope of its own.
   */
  private async inspectTargetBeforeRestore(): Promise<void> {
    const { target } = this.plan;
    await this.noteTakenOnTarget();
    if (this.filesToSync.length) {
      this.createdOnTarget = parseAbsent((await this.run.run(target, absentPathsArgv(this.filesToSync), { check: true, what: 'listing the files to sync absent on the target' })).stdout);
    }
    const systemd = await this.run.run(target, systemdProbeArgv, { quiet: true });
    this.scope = systemd.code === 0 ? scopeUnit(this.id) : undefined;
    this.deps.record({
      type: 'decision',
      migrationId: this.id,
      by: 'policy',
      action: this.scope ? `restore in ${this.scope}.scope` : 'restore without a scope',
      reason: this.scope ? `${target} runs systemd: the restored tree gets a transient scope of its own (systemd-run --scope), not the SSH session's cgroup` : `${target} does not run systemd: the restored tree stays in the cgroup of the SSH session that restores it`,
      at: this.now(),
    });
  }

  /** Before the restore: tree PIDs already taken on the target are someone else's, and rollback must spare them. */
  private async noteTakenOnTarget(): Promise<void> {
    const before = parsePs((await this.run.run(this.plan.target, psArgv, { quiet: true })).stdout);
    this.takenBeforeRestore = new Set(before.map((p) => p.pid).filter((p) => this.pids.includes(p)));
  }

  /** Cutover guards (guard/cutover.ts): one per host, armed just before the freeze. */
  private newGuard(): GuardedCutover {
    const { source, target } = this.plan;
    return new GuardedCutover({ run: this.run, record: (e) => this.deps.record(e), migrationId: this.id, source, target, workDir: this.plan.workDir, targetAddress: this.plan.targetAddress, pageServerPort: this.plan.pageServerPort });
  }

  /** Post-copy past its point of no return: a user's rollback is refused (and journaled) instead. */
  private refusedPastPointOfNoReturn(): boolean {
    if (!this.postcopy?.pastPointOfNoReturn) return false;
    this.deps.record({ type: 'decision', migrationId: this.id, by: 'policy', action: 'rollback refused', reason: this.postcopy.pointOfNoReturn()!, at: this.now() });
    return true;
  }

  private get hookContext(): HookContext {
    return { plan: this.plan, migrationId: this.id, run: this.run, record: (e) => this.deps.record(e), env: this.deps.env ?? process.env };
  }

  /** Run a phase's hooks in order; the first failure stops them and becomes the migration's error. */
  private async hookPhase(phase: 'before-cutover' | 'after-restore', then: string): Promise<void> {
    if (!hooksOf(this.plan, phase).length) return;
    this.hooksStarted = true;
    const runs = await runHooks(this.hookContext, phase, 'stop');
    const failed = runs.find((r) => r.outcome !== 'ok');
    if (failed) throw hookError(phase, failed, then);
  }

  // --- Service probe (client-visible downtime) ---------------------------------------------------

  /** Start the plan's service probe, if any: after the before-cutover hooks, before the final dump (waits, bounded, until it runs). */
  private async startServiceProbe(): Promise<void> {
    const probe = this.plan.serviceProbe;
    if (!probe || this.serviceProbe) return;
    this.serviceProbe = new ServiceProbeRun({
      probe,
      run: this.run,
      onLive: (result) => (this.deps.emit ?? (() => undefined))({ type: 'service-probe', migrationId: this.id, result, live: true, at: this.now() }),
    });
    await this.serviceProbe.started();
  }

  /** After commit or rollback: let the probe settle, stop it, journal what it saw (never every attempt). */
  private async finishServiceProbe(): Promise<ServiceProbeResult | undefined> {
    if (!this.serviceProbe) return undefined;
    const result = await this.serviceProbe.finish();
    this.serviceProbe = undefined;
    this.deps.record({ type: 'service-probe', migrationId: this.id, result, at: this.now() });
    return result;
  }
  // --- end service probe ---

  // --- When a CRIU step fails (criu-failure.ts) ---
  /** A page stream failed: if its TLS listener refused a stranger that connected first, say who. */
  private async explainRefusedPeer(dir: string, what: 'page server' | 'lazy dump' = 'page server'): Promise<void> {
    if (!this.tls) return;
    const refused = await refusedPeerFailure(this.context, dir, what);
    if (refused) throw refused;
  }

  /** Turn a failed CRIU command into the diagnosis a user can act on (its log read from the host). */
  private async fail(command: CriuCommandName, host: string, code: number | null, signal: string | null, stdout: string, stderr: string, logPath: string): Promise<never> {
    const log = await tailLog(this.run, host, logPath);
    // Leftovers: a failed CRIU step's rollback keeps the logs in <workDir>/<id>.logs/; the error names that place.
    this.keepLogs = true;
    throw await explainCriuFailure(this.context, this.dir, { command, host, code, signal, stdout, stderr, logPath, log });
  }

  /** Leftovers: delete the images; after a failure keep CRIU's logs first (only the logs). */
  private deleteImagesArgv(): string[] {
    return deleteImagesArgv(this.dir, this.plan.workDir, this.id, this.keepLogs);
  }
}
