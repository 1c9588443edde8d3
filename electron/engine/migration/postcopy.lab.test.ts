/**
 * Post-copy (CRIU lazy pages) against real CRIU 3.17.1 in the lab. The demo workload touches
 * every page every second; criu 3.17's background prefetch runs only when no fault is
 * pending, so with the workload running the transfer crawls (LAB.md). The test therefore
 * pauses the restored process on the target (kill -STOP) once it runs there, lets every
 * page arrive, and resumes it (kill -CONT) before the engine looks at it for verification.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import type { MigrationPlan, RollbackPreview } from '../../../shared/domain.ts';
import { startWorkload } from '../../lab/index.ts';
import type { HostSession } from '../../ssh/index.ts';
import { journalPath, readJournal, replay } from '../journal/journal.ts';
import { psArgv } from '../hosts/ps.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';

const lab = engineLab('ferry-postcopy-', 5);
const { env, sh, pidsOn, waitForCounterAbove, expectRunsOnlyOn, migrate } = lab;

const plan = (over: Partial<MigrationPlan> = {}) => lab.plan({ mode: 'postcopy', ...over });

/** No criu (dump, lazy-pages, restore) left on either host. */
async function expectNoCriuLeft() {
  for (const alias of ['lab-source', 'lab-target']) {
    const r = await lab.session(alias).exec(['pgrep', '-a', 'criu']);
    expect(r.stdout.trim(), `criu left on ${alias}`).toBe('');
  }
}

const isPostcopyProgress = (e: EngineEvent): e is Extract<EngineEvent, { type: 'transfer' }> => e.type === 'transfer' && e.label.startsWith('post-copy');

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('post-copy against real CRIU', () => {
  lab.useInSuite();

  it('migrates the workload in post-copy: runs on the target at once, every page follows, memory verifies', async () => {
    const name = 'postcopy';
    await startWorkload({ env, host: 'source', mib: 64, rate: 1000, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);

    // Pause the restored process while pages still come (see the header), and resume it
    // right before the engine first looks at it after the transfer (its verify step).
    let paused: Promise<unknown> | undefined;
    let transferDone = false;
    let resumed = false;
    const target = lab.session('lab-target');
    const gated = new Proxy(target, {
      get(t, prop, recv) {
        if (prop !== 'exec') {
          const v = Reflect.get(t, prop, recv);
          return typeof v === 'function' ? v.bind(t) : v;
        }
        return async (argv: string[], opts?: Parameters<HostSession['exec']>[1]) => {
          if (paused && transferDone && !resumed && argv.join(' ') === psArgv.join(' ')) {
            resumed = true;
            await paused;
            const c = await t.exec(['kill', '-CONT', String(WORKLOAD_PID)]);
            expect(c.code).toBe(0);
          }
          return t.exec(argv, opts);
        };
      },
    });
    let preview: RollbackPreview | undefined;
    const m = migrate(
      plan(),
      (e, _control, service) => {
        if (e.type === 'phase' && e.phase === 'postcopy') {
          paused = target.exec(['kill', '-STOP', String(WORKLOAD_PID)]);
          preview = service.rollbackPreview(e.migrationId);
        }
        if (e.type === 'decision' && e.action === 'post-copy complete') transferDone = true;
      },
      (a) => (a === 'lab-target' ? gated : lab.session(a)),
    );
    const r = await m.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    expect(resumed).toBe(true);

    // The point of no return was announced while pages were still on the source.
    expect(preview?.phase).toBe('postcopy');
    expect(preview?.pointOfNoReturn).toMatch(/pages still come from lab-source/);

    // Progress went up to the total, page by page from CRIU's log, never backwards.
    const progress = m.events.filter(isPostcopyProgress);
    expect(progress.length).toBeGreaterThan(0);
    const last = progress[progress.length - 1]!;
    expect(last.totalBytes).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    expect(last.doneBytes).toBe(last.totalBytes);
    expect(progress.every((e, i) => i === 0 || e.doneBytes >= progress[i - 1]!.doneBytes)).toBe(true);
    expect(r.postcopy?.pagesDone).toBe(r.postcopy?.pagesTotal);
    expect(r.postcopy!.pagesTotal * 4096).toBe(last.totalBytes);

    // Freeze window: lazy dump start -> restored process running; the last page came later.
    expect(r.freezeWindowMs).toBeGreaterThan(0);
    expect(r.postcopy!.lastPageMs).toBeGreaterThan(r.freezeWindowMs!);

    // The counter continues on the target, memory intact; nothing left of it on the source.
    const after = await waitForCounterAbove('target', name, before.counter);
    expect(after.verify).toBe('OK');
    expect(after.bad).toBe(0);
    await expectRunsOnlyOn('lab-target');
    await expectNoCriuLeft();

    const journal = replay(readJournal(journalPath(m.id, { env })).records);
    expect(journal.summary.outcome).toBe('committed');
    expect(journal.phases.map((p) => p.phase)).toEqual(['preflight', 'cutover', 'restore', 'postcopy', 'verify', 'committed']);
  }, 20 * 60_000);

  it('rolls back while pages are still on the source: the target copy is killed and the source runs on intact', async () => {
    const name = 'postcopy-back';
    await startWorkload({ env, host: 'source', mib: 64, rate: 1000, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    let asked = false;
    const m = migrate(plan(), (e, _control, service) => {
      // The running workload faults pages in slowly: plenty of time to change our mind.
      if (isPostcopyProgress(e) && e.doneBytes > 0 && !asked) {
        asked = true;
        queueMicrotask(() => expect(service.control(e.migrationId, 'rollback').accepted).toBe(true));
      }
    });
    const r = await m.done;
    expect(asked).toBe(true);
    const why = JSON.stringify(m.events.filter((e) => e.type === 'error' || e.type === 'rollback-plan' || (e.type === 'phase' && e.phase === 'failed')));
    expect(r.error, why).toBeUndefined();
    expect(r.outcome, why).toBe('rolled-back');
    const plans = m.events.filter((e) => e.type === 'rollback-plan');
    expect(plans.at(-1)?.type === 'rollback-plan' && plans.at(-1)!.steps.join('\n')).toMatch(/stop the lazy dump on lab-source/);
    const after = await waitForCounterAbove('source', name, before.counter);
    expect(after.verify).toBe('OK');
    expect(after.bad).toBe(0);
    await expectRunsOnlyOn('lab-source');
    await expectNoCriuLeft();
    const leftovers = await sh('lab-target', 'ls /var/lib/ferry 2>/dev/null; exit 0');
    expect(leftovers.stdout.trim()).toBe('');
  }, 20 * 60_000);
});
