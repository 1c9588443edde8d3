/**
 * Rollback, as the user sees it before it runs: the steps it would take right now, in the
 * order it takes them (the console's rollback preview and the journal's rollback plan), and
 * the pieces of the undo that clear what a migration left on the hosts: its processes on the
 * target (never a PID someone else held there before the restore) and its images (keeping
 * CRIU's logs after a failed CRIU step). The order itself runs in `Migration.rollback`; keep
 * the two in step.
 */
import type { MigrationPlan } from '../../../shared/domain.ts';
import type { CommandRunner } from '../commands/runner.ts';
import { parsePs, psArgv } from '../hosts/ps.ts';
import { describeHook, hooksOf } from './hooks.ts';
import { keepLogsThenDeleteArgv, keptLogsDir } from './leftovers.ts';
import type { PostcopyCutover } from './postcopy.ts';

/** What the migration has done so far, as far as a rollback must undo it. */
export interface RollbackView {
  plan: MigrationPlan;
  migrationId: string;
  /** This migration's work directory (on both hosts). */
  dir: string;
  /** The process tree's PIDs. */
  pids: number[];
  postcopy?: Pick<PostcopyCutover, 'pastPointOfNoReturn' | 'rollbackSteps'>;
  restoreStarted: boolean;
  /** A page server waiting for a dump on the target. */
  pageServerRunning: boolean;
  createdOnTarget?: { files: string[]; dirs: string[] };
  keepLogs: boolean;
  /** TLS keys were installed (they go with the work directory). */
  tls: boolean;
  serviceAddress?: { rollbackSteps(): string[] };
  bandwidthCap?: { rollbackSteps(): string[] };
  sourceFrozen: boolean;
  hooksStarted: boolean;
}

/** What a rollback would do now, in the order `Migration.rollback` does it. */
export function rollbackSteps(v: RollbackView): string[] {
  const { source, target } = v.plan;
  const steps: string[] = [];
  if (v.postcopy?.pastPointOfNoReturn) return [`none: the process exists only on ${target}; rolling back would lose it`];
  if (v.postcopy) steps.push(...v.postcopy.rollbackSteps(v.restoreStarted, v.pids));
  else if (v.restoreStarted) steps.push(`kill whatever the restore started on ${target} (PIDs ${v.pids.join(', ')})`);
  if (v.pageServerRunning) steps.push(`stop the page server on ${target}`);
  if (v.createdOnTarget?.files.length) steps.push(`remove the files Ferry copied to ${target} that were not there before (${v.createdOnTarget.files.join(', ')})`);
  if (v.keepLogs) steps.push(`keep CRIU's logs in ${keptLogsDir(v.plan.workDir, v.migrationId)} on both hosts`);
  steps.push(`delete this migration's images${v.tls ? ' and TLS keys' : ''} on ${target} (${v.dir})`);
  // --- service address: back on the source before it resumes.
  if (v.serviceAddress) steps.push(...v.serviceAddress.rollbackSteps());
  if (v.bandwidthCap) steps.push(...v.bandwidthCap.rollbackSteps()); // bandwidth cap
  if (v.sourceFrozen) steps.push(`resume the frozen process tree on ${source} (kill -CONT ${v.pids.join(' ')})`);
  else steps.push(`leave the process on ${source} running as it is (it was never stopped)`);
  steps.push(`delete this migration's images${v.tls ? ' and TLS keys' : ''} on ${source} (${v.dir})`);
  if (v.hooksStarted) for (const h of hooksOf(v.plan, 'on-rollback')) steps.push(`run ${describeHook(v.plan, 'on-rollback', h)}`);
  return steps;
}

/** Leftovers: delete the images; after a failure keep CRIU's logs first (only the logs). */
export function deleteImagesArgv(dir: string, workDir: string, migrationId: string, keepLogs: boolean): string[] {
  return keepLogs ? keepLogsThenDeleteArgv(dir, keptLogsDir(workDir, migrationId)) : ['rm', '-rf', '--', dir];
}

/** The tree's PIDs present on `host` now, less those taken there before the restore (never ours to kill). */
export async function oursOn(run: CommandRunner, host: string, pids: number[], takenBeforeRestore: Set<number>): Promise<string[]> {
  const present = parsePs((await run.run(host, psArgv, { quiet: true })).stdout).map((p) => p.pid);
  return pids.filter((p) => present.includes(p) && !takenBeforeRestore.has(p)).map(String);
}

