/**
 * What a failed migration leaves behind, and where a restored process lives, against real
 * CRIU in the lab: a page server that dies on a full disk is diagnosed on the target; CRIU's
 * logs stay where the error says (and only the logs); files the cutover copied are removed at
 * rollback while a file that was there before stays; a restored tree gets a systemd scope of
 * its own that outlives a restart of sshd; and the lab's hosts carry their migration address.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { startWorkload } from '../../lab/index.ts';
import { MigrationService } from '../migrations.ts';
import { engineLab, WORKLOAD_PID } from '../testing/lab.ts';

const lab = engineLab('ferry-leftovers-', 11);
const { env, plan, sh, waitForCounterAbove, expectRunsOnlyOn, migrate } = lab;
const WORK = '/var/lib/ferry';

describe.skipIf(process.env.FERRY_SKIP_LAB === '1').sequential('what a migration leaves behind, against real CRIU', () => {
  lab.useInSuite(() => lab.cleanVms(['/root/ferry-copied', '/root/ferry-before.txt']));

  it('names the address to use when the page server address is wrong, and the lab host carries the right one', async () => {
    await startWorkload({ env, host: 'source', mib: 16, rate: 100, pid: WORKLOAD_PID, name: 'addr' }, lab.hub);
    const service = new MigrationService((alias) => lab.session(alias), () => undefined, env);
    // 10.0.2.15 is the target's user-mode address, which is also the source's own.
    const wrong = await service.preflight(plan({ targetAddress: '10.0.2.15' }));
    const port = wrong.checks.find((c) => c.id === 'page-server-port')!;
    expect(port.status).toBe('fail');
    expect(port.fix).toContain('route from lab-source to 10.0.2.15: local 10.0.2.15');
    expect(port.fix).toContain('--target-address 10.0.0.2');
    // By default (the target's alias) the address the lab wrote into Ferry's ssh_config is used.
    const byDefault = await service.preflight(plan({ targetAddress: 'lab-target' }));
    expect(byDefault.checks.find((c) => c.id === 'page-server-port')).toMatchObject({ status: 'pass', detail: 'lab-source reaches 10.0.0.2:27000' });
    // Budgets under emulation: 300 ms is below what any cutover here can reach.
    expect(byDefault.checks.find((c) => c.id === 'downtime-budget')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/--max-downtime \d+ms/) });
  }, 5 * 60_000);

  it('a page server that dies on a full disk is diagnosed on the target, and only the logs are kept where the error says', async () => {
    const name = 'diskfull';
    await startWorkload({ env, host: 'source', mib: 32, rate: 100, pid: WORKLOAD_PID, name }, lab.hub);
    await waitForCounterAbove('source', name, 0);
    // A small disk at the target's work directory: the first pre-dump's pages do not fit.
    await sh('lab-target', 'mkdir -p "$1" && mount -t tmpfs -o size=4m ferry-full "$1"', WORK);
    try {
      const events: EngineEvent[] = [];
      // The disk check in preflight would stop it: carry on past it, as a user could.
      const service = new MigrationService((alias) => lab.session(alias), (e) => events.push(e), env);
      const { migrationId: id, done } = service.start(plan(), { overrideBlockers: true });
      const r = await done;
      expect(r.outcome).toBe('rolled-back');
      expect(r.error?.code, JSON.stringify(r.error)).toBe('page-server-died');
      expect(r.error?.host).toBe('lab-target');
      expect(r.error?.message).toMatch(/page server on lab-target died during the pre-dump: no space left on lab-target in \/var\/lib\/ferry/);
      const keep = `${WORK}/${id}.logs`;
      expect(r.error?.hint).toContain(`${keep}/1/page-server.log on lab-target`);
      expect(r.error?.hint).toContain(`${keep}/1/pre-dump.log on lab-source`);
      // Only the logs stay, on each host, at the place named; the images are gone.
      const target = await sh('lab-target', 'cd "$1" && find . -type f | sort; ls "$2"', keep, WORK);
      expect(target.stdout.trim().split('\n')).toEqual(['./1/page-server.log', `${id}.logs`]);
      const source = await sh('lab-source', 'cd "$1" && find . -type f | sort; ls "$2"', keep, WORK);
      expect(source.stdout.trim().split('\n')).toEqual(['./1/pre-dump.log', `${id}.logs`]);
      await expectRunsOnlyOn('lab-source');
    } finally {
      await sh('lab-target', 'umount "$1"', WORK);
    }
  }, 5 * 60_000);

  it('a failed restore keeps its log; a rollback removes the files the cutover copied and leaves one that was there before', async () => {
    const name = 'copied';
    // One file only on the source (in a directory only the source has), one on both.
    for (const host of ['lab-source', 'lab-target']) await sh(host, 'echo before > /root/ferry-before.txt');
    await sh('lab-source', 'mkdir -p /root/ferry-copied/sub && echo mine > /root/ferry-copied/sub/new.txt');
    await startWorkload({ env, host: 'source', mib: 16, rate: 100, pid: WORKLOAD_PID, name }, lab.hub);
    await waitForCounterAbove('source', name, 0);
    let squatted = false;
    const m = migrate(plan({ fileSync: ['/root/ferry-copied/sub/new.txt', '/root/ferry-before.txt'] }), (e, control) => {
      if (e.type !== 'estimate' || squatted) return;
      squatted = true;
      // After preflight passed, something else takes the workload's PID on the target: the restore fails.
      void sh('lab-target', 'echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid; setsid sleep 6000 </dev/null >/dev/null 2>&1 & echo $!', String(WORKLOAD_PID)).then(() => control('cutover-now'));
    });
    const r = await m.done;
    expect(r.outcome).toBe('rolled-back');
    expect(r.error?.code).toBe('pid-taken');
    const keep = `${WORK}/${m.id}.logs`;
    const restoreLog = r.error?.hint?.match(new RegExp(`${keep}/\\d+/restore\\.log`))?.[0];
    expect(restoreLog, r.error?.hint).toBeDefined();
    const log = await sh('lab-target', 'cat "$1"', restoreLog!);
    expect(log.stdout).toMatch(/Can't fork for 50000: File exists/);
    // What the copy created on the target is gone (the workload's .out file, the new file and
    // their directories); the file that was there before stays.
    const after = await sh('lab-target', 'for p; do [ -e "$p" ] && echo "present $p"; done; cat /root/ferry-before.txt', '/root/ferry-copied', `/var/lib/ferry-workload/${name}.out`, '/var/lib/ferry-workload');
    expect(after.stdout.trim()).toBe('before');
    const steps = m.events.flatMap((e) => (e.type === 'rollback-plan' ? e.steps : []));
    expect(steps.join('\n')).toContain('/root/ferry-copied/sub/new.txt');
    expect(steps.join('\n')).not.toMatch(/remove the files[^\n]*ferry-before/);
  }, 5 * 60_000);

  it('the restored tree runs in a systemd scope of its own, named after the migration, and outlives a restart of sshd', async () => {
    const name = 'scope';
    await startWorkload({ env, host: 'source', mib: 16, rate: 100, pid: WORKLOAD_PID, name }, lab.hub);
    const before = await waitForCounterAbove('source', name, 0);
    // The default address: the target's alias, resolved to the lab's private link.
    const m = migrate(plan({ targetAddress: 'lab-target' }), (e, control) => {
      if (e.type === 'estimate') control('cutover-now');
    });
    const r = await m.done;
    expect(r.error).toBeUndefined();
    expect(r.outcome).toBe('committed');
    const unit = `ferry-${m.id}.scope`;
    const cg = await sh('lab-target', 'cat /proc/$1/cgroup; systemctl is-active "$2"', String(WORKLOAD_PID), unit);
    expect(cg.stdout).toContain(`0::/system.slice/${unit}\n`);
    expect(cg.stdout.trim().endsWith('active')).toBe(true);
    const outcome = m.events.find((e) => e.type === 'outcome');
    expect(outcome?.type === 'outcome' && outcome.summary).toContain(`systemd unit ${unit} on lab-target`);
    await sh('lab-target', 'systemctl restart ssh');
    const after = await waitForCounterAbove('target', name, before.counter);
    expect(after.verify).toBe('OK');
    expect((await sh('lab-target', 'systemctl is-active "$1"', unit)).stdout.trim()).toBe('active');
    await expectRunsOnlyOn('lab-target');
  }, 5 * 60_000);
});
