import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { portFree } from './ports.ts';
import { findLabQemus, vmFiles, waitForSsh } from './vm.ts';

async function freePort(): Promise<number> {
  for (let p = 39000 + Math.floor(Math.random() * 1000); ; p++) if (await portFree(p, 'tcp')) return p;
}

describe('waiting for SSH', () => {
  it('times out with the tail of the serial log in the error', async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-run-'));
    const lines = Array.from({ length: 40 }, (_, i) => `\x1b[0;32m  OK  \x1b[0m line ${i}\r`);
    fs.writeFileSync(vmFiles(runDir, 'source').serialLog, `${lines.join('\n')}\n[  OK  ] Reached target Multi-User System.\n`);
    const err = await waitForSsh({ host: 'source', port: await freePort(), pid: process.pid, runDir, timeoutMs: 1200 }).catch((e) => e);
    expect(err.code).toBe('lab-boot-timeout');
    expect(err.host).toBe('lab-source');
    expect(err.message).toContain('Reached target Multi-User System.');
    expect(err.message).not.toContain('line 5\n');
    expect(err.message).not.toContain('\x1b');
    expect(err.hint).toContain(vmFiles(runDir, 'source').serialLog);
  });

  it('fails at once when qemu is gone', async () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-lab-run-'));
    const err = await waitForSsh({ host: 'target', port: await freePort(), pid: 2 ** 22 + 7, runDir, timeoutMs: 60_000 }).catch((e) => e);
    expect(err.code).toBe('lab-boot-failed');
  });

  it('finds no lab qemu for an unused run dir', () => {
    expect(findLabQemus('/nonexistent/ferry-run')).toEqual([]);
  });
});
