import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
