/**
 * In the lab, many migrations at once: two engines migrate two workloads between the same two
 * hosts at the same time (one named by PID, one by a pidfile), each on its own reserved port
 * pair; a third engine asking for the first PID while it is being migrated is refused, naming
 * the migration that holds it. `ferry ps`'s program lists the candidates first. One lab boot.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api.ts';
import { startWorkload } from '../../lab/index.ts';
import { CommandRunner } from '../commands/runner.ts';
import { listCandidates, resolveSelector } from '../hosts/candidates.ts';
import { readJournal, replay, journalPath } from '../journal/journal.ts';
import { engineLab, FULL_LAB, WORKLOAD_PID } from '../testing/lab.ts';
import type { MigrationResult } from './migration.ts';

const lab = engineLab('ferry-concurrent-', 15);
const { env, plan, waitForCounterAbove, migrate, pidsOn } = lab;
const SECOND_PID = 50100;
const PIDFILE = '/run/ferry-wl-b.pid';

// In the full lab run (npm run test:lab:full). CI's lab covers two migrations between the same
// hosts at once through the evacuation playbook (ansible/evacuate.lab.test.ts), and the refusal
// of a PID already claimed against a real sshd (claims.ssh.test.ts).
describe.skipIf(process.env.FERRY_SKIP_LAB === '1' || !FULL_LAB).sequential('two migrations between the same hosts at once', () => {
  lab.useInSuite(() => lab.cleanVms(['/run/ferry', PIDFILE]));

  it('moves both, each on its own port pair, and refuses the same PID while it is being migrated', async () => {
    await startWorkload({ env, host: 'source', mib: 8, rate: 200, pid: WORKLOAD_PID, name: 'a' }, lab.hub);
    await startWorkload({ env, host: 'source', mib: 8, rate: 200, pid: SECOND_PID, name: 'b' }, lab.hub);
    await lab.sh('lab-source', 'echo "$1" > "$2"', String(SECOND_PID), PIDFILE);
    const a0 = await waitForCounterAbove('source', 'a', 0);
    const b0 = await waitForCounterAbove('source', 'b', 0);

    // ferry ps: one python3 read on the source lists both, with what preflight weighs.
    const run = new CommandRunner(() => undefined, lab.session, () => 'root');
    const listed = await listCandidates(run, 'lab-source');
    for (const pid of [WORKLOAD_PID, SECOND_PID]) {
      const c = listed.find((x) => x.pid === pid);
      expect(c, `PID ${pid} in ferry ps`).toBeDefined();
      expect(c!.sessionLeader).toBe(true);
      expect(c!.tree).toBe(1);
      expect(c!.treeRssKiB).toBeGreaterThan(8 * 1024);
      expect(c!.command).toMatch(/ferry-workload/);
    }

    // A unit selector resolves to the unit's MainPID on the source, the unit ps shows for it.
    const journald = await resolveSelector(run, { source: 'lab-source', pid: 0, select: { kind: 'unit', unit: 'systemd-journald.service' } });
    expect(String(journald)).toBe((await lab.sh('lab-source', 'pidof systemd-journald')).stdout.trim());
    expect(listed.find((c) => c.pid === journald)?.unit).toBe('systemd-journald.service');

    // One pre-dump, then cut over: each engine steers its own migration.
    const oneThenCut = (events: EngineEvent[]) => (e: EngineEvent, control: (a: 'cutover-now') => void) => {
      if (e.type === 'estimate' && !e.live && events.filter((x) => x.type === 'iteration').length >= 1) control('cutover-now');
    };
    const eventsA: EngineEvent[] = [];
    let refused: Promise<MigrationResult> | undefined;
    let refusedId = '';
    const a = migrate(plan(), (e, control) => {
      eventsA.push(e);
      oneThenCut(eventsA)(e, control);
      // While A holds its claim, a third engine asks for the same PID.
      if (e.type === 'plan-resolved' && !refused) {
        const third = migrate(plan());
        refusedId = third.id;
        refused = third.done;
      }
    });
    const eventsB: EngineEvent[] = [];
    const b = migrate(plan({ pid: 0, select: { kind: 'pidfile', path: PIDFILE } }), (e, control) => {
      eventsB.push(e);
      oneThenCut(eventsB)(e, control);
    });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.error, 'migration A').toBeUndefined();
    expect(rb.error, 'migration B').toBeUndefined();
    expect(ra.outcome).toBe('committed');
    expect(rb.outcome).toBe('committed');

    // The refusal named the holder, said it was alive, and changed nothing.
    expect(refused).toBeDefined();
    const rr = await refused!;
    expect(rr.outcome).toBe('failed');
    expect(rr.error?.code).toBe('process-claimed');
    expect(rr.error?.host).toBe('lab-source');
    expect(rr.error?.message).toContain(`PID ${WORKLOAD_PID} on lab-source is already being migrated by migration ${a.id}`);
    expect(rr.error?.message).toContain('its engine is running');
    const jr = replay(readJournal(journalPath(refusedId, { env })).records);
    expect(jr.commands.some((c) => c.argv.includes('criu'))).toBe(false);

    // Both ran at the same time, on distinct port pairs in the default range.
    const resolved = (events: EngineEvent[]) => events.find((e): e is Extract<EngineEvent, { type: 'plan-resolved' }> => e.type === 'plan-resolved')!;
    const pa = resolved(eventsA);
    const pb = resolved(eventsB);
    expect(pb.pid).toBe(SECOND_PID);
    expect(Math.abs(pa.pageServerPort - pb.pageServerPort)).toBeGreaterThanOrEqual(2);
    for (const p of [pa, pb]) expect(p.pageServerPort).toBeGreaterThanOrEqual(27000);
    const ja = replay(readJournal(journalPath(a.id, { env })).records);
    const jb = replay(readJournal(journalPath(b.id, { env })).records);
    const span = (j: typeof ja) => {
      const c = j.commands.filter((x) => x.argv.some((v) => v.endsWith('criu')) && (x.argv.includes('pre-dump') || x.argv.includes('dump')));
      return { from: Date.parse(c[0]!.startedAt), to: Date.parse(c[c.length - 1]!.endedAt!) };
    };
    const [sa, sb] = [span(ja), span(jb)];
    console.log(`A: port ${pa.pageServerPort}, dumps ${new Date(sa.from).toISOString()}..${new Date(sa.to).toISOString()}; B: port ${pb.pageServerPort}, dumps ${new Date(sb.from).toISOString()}..${new Date(sb.to).toISOString()}`);
    // Every page server and dump of each used its own port; the journal replays the resolved plan.
    for (const [j, port] of [[ja, pa.pageServerPort], [jb, pb.pageServerPort]] as const) {
      expect(j.plan?.pageServerPort).toBe(port);
      const criu = j.commands.filter((c) => c.argv.includes('--port'));
      expect(criu.length).toBeGreaterThan(0);
      for (const c of criu) expect(c.argv[c.argv.indexOf('--port') + 1]).toBe(String(port));
    }
    expect(jb.plan?.pid).toBe(SECOND_PID);
    expect(jb.summary.pid).toBe(SECOND_PID);

    // Both verified on the target, nothing left on the source, and every claim released.
    const a1 = await waitForCounterAbove('target', 'a', a0.counter);
    const b1 = await waitForCounterAbove('target', 'b', b0.counter);
    expect(a1.verify).toBe('OK');
    expect(b1.verify).toBe('OK');
    const src = await pidsOn('lab-source');
    expect(src.has(WORKLOAD_PID)).toBe(false);
    expect(src.has(SECOND_PID)).toBe(false);
    for (const host of ['lab-source', 'lab-target']) {
      const left = await lab.sh(host, 'ls -A /run/ferry/pids /run/ferry/ports');
      expect(left.stdout.split('\n').filter((l) => l && !l.endsWith(':')), `claims left on ${host}`).toEqual([]);
    }
  }, 8 * 60_000);
});
