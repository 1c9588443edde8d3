/**
 * The console's side of the wired guards, without a lab: how a source guard's state reads as a
 * settlement, and what the journal makes of the guards' decisions once a console journaled them
 * (`ferry journal list`'s "settled" column, the next step of an unfinished guarded migration).
 * The wiring itself runs against real CRIU in faults.lab.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_HOST, type EngineEvent } from '../../../../shared/api.ts';
import { CommandRunner } from '../../commands/runner.ts';
import { replay } from '../../journal/journal.ts';
import { MIGRATION_ID, convergingEvents } from '../../journal/journal.fixture.ts';
import { GuardedCutover, guardDir, guardPort, settledFrom } from './cutover.ts';
import { fakeRestore, frozenTree, procState, until } from './guard.testing.ts';
import { guardDecisionEvents, parseGuardStatus, type GuardLogEntry } from './guard.ts';

const status = (state: string, leaseLost = true) =>
  parseGuardStatus(`${JSON.stringify({ kind: 'state', found: true, alive: false, role: 'source', state, pid: 1, leaseLost })}\n`);

describe('settledFrom', () => {
  it('reads the source guard: resumed, killed, holding, or still the console’s', () => {
    expect(settledFrom(status('resumed'))).toBe('source resumed by guard');
    expect(settledFrom(status('killed'))).toBe('target kept by guard');
    expect(settledFrom(status('hold'))).toBe('held by guards');
    expect(settledFrom(status('frozen', false))).toBeUndefined();
    expect(settledFrom(status('released'))).toBeUndefined();
    expect(settledFrom(status('frozen', true))).toBe('guards did not settle');
  });

  it('puts the guard beside the images, never inside, and one port above the page server', () => {
    expect(guardDir('/var/lib/ferry', 'abc')).toBe('/var/lib/ferry/abc.guard');
    expect(guardPort(27000)).toBe(27001);
  });
});

describe('the journal of a guarded cutover', () => {
  const guardStart = (host: string) => ({
    type: 'command-started' as const,
    commandId: `g-${host}`,
    migrationId: MIGRATION_ID,
    host,
    argv: ['python3', `/var/lib/ferry/${MIGRATION_ID}.guard/guard.py`, 'start', `/var/lib/ferry/${MIGRATION_ID}.guard`, '--role', host === 'lab-source' ? 'source' : 'target'],
    sudo: false,
    startedAt: new Date().toISOString(),
  });

  it('an unfinished one says the guards settle on their own and recover reads what they did', () => {
    const events = convergingEvents({ stopAfter: 'final-dump' }).map((t) => t.event);
    const r = replay([guardStart('lab-source'), guardStart('lab-target'), ...events].map((event, i) => ({ seq: i, at: new Date().toISOString(), event })) as never, { id: MIGRATION_ID });
    expect(r.summary.finished).toBe(false);
    expect(r.summary.nextStep).toMatch(/^Cutover guards ran on lab-source and lab-target: .*ferry journal recover/);
    expect(r.summary.settled).toBeUndefined();
  });

  it("journaled guard decisions show in the summary as how the hosts settled (ferry journal list's column)", () => {
    const log: GuardLogEntry[] = [
      { at: '2026-11-30T10:00:00.000Z', mono: 1, role: 'source', event: 'lease-lost', ageMs: 10100, state: 'frozen' },
      { at: '2026-11-30T10:00:00.600Z', mono: 2, role: 'source', event: 'command', argv: ['kill', '-CONT', '--', '50000'], code: 0, ms: 3 },
      { at: '2026-11-30T10:00:00.610Z', mono: 3, role: 'source', event: 'state', from: 'frozen', to: 'resumed', why: 'no restore started: the target drops its images, the source copy resumes' },
      { at: '2026-11-30T10:00:00.620Z', mono: 4, role: 'source', event: 'no-answer', peer: '10.0.0.2:27001' },
    ];
    const decisions = guardDecisionEvents(MIGRATION_ID, 'lab-source', log);
    // The repeated no-answer lines are not decisions; the rest are, in the guard's own words.
    expect(decisions.map((d) => d.type === 'decision' && d.action)).toEqual(['guard on lab-source: lease-lost', 'guard on lab-source: ran kill -CONT -- 50000 (exit 0, 3 ms)', 'guard on lab-source: frozen → resumed']);
    const events = [...convergingEvents({ stopAfter: 'final-dump' }).map((t) => t.event), ...decisions, { type: 'decision', migrationId: MIGRATION_ID, by: 'policy', action: 'hosts settled', reason: 'source resumed by guard', at: new Date().toISOString() }];
    const r = replay(events.map((event, i) => ({ seq: i, at: new Date().toISOString(), event })) as never, { id: MIGRATION_ID });
    expect(r.summary.settled).toBe('source resumed by guard');
  });
});

describe('GuardedCutover on this machine (two guard directories, real guards, a real frozen tree)', () => {
  const setup = async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ferry-cutover-'));
    const images = path.join(root, 'images');
    mkdirSync(images);
    const events: EngineEvent[] = [];
    const run = new CommandRunner((e) => events.push(e), () => {
      throw new Error('only the local host here');
    }, () => 'root');
    const tree = frozenTree();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const g = new GuardedCutover({
      run,
      record: (e) => events.push(e),
      migrationId: 'm1',
      source: LOCAL_HOST,
      target: LOCAL_HOST,
      workDir: root,
      targetAddress: '127.0.0.1',
      pageServerPort: port,
      leaseMs: 2000,
      dirs: { source: path.join(root, 'source.guard'), target: path.join(root, 'target.guard') },
    });
    const pidfile = path.join(images, 'restored.pid');
    await g.arm({ pids: [tree.pid!], images, restoredPidfile: pidfile });
    const cleanup = () => {
      for (const pid of [tree.pid, Number(existsSync(pidfile) ? readFileSync(pidfile, 'utf8') : 0)]) {
        try {
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      rmSync(root, { recursive: true, force: true });
    };
    return { root, images, events, run, tree, g, pidfile, cleanup };
  };
  const actions = (events: EngineEvent[]) => events.flatMap((e) => (e.type === 'decision' ? [e.action] : []));

  it('arm, restore through the target guard, commit, release: journaled, and nothing of the guards stays', async () => {
    const t = await setup();
    try {
      expect(t.g.state).toBe('armed');
      const r = await t.g.restore(fakeRestore(t.pidfile), 30_000);
      expect(r.code).toBe(0);
      expect(t.g.state).toBe('restored');
      await t.g.commit();
      process.kill(t.tree.pid!, 'SIGKILL'); // what Migration.commit does on the source
      await t.g.release();
      expect(t.g.state).toBe('released');
      const a = actions(t.events);
      expect(a).toContain('guards armed');
      expect(a).toContain('guard on local: restoring → restored');
      expect(a).toContain('guard on local: committed → released');
      expect(a).not.toContain('hosts settled');
      // The upload is one recorded command whose argv names the file, never the program text.
      const argvs = t.events.flatMap((e) => (e.type === 'command-started' ? [e.argv.join(' ')] : []));
      expect(argvs.some((x) => x.includes('ferry-write-file') && x.endsWith('0600'))).toBe(true);
      expect(argvs.every((x) => x.length < 4000)).toBe(true);
      expect(existsSync(path.join(t.root, 'source.guard')) || existsSync(path.join(t.root, 'target.guard'))).toBe(false);
      // Both guards exited (pgrep exits 1 when nothing matches their directories).
      await until('the guards to exit', () => (spawnSync('pgrep', ['-f', `${t.root}/(source|target).guard/guard.py start`]).status === 1 ? true : undefined), 10_000);
    } finally {
      t.cleanup();
    }
  });

  it("one host's lease dies: the console stops the other, hands over, and the source guard resumes the tree", async () => {
    const t = await setup();
    try {
      // The source's renew command dies as a dropped SSH link would end it.
      execFileSync('pkill', ['-KILL', '-f', `guard.py renew ${path.join(t.root, 'source.guard')}`]);
      await until('the lost lease', () => t.g.lost);
      expect(t.g.lost!.host).toBe(LOCAL_HOST);
      await expect(t.g.restore(fakeRestore(t.pidfile), 30_000)).rejects.toThrow(/lost its lease/);
      expect(await t.g.rollback()).toBe('handed-over');
      expect(await t.g.waitSettled(20_000)).toBe('source resumed by guard');
      expect(procState(t.tree.pid)).toMatch(/^[SR]/);
      expect(existsSync(t.images)).toBe(false); // the target guard dropped what it received
      expect(await t.g.release()).toBe('source resumed by guard');
      expect(actions(t.events)).toEqual(expect.arrayContaining(['lease lost', 'handed over to the guards', 'guard on local: frozen → resumed', 'guard on local: waiting → aborted', 'hosts settled']));
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
