import { describe, expect, it } from 'vitest';
import { newPlan } from '../../../shared/api.ts';
import { deleteImagesArgv, rollbackSteps, type RollbackView } from './rollback.ts';

const plan = newPlan({ source: 'src', target: 'dst', pid: 100, workDir: '/var/lib/ferry', hooks: { beforeCutover: [], afterRestore: [], onRollback: [{ name: 'undrain', on: 'local', argv: ['lb', 'enable'], timeoutMs: 10_000 }] } });
const view = (over: Partial<RollbackView> = {}): RollbackView => ({
  plan,
  migrationId: 'm1',
  dir: '/var/lib/ferry/m1',
  pids: [100, 101],
  restoreStarted: false,
  pageServerRunning: false,
  keepLogs: false,
  tls: false,
  sourceFrozen: false,
  hooksStarted: false,
  ...over,
});

describe('the rollback preview', () => {
  it('during pre-copy: the source was never stopped, only the images go', () => {
    expect(rollbackSteps(view({ pageServerRunning: true, tls: true }))).toEqual([
      'stop the page server on dst',
      "delete this migration's images and TLS keys on dst (/var/lib/ferry/m1)",
      'leave the process on src running as it is (it was never stopped)',
      "delete this migration's images and TLS keys on src (/var/lib/ferry/m1)",
    ]);
  });

  it('after a failed restore: kill what it started, remove what the copy created, keep the logs, resume the source, then the on-rollback hooks', () => {
    const steps = rollbackSteps(view({ restoreStarted: true, sourceFrozen: true, keepLogs: true, hooksStarted: true, createdOnTarget: { files: ['/etc/app.conf'], dirs: [] } }));
    expect(steps[0]).toBe('kill whatever the restore started on dst (PIDs 100, 101)');
    expect(steps[1]).toContain('/etc/app.conf');
    expect(steps[2]).toBe("keep CRIU's logs in /var/lib/ferry/m1.logs on both hosts");
    expect(steps.indexOf('resume the frozen process tree on src (kill -CONT 100 101)')).toBeGreaterThan(2);
    expect(steps[steps.length - 1]).toMatch(/^run the on-rollback hook "undrain" on local/);
  });

  it('post-copy past its point of no return refuses: the only copy is on the target', () => {
    const postcopy = { pastPointOfNoReturn: true, rollbackSteps: () => ['never asked'] };
    expect(rollbackSteps(view({ postcopy }))).toEqual(['none: the process exists only on dst; rolling back would lose it']);
  });

  it('deletes the images, or after a failed CRIU step keeps only the logs beside them', () => {
    expect(deleteImagesArgv('/w/m1', '/w', 'm1', false)).toEqual(['rm', '-rf', '--', '/w/m1']);
    const keep = deleteImagesArgv('/w/m1', '/w', 'm1', true);
    expect(keep.slice(-2)).toEqual(['/w/m1', '/w/m1.logs']);
  });
});
