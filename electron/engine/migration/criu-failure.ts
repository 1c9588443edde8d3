/**
 * When a CRIU step fails, the error a user can act on: what went wrong, on which host, the
 * line of evidence, and where CRIU's log is kept (a failed step's rollback keeps the logs in
 * `<workDir>/<id>.logs/`, so the error names that place, not the images directory it
 * deletes). A pre-dump or dump that lost its page server is explained from the page server's
 * log and the target's free space; a page stream whose TLS listener refused a stranger that
 * connected first names that stranger. The logs are read from the hosts with recorded
 * commands; reading them never hides the failure.
 */
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import { diagnose, diagnosePageServerDeath, pageServerLost, type CriuCommandName } from '../../criu/index.ts';
import type { CommandRunner } from '../commands/runner.ts';
import { keptLogsDir } from './leftovers.ts';
import { refusedPeer, refusedPeerError } from './tls.ts';

interface FailureContext {
  run: CommandRunner;
  plan: MigrationPlan;
  migrationId: string;
}

/** The last `bytes` of a log on a host ('' when it cannot be read). */
export function tailLog(run: CommandRunner, host: string, file: string, bytes = 262144): Promise<string> {
  return run
    .run(host, ['tail', '-c', String(bytes), '--', file], { quiet: true })
    .then((r) => r.stdout)
    .catch(() => '');
}

/** A failed CRIU command: what it printed and the tail of its log (`log`, read from `host`). */
export interface CriuFailure {
  command: CriuCommandName;
  host: string;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The step's log on `host`, in the migration's work directory `dir`. */
  logPath: string;
  log: string;
}

/** The diagnosis of a failed CRIU step, naming the log where the rollback keeps it. */
export async function explainCriuFailure(ctx: FailureContext, dir: string, f: CriuFailure): Promise<FerryError> {
  const { command, host, code, signal, stdout, stderr, logPath, log } = f;
  const { plan, run } = ctx;
  const kept = (p: string) => p.replace(`${dir}/`, `${keptLogsDir(plan.workDir, ctx.migrationId)}/`);
  const { target } = plan;
  if ((command === 'pre-dump' || command === 'dump') && host === plan.source && pageServerLost(`${log}\n${stderr}`)) {
    // The source saw a broken pipe; what happened is in the page server's log on the target.
    const psLog = `${logPath.slice(0, logPath.lastIndexOf('/'))}/page-server.log`;
    const df = await run.run(target, ['df', '-Pk', '--', plan.workDir], { quiet: true }).catch(() => undefined);
    const freeKiB = df?.code === 0 ? Number(df.stdout.trim().split('\n').pop()?.split(/\s+/)[3]) : undefined;
    const d = diagnosePageServerDeath({ log: await tailLog(run, target, psLog), target, command, logPath: kept(psLog), workDir: plan.workDir, freeKiB: Number.isFinite(freeKiB) ? freeKiB : undefined });
    return new FerryError({ ...d, hint: `${d.hint} The ${command}'s log: ${kept(logPath)} on ${host}.` });
  }
  const d = diagnose({ command, exitCode: code, signal: signal ?? undefined, stdout, stderr, log, host, pid: plan.pid });
  return new FerryError(
    d
      ? { ...d, hint: `${d.hint} CRIU's log: ${kept(logPath)} on ${host}.` }
      : { code: 'criu-failed', host, message: `criu ${command} failed on ${host} (exit ${code ?? signal})`, evidence: (stderr || stdout).trim().split('\n').pop(), hint: `Read ${kept(logPath)} on ${host}.` },
  );
}

/**
 * A page stream failed over TLS: if its listener refused a stranger that connected first, the
 * error that says who (undefined otherwise). Pre-copy's listener is the target's page server;
 * post-copy's, the source's lazy dump.
 */
export async function refusedPeerFailure(ctx: FailureContext, dir: string, what: 'page server' | 'lazy dump'): Promise<FerryError | undefined> {
  const { source, target } = ctx.plan;
  const [listener, expected, log] = what === 'page server' ? [target, source, `${dir}/page-server.log`] : [source, target, `${dir}/dump.log`];
  const r = refusedPeer(await tailLog(ctx.run, listener, log, 65536));
  return r ? refusedPeerError(listener, expected, ctx.plan.pageServerPort, r, log, what) : undefined;
}
