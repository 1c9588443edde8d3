/**
 * The plan's health check, run on the target after the restore and before the commit: a
 * command of the user's, a TCP port that must accept a connection on 127.0.0.1 within ten
 * seconds, or an HTTP URL that must answer with the expected status. A failing check is the
 * migration's error, so Ferry rolls back to the source; with no check in the plan only the
 * process's presence on the target is verified.
 */
import type { MigrationPlan } from '../../../shared/domain.ts';
import { FerryError } from '../../../shared/errors.ts';
import type { CommandRunner } from '../commands/runner.ts';
import { STEP_TIMEOUTS } from './limits.ts';

/** Run the plan's health check on its target; throws 'health-check-failed' when it fails. */
export async function runHealthCheck(run: CommandRunner, plan: Pick<MigrationPlan, 'healthCheck' | 'target'>): Promise<void> {
  const hc = plan.healthCheck;
  if (hc.kind === 'none') return;
  const { target } = plan;
  const timeoutMs = hc.timeoutMs ?? STEP_TIMEOUTS.verify;
  const argv =
    hc.kind === 'command'
      ? hc.argv!
      : hc.kind === 'tcp'
        ? ['bash', '-c', 'for i in $(seq 20); do (exec 3<>"/dev/tcp/127.0.0.1/$0") 2>/dev/null && exit 0; sleep 0.5; done; exit 1', String(hc.port)]
        : ['python3', '-c', 'import sys,urllib.request as u\ntry: c=u.urlopen(sys.argv[1],timeout=10).status\nexcept Exception as e: c=getattr(e,"code",0)\nsys.exit(0 if c==int(sys.argv[2]) else 1)', hc.url!, String(hc.expectStatus ?? 200)];
  const r = await run.run(target, argv, { timeoutMs });
  if (r.code !== 0) {
    throw new FerryError({ code: 'health-check-failed', host: target, message: `The health check failed on ${target} (exit ${r.code ?? r.signal})`, evidence: (r.stderr || r.stdout).trim().split('\n').pop(), hint: 'Ferry rolled back to the source. Check what the restored process needs on the target.' });
  }
}
