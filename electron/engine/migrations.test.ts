import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { newPlan } from '../../shared/api.ts';
import { createJournal } from './journal/journal.ts';
import { MigrationService } from './migrations.ts';

describe('MigrationService journals', () => {
  const env = { ...process.env, FERRY_HOME: mkdtempSync(path.join(os.tmpdir(), 'ferry-svc-')) };
  const service = new MigrationService(
    () => {
      throw new Error('reading journals needs no host');
    },
    () => undefined,
    env,
  );

  it('answers an unknown migration id with a clear error naming where it looked', () => {
    for (const read of [() => service.report('2026-01-01T00-00-00Z-abcdef'), () => service.runbook('2026-01-01T00-00-00Z-abcdef')]) {
      expect(read).toThrow(expect.objectContaining({ code: 'no-such-journal', hint: expect.stringContaining('ferry journal list') }));
    }
  });

  it('refuses a path where an id belongs', () => {
    expect(() => service.report('../../etc/passwd')).toThrow(/Not a migration id/);
  });

  it('refuses to recover a migration that does not exist', async () => {
    await expect(service.recover('2026-01-01T00-00-00Z-abcdef')).rejects.toMatchObject({ code: 'no-such-journal' });
  });
});

describe('the dirty-rate probe and migrations of the same PID', () => {
  const env = { ...process.env, FERRY_HOME: mkdtempSync(path.join(os.tmpdir(), 'ferry-probe-')) };
  const noHost = () => {
    throw new Error('the probe reached a host');
  };
  // A migration another engine left past its first pre-dump (its journal, unfinished).
  const plan = newPlan({ source: 'src', target: 'dst', pid: 4242 });
  const j = createJournal(plan, { env });
  j.append({ type: 'phase', migrationId: j.id, phase: 'precopy', at: new Date().toISOString() });
  j.append({ type: 'command-started', commandId: 'c1', migrationId: j.id, host: 'src', argv: ['criu', 'pre-dump', '-t', '4242', '-D', '/var/lib/ferry/x/1', '--track-mem'], sudo: false, startedAt: new Date().toISOString() });
  j.close();

  it('is refused before any command runs, naming the migration and why', async () => {
    const service = new MigrationService(noHost, () => undefined, env);
    const got = service.measureDirtyRate('src', 4242, 5);
    await expect(got).rejects.toMatchObject({ code: 'dirty-probe-refused', host: 'src', message: expect.stringContaining(j.id) });
    await expect(got).rejects.toMatchObject({ message: expect.stringMatching(/erase CRIU's tracking/) });
  });

  it('is not refused for another PID or another host (it goes on to the host)', async () => {
    const service = new MigrationService(noHost, () => undefined, env);
    await expect(service.measureDirtyRate('src', 4243, 5)).rejects.toThrow('the probe reached a host');
    await expect(service.measureDirtyRate('other', 4242, 5)).rejects.toThrow('the probe reached a host');
  });

  it('is refused by the CLI too, with the hint on the next step', async () => {
    const r = await execa('node', [path.resolve('electron/cli/bin.js'), 'dirty-rate', '--host', 'src', '--pid', '4242', '--seconds', '2'], { env, reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Refusing to measure the dirty rate of PID 4242 on src/);
    expect(r.stderr).toMatch(/next:|hint|recover|roll/i);
  });
});
