/**
 * Restore progress: while `criu restore` runs on the target, the user sees the pages loaded
 * against the pages expected and the freeze window's elapsed time against its prediction, and
 * the moment the freeze passes the band's upper edge a policy note says so (Ferry lets the
 * restore finish: stopping it would not shorten the freeze). One recorded follower of
 * `restore.log` on the target counts CRIU's `Read piov` lines (shared/restore-progress.ts);
 * it is stopped as soon as the restore exits and never changes the restore's outcome.
 */
import type { EngineEvent } from '../../../shared/api.ts';
import type { DowntimeEstimate, MigrationPlan } from '../../../shared/domain.ts';
import { formatMs, PAGE_SIZE, type DowntimeEstimateDetail } from '../../../shared/estimate.ts';
import { RestoreLogReader, windowState } from '../../../shared/restore-progress.ts';
import type { ExecResult } from '../../ssh/index.ts';
import type { CommandRunner } from '../commands/runner.ts';

/** How often the pages loaded and the elapsed window are shown. */
const RESTORE_WATCH_INTERVAL_MS = 500;

/**
 * Follow `restoring` (the restore run in `dir` on the plan's target) until it settles; the
 * freeze began at `freezeStart`, `estimate` is the prediction the cutover was decided on.
 * Resolves with the restore's result and the moment it returned (the freeze window's end).
 */
export async function watchRestore(
  ctx: { run: CommandRunner; plan: Pick<MigrationPlan, 'target'>; migrationId: string; record(event: EngineEvent): void },
  estimate: DowntimeEstimate | undefined,
  restoring: Promise<ExecResult>,
  dir: string,
  freezeStart: number,
): Promise<{ result: ExecResult; endedAtMs: number }> {
  const { run, migrationId, record, plan: { target } } = ctx;
  const e = estimate as DowntimeEstimateDetail | undefined;
  const totalPages = e?.totalPages ?? 0;
  const reader = new RestoreLogReader();
  const following = new AbortController();
  const follower = run
    .run(target, ['sh', '-c', 'tail -c +1 -F -- "$1" 2>/dev/null | grep --line-buffered -e "Read piov" -e "Restore finished"', 'ferry-follow-restore', `${dir}/restore.log`], {
      quiet: true,
      signal: following.signal,
      onStdout: (chunk) => reader.feed(chunk.toString('utf8')),
    })
    .catch(() => undefined);
  let done: ExecResult | undefined;
  let endedAtMs = 0;
  let failed: { error: unknown } | undefined;
  const settled = restoring.then(
    (r) => {
      endedAtMs = Date.now();
      done = r;
    },
    (error: unknown) => void (failed = { error }),
  );
  let warned = false;
  let shown = -1;
  let shownAt = -Infinity;
  const report = () => {
    const elapsed = (done ? endedAtMs : Date.now()) - freezeStart;
    const pages = reader.pagesLoaded;
    const label =
      `restore on ${target}: pages loaded, freeze ${formatMs(elapsed)}` + (e ? ` of ${formatMs(e.predictedMs)} predicted (band up to ${formatMs(e.highMs)})` : '');
    if (pages !== shown || elapsed - shownAt >= 1000) {
      shown = pages;
      shownAt = elapsed;
      record({ type: 'transfer', migrationId, label, doneBytes: pages * PAGE_SIZE, ...(totalPages > 0 ? { totalBytes: totalPages * PAGE_SIZE } : {}) });
    }
    if (e && !warned && windowState(elapsed, e) === 'past-band') {
      warned = true;
      record({
        type: 'decision',
        migrationId,
        by: 'policy',
        action: 'restore past its band',
        reason: `The freeze window has lasted ${formatMs(elapsed)}, past the band's upper edge ${formatMs(e.highMs)} (predicted ${formatMs(e.predictedMs)}, budget ${formatMs(e.budgetMs)}): ${pages} of ${totalPages || '?'} pages loaded on ${target}. Ferry lets the restore finish (stopping it now would not shorten the freeze).`,
        at: new Date().toISOString(),
      });
    }
  };
  try {
    while (!done && !failed) {
      report();
      await Promise.race([settled, new Promise((r) => setTimeout(r, RESTORE_WATCH_INTERVAL_MS))]);
    }
    if (failed) throw failed.error;
    // The last lines of the log: give the follower a moment, then the final count.
    for (let i = 0; i < 10 && !reader.complete && done!.code === 0; i++) await new Promise((r) => setTimeout(r, 100));
    report();
  } finally {
    following.abort();
    await follower;
  }
  return { result: done!, endedAtMs };
}
